#!/usr/bin/env bash
# Requests/s, p50 and p99 of lineup's hot endpoints on one server, over HTTPS
# with keep-alive, measured with oha (`cargo install oha`) in one run.
#
#   loadtest/throughput.sh                 # 10 s per step, 64 connections
#   DURATION=20s CONNECTIONS=128 loadtest/throughput.sh
#
# Each endpoint gets two steps: as fast as it goes (the ceiling), then a fixed
# rate of 80% of that ceiling (`oha -q --latency-correction`, so a slow answer
# delays no later request's clock), where p50 and p99 are read. `/healthz` is
# the ceiling of the HTTP stack itself; every other row is also given as its
# ratio to it. The endpoints:
#   healthz    GET /healthz: no Redis, no token
#   status     GET /api/v1/queue/status for a person waiting in line
#   join       POST /api/v1/concerts/{id}/queue by a person already in line
#              (a re-join: the same token check and signing, the join script's
#              reads but none of its writes)
#   seat_map   GET /api/v1/schedules/{id}/seats (50 seats) for an admitted person
# Then first joins: oha sends one request over and over, so new people joining
# are measured by `examples/join_load.rs`, a client that signs a fresh access
# token for a new user id before each join (as many kept-alive connections),
# next to /healthz through that same client; their ratio is the first join's.
# The abuse limits are switched off: every request comes from one address and
# one user. Uses a fresh database `lineup_throughput` and a Redis prefix of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
DB=lineup_throughput
EXTRA_ENV="LINEUP_LIMIT_ADDRESS_RATE=0 LINEUP_LIMIT_USER_RATE=0 LINEUP_LIMIT_POLL_RATE=0 LINEUP_ADMIT_PER_SECOND=1000"
# shellcheck source=loadtest/server.sh
. loadtest/server.sh

command -v oha >/dev/null || { echo "oha is missing: cargo install oha" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 1; }
start_server

# An open concert for the admitted person, a paused one for the waiting person.
open=$(create_concert Throughput 50)
concert=$(echo "$open" | jq -r .concert_id)
schedule=$(echo "$open" | jq -r '.schedules[0].schedule_id')
paused=$(create_concert Throughput 50 | jq -r .concert_id)
api PUT "/admin/v1/concerts/$paused/queue" "$admin_token" '{"paused": true}' >/dev/null

user() { api POST /api/v1/users "" "{}" | jq -r .access_token; }
active_access=$(user)
active_token=$(api POST "/api/v1/concerts/$concert/queue" "$active_access" | jq -r .token)
waiting_access=$(user)
waiting_token=$(api POST "/api/v1/concerts/$paused/queue" "$waiting_access" | jq -r .token)
for _ in $(seq 1 50); do
  [ "$(api GET /api/v1/queue/status "$active_token" | jq -r .status)" = active ] && break
  sleep 0.1
done

# oha's JSON: requests/s and latencies in seconds; anything but the expected
# status counts as an error, except the requests in flight when the step ends.
measure() { # name expected-status rate(0 = as fast as it goes) oha-args...
  local name=$1 expect=$2 rate=$3 out
  shift 3
  local pace=()
  [ "$rate" != 0 ] && pace=(-q "$rate" --latency-correction)
  out=$(oha --no-tui --insecure --output-format json -z "$DURATION" -c "$CONNECTIONS" "${pace[@]}" "$@")
  echo "$out" | jq -r --arg name "$name" --arg expect "$expect" '
    [$name,
     (.summary.requestsPerSec | floor),
     (.latencyPercentiles.p50 * 1000 * 100 | round / 100),
     (.latencyPercentiles.p99 * 1000 * 100 | round / 100),
     ([.statusCodeDistribution | to_entries[] | select(.key != $expect) | .value] | add // 0),
     ([.errorDistribution // {} | to_entries[]
       | select(.key != "aborted due to deadline") | .value] | add // 0)] | @tsv'
}

declare -A ceiling
run() { # name expected-status oha-args...
  local name=$1 expect=$2
  shift 2
  read -r _ rps p50 p99 wrong errors < <(measure "$name" "$expect" 0 "$@")
  ceiling[$name]=$rps
  local rate=$((rps * 8 / 10))
  read -r _ paced_rps paced_p50 paced_p99 paced_wrong paced_errors < <(measure "$name" "$expect" "$rate" "$@")
  local ratio
  ratio=$(awk -v a="$rps" -v b="${ceiling[healthz]}" 'BEGIN { printf "%.2f", a / b }')
  printf '| %-9s | %8s | %6s | %7s | %5s | %8s | %8s | %6s | %7s | %s |\n' \
    "$name" "$rps" "$p50" "$p99" "$ratio" "$rate" "$paced_rps" "$paced_p50" "$paced_p99" \
    "$((wrong + errors + paced_wrong + paced_errors))"
}

echo "lineup throughput, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $DURATION per step, $CONNECTIONS connections, HTTPS keep-alive (HTTP/1.1)"
echo
echo '| endpoint  | max req/s | p50 ms | p99 ms | ratio | 80% rate | achieved | p50 ms | p99 ms | errors |'
echo '|-----------|----------:|-------:|-------:|------:|---------:|---------:|-------:|-------:|-------:|'
run healthz 200 "$base/healthz"
run status 200 -H "Authorization: Bearer $waiting_token" "$base/api/v1/queue/status"
run join 200 -m POST -H "Authorization: Bearer $waiting_access" "$base/api/v1/concerts/$paused/queue"
run seat_map 200 -H "Authorization: Bearer $active_token" "$base/api/v1/schedules/$schedule/seats"

# First joins, into a paused concert of their own: join_load's JSON.
cargo build --quiet --profile "$PROFILE" --example join_load
fresh=$(create_concert Throughput 50 | jq -r .concert_id)
api PUT "/admin/v1/concerts/$fresh/queue" "$admin_token" '{"paused": true}' >/dev/null
join_load() { LINEUP_TOKEN_KEY="$token_key" "$profile_dir/examples/join_load" "$base" "$1" "$CONNECTIONS" "${DURATION%s}"; }
gen_healthz=$(join_load healthz)
gen_join=$(join_load "$fresh")
echo
echo '| join_load  | max req/s | p50 ms | p99 ms | ratio | statuses |'
echo '|------------|----------:|-------:|-------:|------:|----------|'
gen_row() { # name json healthz-rps
  echo "$2" | jq -r --arg name "$1" --argjson base "$3" '"| \($name) | \(.requests_per_sec | floor) | \(.p50_ms) | \(.p99_ms) | \(.requests_per_sec / $base * 100 | round / 100) | \(.statuses | tojson) |"'
}
base_rps=$(echo "$gen_healthz" | jq .requests_per_sec)
gen_row healthz "$gen_healthz" "$base_rps"
gen_row first_join "$gen_join" "$base_rps"
echo
echo "first joins against oha's /healthz ceiling: $(echo "$gen_join" | jq --argjson h "${ceiling[healthz]}" '.requests_per_sec / $h * 100 | round / 100')"
