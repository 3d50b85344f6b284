"""The fairness measure (run by loadtest/fairness.sh, which starts the server).

Environment: BASE_URL, ADMIN_TOKEN, REDIS_PREFIX (from fairness.sh); PRE, POST
(people before and after the opening, 500 each), ADMIT_RATE (200/s), OPEN_IN
(seconds from the concert's creation to its opening, 10), THREADS (64).

Arrival order is each queue token's jti (the Redis time in microseconds of the
join); admission order is each admission's expiry in the concert's active set
(admission time + active TTL, one value per admit tick), read with redis-cli.
Standard library only.
"""

import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ["BASE_URL"]
ADMIN = os.environ["ADMIN_TOKEN"]
PREFIX = os.environ["REDIS_PREFIX"]
PRE = int(os.environ.get("PRE", 500))
POST = int(os.environ.get("POST", 500))
ADMIT_RATE = int(os.environ.get("ADMIT_RATE", 200))
OPEN_IN = int(os.environ.get("OPEN_IN", 10))
THREADS = int(os.environ.get("THREADS", 64))
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


def sign_up_and_join(concert):
    status, user = call("POST", "/api/v1/users")
    assert status == 201, (status, user)
    status, ticket = call("POST", f"/api/v1/concerts/{concert}/queue", user["access_token"])
    assert status == 201, (status, ticket)
    return user["user_id"], ticket["token"]


def join_concurrently(concert, n):
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda _: sign_up_and_join(concert), range(n)))


def arrival(token):
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["jti"])


def shuffle(seed, joiners):
    """lineup-shuffle-v1 (docs/FAIRNESS.md), written again from the document."""
    order = sorted(set(joiners))
    counter, block, used = 0, b"", 4

    def next_u64():
        nonlocal counter, block, used
        if used == 4:
            block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter, used = counter + 1, 0
        value = int.from_bytes(block[used * 8:used * 8 + 8], "big")
        used += 1
        return value

    for i in range(len(order) - 1, 0, -1):
        bound = i + 1
        excess = (2**64) % bound
        while True:
            x = next_u64()
            if x < 2**64 - excess:
                break
        j = x % bound
        order[i], order[j] = order[j], order[i]
    return order


def discordant_pairs(first, second):
    """Pairs ordered one way by `first` and strictly the other way by `second`
    (ties in `second` agree): merge-sort inversion count, O(n log n)."""
    values = [s for _, s in sorted(zip(first, second))]

    def count(items):
        if len(items) < 2:
            return items, 0
        middle = len(items) // 2
        left, a = count(items[:middle])
        right, b = count(items[middle:])
        merged, inversions, i, j = [], a + b, 0, 0
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                inversions += len(left) - i
                j += 1
        merged += left[i:] + right[j:]
        return merged, inversions

    return count(values)[1]


def distance(first, second):
    n = len(first)
    pairs = max(1, n * (n - 1) // 2)
    d = discordant_pairs(first, second)
    return d, d / pairs


def redis(*args):
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", *args], check=True,
                          capture_output=True, text=True).stdout.split()


def main():
    opens_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=OPEN_IN)
    seats = [{"seat_no": n, "price": 50_000} for n in range(1, PRE + POST + 1)]
    status, created = call("POST", "/admin/v1/concerts", ADMIN, {
        "title": "Fairness run", "venue": "Loopback hall", "opens_at": opens_at.isoformat(),
        "schedules": [{"starts_at": (opens_at + datetime.timedelta(days=30)).isoformat(), "seats": seats}],
    })
    assert status == 201, (status, created)
    concert = created["concert_id"]
    status, _ = call("PUT", f"/admin/v1/concerts/{concert}/queue", ADMIN,
                     {"admit_per_second": ADMIT_RATE, "max_active": PRE + POST})
    assert status == 200
    status, before = call("GET", f"/api/v1/concerts/{concert}/fairness")
    commitment = before["commitment"]

    started = time.time()
    pre = join_concurrently(concert, PRE)
    print(f"{PRE} joined the pre-queue in {time.time() - started:.1f} s", flush=True)
    assert time.time() < opens_at.timestamp(), "the pre-queue joins took past the opening: raise OPEN_IN"
    deadline = time.time() + OPEN_IN + 60
    while True:
        status, report = call("GET", f"/api/v1/concerts/{concert}/fairness")
        if report["seed"] is not None:
            break
        assert time.time() < deadline, "no draw"
        time.sleep(0.2)
    started = time.time()
    post = join_concurrently(concert, POST)
    print(f"{POST} joined after the opening in {time.time() - started:.1f} s", flush=True)

    active_key = f"{PREFIX}:{{c:{concert}}}:active"
    wait_key = f"{PREFIX}:{{c:{concert}}}:wait"
    deadline = time.time() + 60 + (PRE + POST) / ADMIT_RATE
    while int(redis("ZCARD", wait_key)[0]) > 0 or int(redis("ZCARD", active_key)[0]) < PRE + POST:
        assert time.time() < deadline, "not everyone was admitted"
        time.sleep(0.2)
    flat = redis("ZRANGE", active_key, "0", "-1", "WITHSCORES")
    admitted_at = {flat[i]: int(float(flat[i + 1])) for i in range(0, len(flat), 2)}

    seed = bytes.fromhex(report["seed"])
    assert hashlib.sha256(seed).hexdigest() == commitment, "the seed does not match the commitment"
    drawn = shuffle(seed, report["joiners"])
    assert drawn == report["drawn_order"], "the published order differs from the recomputed one"
    assert sorted(report["joiners"]) == sorted(u for u, _ in pre), "the joiners are not the pre-queue"

    post_d, post_tau = distance([arrival(t) for _, t in post], [admitted_at[u] for u, _ in post])
    pre_admissions = [admitted_at[u] for u in drawn]
    pre_d, pre_tau = distance(list(range(PRE)), pre_admissions)
    by_admission = sorted(range(PRE), key=lambda i: (pre_admissions[i], i))
    in_place = sum(1 for place, i in enumerate(by_admission) if place == i)
    token_of = dict(pre)
    _, shuffled_tau = distance([arrival(token_of[u]) for u in drawn], pre_admissions)
    before_later = max(pre_admissions) <= min(admitted_at[u] for u, _ in post)

    print(f"after the opening: {POST} people, Kendall tau distance arrival/admission: "
          f"{post_d} pairs ({post_tau:.4f})")
    print(f"pre-queue: {PRE} people, distance published draw/admission: {pre_d} pairs ({pre_tau:.4f}); "
          f"admitted in their drawn place: {in_place}/{PRE} (share {in_place / PRE:.4f})")
    print(f"pre-queue arrival/admission distance: {shuffled_tau:.4f} (about 0.5 for a uniform shuffle)")
    print(f"the whole pre-queue admitted before anyone who came after the opening: {before_later}")
    ok = post_d == 0 and pre_d == 0 and in_place == PRE and before_later
    print("fairness: OK" if ok else "fairness: FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
