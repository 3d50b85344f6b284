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
# Then first joins (first_join): oha sends one request over and over, so new
# people joining are measured by `examples/load_client.rs`, a client that signs
# a fresh access token for a new user id before each join; it measures healthz,
# status and join again in the same run, so that every ratio of its table
# compares one client's figures (without oha, only that table is printed).
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

have_oha=1
command -v oha >/dev/null || { have_oha=0; echo "oha is missing (cargo install oha): only the load_client table" >&2; }
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

echo "lineup throughput, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $DURATION per step, $CONNECTIONS connections, HTTPS keep-alive (HTTP/1.1)"
if [ "$have_oha" = 1 ]; then
  echo
  echo '| endpoint  | max req/s | p50 ms | p99 ms | ratio | 80% rate | achieved | p50 ms | p99 ms | errors |'
  echo '|-----------|----------:|-------:|-------:|------:|---------:|---------:|-------:|-------:|-------:|'
  run healthz 200 "$base/healthz"
  run status 200 -H "Authorization: Bearer $waiting_token" "$base/api/v1/queue/status"
  run join 200 -m POST -H "Authorization: Bearer $waiting_access" "$base/api/v1/concerts/$paused/queue"
  run seat_map 200 -H "Authorization: Bearer $active_token" "$base/api/v1/schedules/$schedule/seats"
fi

# One client for all four, first joins included: load_client's JSON per row.
cargo build --quiet --profile "$PROFILE" --example load_client
fresh=$(create_concert Throughput 50 | jq -r .concert_id)
api PUT "/admin/v1/concerts/$fresh/queue" "$admin_token" '{"paused": true}' >/dev/null
load_client() { # method url auth
  LINEUP_TOKEN_KEY="$token_key" "$profile_dir/examples/load_client" "$1" "$2" "$3" "$CONNECTIONS" "${DURATION%s}"
}
echo
echo '| load_client | max req/s | p50 ms | p99 ms | ratio | statuses |'
echo '|-------------|----------:|-------:|-------:|------:|----------|'
client_row() { # name json
  echo "$2" | jq -r --arg name "$1" --argjson base "$client_healthz" \
    '"| \($name) | \(.requests_per_sec | floor) | \(.p50_ms) | \(.p99_ms) | \(.requests_per_sec / $base * 100 | round / 100) | \(.statuses | tojson) |"'
}
healthz_json=$(load_client GET "$base/healthz" none)
client_healthz=$(echo "$healthz_json" | jq .requests_per_sec)
client_row healthz "$healthz_json"
client_row status "$(load_client GET "$base/api/v1/queue/status" "$waiting_token")"
client_row join "$(load_client POST "$base/api/v1/concerts/$paused/queue" "$waiting_access")"
client_row first_join "$(load_client POST "$base/api/v1/concerts/$fresh/queue" fresh)"
