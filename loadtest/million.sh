#!/usr/bin/env bash
# A million people in one line: Redis memory per waiting person, the status
# poll's latency for a person in the middle, the admit tick's time, and the
# server's own memory, which must stay flat (every fact of the line is in Redis).
#
#   loadtest/million.sh                   # 1,000,000 people
#   PEOPLE=100000 loadtest/million.sh     # a smaller line
#
# Steps: start the release server (fresh database `lineup_million`, its own
# Redis prefix, abuse limits off); make a concert with admission paused; put
# PEOPLE in its line with the loader `examples/load_line.rs` (lineup's own join
# script through its queue service, 512 at a time); read Redis memory (once the
# joins' replies, kept 30 s for re-sends, have expired: the line's own cost;
# the figure with them is printed too); poll the
# middle person's status with oha at POLL_RATE/s for POLL_DURATION; admit
# ADMIT_SECONDS worth of people at 10,000/s (a batch of 1,000 per 100 ms tick;
# 1,000 seats x admit_seat_factor 100 leave seat-aware admission room for all)
# and read the admit script's time from the server's own /metrics histogram.
set -euo pipefail
cd "$(dirname "$0")/.."

PEOPLE=${PEOPLE:-1000000}
POLL_RATE=${POLL_RATE:-5000}
POLL_DURATION=${POLL_DURATION:-20s}
ADMIT_SECONDS=${ADMIT_SECONDS:-10}
DB=lineup_million
EXTRA_ENV="LINEUP_LIMIT_ADDRESS_RATE=0 LINEUP_LIMIT_USER_RATE=0 LINEUP_LIMIT_POLL_RATE=0"
# shellcheck source=loadtest/server.sh
. loadtest/server.sh

command -v jq >/dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 1; }
# Without oha, the poll step is examples/load_client.rs with 4 connections as
# fast as it goes (no fixed rate).
have_oha=1
command -v oha >/dev/null || have_oha=0
cargo build --quiet --profile "$PROFILE" --example load_line --example load_client
start_server

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }
redis_used() { redis-cli -h 127.0.0.1 info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r'; }
admin() { api "$1" "$2" "$admin_token" "${3:-}"; }

concert=$(create_concert "A million" 1000 | jq -r .concert_id)
admin PUT "/admin/v1/concerts/$concert/queue" '{"paused": true}' >/dev/null

rss_start=$(rss_kib)
redis_before=$(redis_used)
echo "loading $PEOPLE people into one line..."
loaded=$(LINEUP_DATABASE_URL="$db_url" LINEUP_REDIS_PREFIX="$prefix" LINEUP_TOKEN_KEY="$token_key" LINEUP_SIGNING_KEY_FILES="$signing_key" \
  RUST_LOG=warn "$profile_dir/examples/load_line" "$concert" "$PEOPLE")
redis_loaded=$(redis_used)
# Each join's reply is kept 30 s for a re-send (`once` in lua/_lib.lua): the
# line's own memory is read once those keys are gone.
once_left() { redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*:once:*" | wc -l; }
for _ in $(seq 1 60); do
  [ "$(once_left)" -eq 0 ] && break
  sleep 5
done
redis_after=$(redis_used)
middle_token=$(echo "$loaded" | jq -r .middle_token)
wait_key="$prefix:{c:$concert}:wait"
wait_bytes=$(redis-cli -h 127.0.0.1 memory usage "$wait_key" samples 0)
ticket=$(curl -skf -H "Authorization: Bearer $middle_token" "$base/api/v1/queue/status")

if [ "$have_oha" = 1 ]; then
  poll=$(oha --no-tui --insecure --output-format json -z "$POLL_DURATION" -c 64 -q "$POLL_RATE" \
    --latency-correction -H "Authorization: Bearer $middle_token" "$base/api/v1/queue/status" |
    jq -c '{rate: .summary.requestsPerSec, p50_ms: (.latencyPercentiles.p50 * 1000), p99_ms: (.latencyPercentiles.p99 * 1000), statuses: .statusCodeDistribution, client: "oha, fixed rate"}')
else
  poll=$("$profile_dir/examples/load_client" GET "$base/api/v1/queue/status" "$middle_token" 4 "${POLL_DURATION%s}" |
    jq -c '{rate: .requests_per_sec, p50_ms, p99_ms, statuses, client: "load_client, 4 connections as fast as it goes"}')
fi
rss_polled=$(rss_kib)

admit_metrics() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep 'lineup_redis_script_duration_seconds.*script="admit"'; }
before=$(admit_metrics)
admin PUT "/admin/v1/concerts/$concert/queue" \
  '{"admit_per_second": 10000, "max_active": 1000000, "admit_seat_factor": 100, "paused": false}' >/dev/null
sleep "$ADMIT_SECONDS"
admin PUT "/admin/v1/concerts/$concert/queue" '{"paused": true}' >/dev/null
line=$(admin GET "/admin/v1/concerts/$concert/queue")
after=$(admit_metrics)
rss_end=$(rss_kib)

# The admit runs while admission was on: the histogram's growth over that window.
admit_delta=$(paste -d' ' <(echo "$before") <(echo "$after") | awk '{ print $1, $4 - $2 }')
admit_count=$(echo "$admit_delta" | awk '/_count/ { print $2 }')
admit_sum=$(echo "$admit_delta" | awk '/_sum/ { print $2 }')

echo
echo "lineup, a million in line: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$loaded" | jq -r '"loaded \(.joined) people in \(.seconds | . * 10 | round / 10) s (\(.joins_per_second | floor) joins/s through the join script)"'
awk -v a="$redis_before" -v b="$redis_after" -v n="$PEOPLE" -v w="$wait_bytes" 'BEGIN {
  printf "Redis memory: %.1f MiB more for %d people = %.1f bytes per waiting person (the line ZSET alone: %.1f bytes per person)\n",
    (b - a) / 1048576, n, (b - a) / n, w / n }'
awk -v a="$redis_before" -v b="$redis_loaded" -v n="$PEOPLE" 'BEGIN {
  printf "  right after loading, with the joins'"'"' replies still kept for re-sends (30 s): %.1f bytes per person\n", (b - a) / n }'
echo "the middle person's ticket: $(echo "$ticket" | jq -c '{status, position, estimated_wait_seconds, poll_after_ms}')"
echo "$poll" | jq -r '"status poll of the middle person at \(.rate | floor)/s for '"$POLL_DURATION"' (\(.client)): p50 \(.p50_ms * 100 | round / 100) ms, p99 \(.p99_ms * 100 | round / 100) ms, statuses \(.statuses)"'
echo "admission at 10,000/s for $ADMIT_SECONDS s: $(echo "$line" | jq -c '{waiting, active}')"
awk -v c="$admit_count" -v s="$admit_sum" 'BEGIN { printf "admit script: %d runs, mean %.2f ms\n", c, 1000 * s / c }'
echo "$admit_delta" | grep _bucket | sed 's/.*le="\([^"]*\)"} \(.*\)/  admit runs <= \1 s: \2/'
echo "server memory (RSS): $((rss_start / 1024)) MiB at start, $((rss_polled / 1024)) MiB after loading and polling, $((rss_end / 1024)) MiB after admitting"
