"""The fairness endpoint with a million joiners (run by loadtest/fairness_endpoint.sh).

Environment: BASE_URL, ADMIN_TOKEN, SERVER_PID, DATABASE, PAGES_DIR, LINEUP (from the
script); JOINERS (1,000,000), DURATION (seconds of each throughput run, 10), THREADS (16).
Standard library only; psql writes the draw.
"""

import concurrent.futures
import datetime
import json
import os
import ssl
import subprocess
import threading
import time
import http.client
import urllib.parse

BASE = os.environ["BASE_URL"]
ADMIN = os.environ["ADMIN_TOKEN"]
PID = os.environ["SERVER_PID"]
JOINERS = int(os.environ.get("JOINERS", 1_000_000))
DURATION = float(os.environ.get("DURATION", 10))
THREADS = int(os.environ.get("THREADS", 16))
TLS = ssl._create_unverified_context()  # the server's certificate is self-signed
HOST = urllib.parse.urlsplit(BASE)


def connection():
    return http.client.HTTPSConnection(HOST.hostname, HOST.port, context=TLS, timeout=300)


def get(conn, path, headers=None):
    """One GET on a kept-alive connection: (status, body bytes, headers, seconds)."""
    started = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    return response.status, body, dict(response.getheaders()), time.perf_counter() - started


def rss_mib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def create_concert():
    opens_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    body = {
        "title": "Fairness endpoint bench",
        "venue": "Bench hall",
        "opens_at": opens_at.isoformat(),
        "schedules": [{
            "starts_at": (opens_at + datetime.timedelta(days=30)).isoformat(),
            "seats": [{"seat_no": 1, "price": 1000}],
        }],
    }
    conn = connection()
    conn.request("POST", "/admin/v1/concerts", body=json.dumps(body),
                 headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    response = conn.getresponse()
    created = json.loads(response.read())
    assert response.status == 201, created
    return created["concert_id"]


def record_draw(concert):
    """A recorded draw of JOINERS random ids, sorted (as lineup records them)."""
    sql = (f"INSERT INTO concert_draws (concert_id, joiners) "
           f"SELECT '{concert}', array_agg(id ORDER BY id) "
           f"FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, {JOINERS})) ids")
    subprocess.run(["psql", "-q", "-d", os.environ["DATABASE"], "-c", sql], check=True)


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def sequential(path, n, headers=None):
    conn = connection()
    times = []
    for _ in range(n):
        status, _, _, seconds = get(conn, path, headers)
        assert status in (200, 304), status
        times.append(seconds)
    return percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000


def throughput(path, headers=None):
    """Calls a second from THREADS kept-alive connections for DURATION seconds."""
    stop = time.perf_counter() + DURATION
    counts = [0] * THREADS
    statuses = set()

    def worker(i):
        conn = connection()
        while time.perf_counter() < stop:
            status, _, _, _ = get(conn, path, headers)
            statuses.add(status)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started), statuses


def main():
    concert = create_concert()
    record_draw(concert)
    path = f"/api/v1/concerts/{concert}/fairness"
    print(f"fairness endpoint, {JOINERS:,} joiners; server RSS before: {rss_mib():.0f} MiB")

    conn = connection()
    status, body, headers, seconds = get(conn, path)
    assert status == 200, body[:200]
    first = json.loads(body)
    assert first["joiners_total"] == JOINERS, first["joiners_total"]
    print(f"first call after the draw (read, shuffle, page): {seconds * 1000:.0f} ms, "
          f"{len(body):,} bytes; RSS after: {rss_mib():.0f} MiB")
    etag = headers["etag"]
    status, body, _, seconds = get(conn, path)
    print(f"second call (from memory): {seconds * 1000:.1f} ms, {len(body):,} bytes")

    p50, p99 = sequential(path, 200)
    print(f"default page, one client: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    rate, statuses = throughput(path)
    print(f"default page, {THREADS} clients: {rate:,.0f} calls/s {sorted(statuses)}")
    p50, p99 = sequential(path, 500, {"If-None-Match": etag})
    print(f"If-None-Match (304), one client: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    rate, statuses = throughput(path, {"If-None-Match": etag})
    print(f"If-None-Match (304), {THREADS} clients: {rate:,.0f} calls/s {sorted(statuses)}")

    # Every page of the largest size, then the command over them.
    conn = connection()
    started = time.perf_counter()
    offset, files, total_bytes = 0, [], 0
    while offset is not None:
        status, body, _, _ = get(conn, f"{path}?offset={offset}&limit=100000")
        assert status == 200, status
        name = os.path.join(os.environ["PAGES_DIR"], f"page-{offset}.json")
        with open(name, "wb") as page:
            page.write(body)
        files.append(name)
        total_bytes += len(body)
        offset = json.loads(body)["next_offset"]
    fetched = time.perf_counter() - started
    print(f"every page of 100,000: {len(files)} calls, {total_bytes:,} bytes in {fetched:.2f} s")
    started = time.perf_counter()
    args = [os.environ["LINEUP"], "verify-shuffle"]
    for name in files:
        args += ["--fairness", name]
    verified = subprocess.run(args, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "drawn_order: matches" in verified.stderr, verified.stderr
    print(f"lineup verify-shuffle over the {len(files)} pages: {time.perf_counter() - started:.2f} s, matches")
    print(f"server RSS at the end: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
