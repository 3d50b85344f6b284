"""The retirement soak's driver (run by loadtest/retire_soak.sh): ROUNDS rounds,
each creating CONCERTS concerts of one date of SEATS seats that begins
START_IN seconds later, with USERS people joining each (and the first one
holding and paying two seats); then it waits until the server has retired every
one (LINEUP_RETIRE_AFTER is short) and prints the server's RSS and Redis's
memory. The first line is the baseline, measured before any concert exists."""

import concurrent.futures
import datetime
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

BASE = os.environ["BASE_URL"]
ADMIN = os.environ["ADMIN_TOKEN"]
PREFIX = os.environ["REDIS_PREFIX"]
SERVER_PID = os.environ["SERVER_PID"]
DATABASE = os.environ["DATABASE"]
ROUNDS = int(os.environ.get("ROUNDS", "5"))
CONCERTS = int(os.environ.get("CONCERTS", "40"))
SEATS = int(os.environ.get("SEATS", "2000"))
USERS = int(os.environ.get("USERS", "10"))
START_IN = int(os.environ.get("START_IN", "30"))
THREADS = 16
TLS = ssl._create_unverified_context()  # the server's certificate is self-signed


def call(method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, context=TLS, timeout=30) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def rss_kib():
    with open(f"/proc/{SERVER_PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def redis_memory():
    info = subprocess.run(["redis-cli", "-h", "127.0.0.1", "info", "memory"],
                          capture_output=True, text=True, check=True).stdout
    used = next(line for line in info.splitlines() if line.startswith("used_memory:"))
    keys = subprocess.run(["redis-cli", "-h", "127.0.0.1", "--scan", "--pattern", f"{PREFIX}:*"],
                          capture_output=True, text=True, check=True).stdout.split()
    return int(used.split(":")[1]), len(keys)


def live_concerts():
    out = subprocess.run(["psql", "-tAq", "-d", DATABASE, "-c",
                          "SELECT count(*) FROM concerts WHERE retired_at IS NULL"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def report(label):
    used, keys = redis_memory()
    print(f"{label:<12} server RSS {rss_kib() / 1024:8.1f} MiB   Redis used_memory "
          f"{used / 1024 / 1024:7.2f} MiB   keys under the prefix {keys:6d}", flush=True)


def concert_body(starts_at):
    return {
        "title": "Soak night",
        "venue": "Soak hall",
        "opens_at": (datetime.datetime.now(datetime.timezone.utc)
                     - datetime.timedelta(minutes=1)).isoformat(),
        "schedules": [{
            "starts_at": starts_at.isoformat(),
            "seats": [{"seat_no": n, "price": 1000} for n in range(1, SEATS + 1)],
        }],
    }


def create():
    starts_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=START_IN)
    status, created = call("POST", "/admin/v1/concerts", ADMIN, concert_body(starts_at))
    assert status == 201, (status, created)
    return created["concert_id"], created["schedules"][0]["schedule_id"]


def shop(concert, schedule, buyer):
    status, user = call("POST", "/api/v1/users")
    assert status == 201, (status, user)
    token = user["access_token"]
    status, ticket = call("POST", f"/api/v1/concerts/{concert}/queue", token)
    assert status == 201, (status, ticket)
    queue = ticket["token"]
    if not buyer:
        return
    user_id = user["user_id"]
    status, _ = call("POST", f"/api/v1/users/{user_id}/balance/charge", token, {"amount": 2000})
    assert status == 200, status
    for _ in range(200):
        status, ticket = call("GET", "/api/v1/queue/status", queue)
        if ticket["status"] == "active":
            break
        time.sleep(0.05)
    status, held = call("POST", "/api/v1/reservations", queue,
                        {"schedule_id": schedule, "seat_nos": [1, 2]})
    assert status == 201, (status, held)
    status, paid = call("POST", "/api/v1/payments", queue,
                        {"reservation_id": held["reservation_id"], "amount": held["amount"]})
    assert status == 201, (status, paid)


def sale():
    """One sale: made, then USERS people join it, the first one buying."""
    concert, schedule = create()
    for n in range(USERS):
        shop(concert, schedule, n == 0)


def main():
    time.sleep(2)
    report("baseline")
    for round_no in range(1, ROUNDS + 1):
        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda _: sale(), range(CONCERTS)))
        report(f"round {round_no} peak")
        deadline = time.time() + 300
        while live_concerts() > 0:
            assert time.time() < deadline, "concerts were not retired within 5 minutes"
            time.sleep(1)
        time.sleep(1)
        report(f"round {round_no} done")


main()
