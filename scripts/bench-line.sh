#!/usr/bin/env bash
# Measures what one Redis primary sustains for one concert's line: the join,
# status and admit scripts of lua/, run by redis-benchmark against a
# redis-server of this script's own on a loopback port (never the shared one),
# all keys under one hash tag as lineup's are. Bounded: a fixed number of
# calls per step. The numbers go to docs/OPERATIONS.md.
#
# Environment:
#   BENCH_PORT     (default 7399) loopback port of the throwaway redis-server
#   BENCH_LINE     (default 1000000) people already waiting when the bench starts
#   BENCH_CALLS    (default 200000) calls per join/status step
#   BENCH_CLIENTS  (default 50) concurrent connections
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BENCH_PORT:-7399}
LINE=${BENCH_LINE:-1000000}
CALLS=${BENCH_CALLS:-200000}
CLIENTS=${BENCH_CLIENTS:-50}
DIR=$(mktemp -d /tmp/lineup-bench-XXXXXX)
cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$DIR" --daemonize yes --logfile "$DIR/redis.log"
trap 'cli shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done

# Each script as lineup sends it: lua/_lib.lua, a newline, the script.
load() { { cat lua/_lib.lua; printf '\n'; cat "lua/$1.lua"; } | cli -x SCRIPT LOAD; }
JOIN=$(load join); STATUS=$(load status); ADMIT=$(load admit)

K='bench:{c:1}'
# A line of $LINE people u:1..u:$LINE, all with order number 1 (so a status
# call with jti 1 takes the real waiting path, ZRANK included).
cli EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], 1, 'u:' .. i) end" 1 "$K:wait" "$LINE" >/dev/null
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), line of $(cli ZCARD "$K:wait") waiting, $CLIENTS clients, $(nproc) cores"

bench() { # name, pipeline depth, then the command
  local name=$1 depth=$2; shift 2
  printf '%-28s' "$name (-P $depth)"
  redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -n "$CALLS" -P "$depth" -r 100000000 -q "$@" \
    | tr '\r' '\n' | grep -o '[0-9.]* requests per second.*' | tail -1
}

for depth in 1 16; do
  # New people joining: a fresh user id each call.
  bench "join" "$depth" EVALSHA "$JOIN" 5 "$K:wait" "$K:active" "$K:jti" "$K:seq" "$K:cfg" "n:__rand_int__" 0 100
  # People in line polling their place.
  bench "status" "$depth" EVALSHA "$STATUS" 4 "$K:wait" "$K:active" "$K:jti" "$K:cfg" "u:__rand_int__" 1 100
done

# Admission: the bucket refilled at a rate no operator would set, so every call
# moves as many people as the time since the last one allows; one client, as a
# server's admit loop is. People moved per second is admit's ceiling.
cli HSET "$K:cfg" admit_per_second 1000000 max_active 1000000000 active_ttl_ms 600000 >/dev/null
before=$(cli ZCARD "$K:active"); start=$(date +%s.%N)
redis-benchmark -h 127.0.0.1 -p "$PORT" -c 1 -n 2000 -q EVALSHA "$ADMIT" 6 "$K:wait" "$K:active" "$K:jti" "$K:cfg" "$K:bucket" "$K:user-res" 100 1000 600000 0 >/dev/null
end=$(date +%s.%N); after=$(cli ZCARD "$K:active")
awk -v n=$((after - before)) -v s="$start" -v e="$end" \
  'BEGIN { printf "admit (1 client)            2000 calls in %.2f s: %d people admitted, %.0f people/s\n", e - s, n, n / (e - s) }'
