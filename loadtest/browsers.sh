#!/usr/bin/env bash
# A population of browsers against one server (the generator: loadtest/browsers.rs).
#
#   loadtest/browsers.sh poll [LINE] [PEOPLE] [SECONDS]
#       LINE people in one line (admission paused, so places hold still),
#       PEOPLE of them spread over it polling as poll_after_ms says, each on a
#       TLS connection of its own, reconnecting (and resuming) when the server
#       closed it. Prints polls/s, handshakes/s (full, resumed), errors, server
#       CPU per 1,000 polling people and server RSS over the last SECONDS/2.
#       Defaults: 10000 10000 120. EXTRA_ENV passes server settings, e.g.
#       EXTRA_ENV="LINEUP_HTTP1_IDLE_TIMEOUT=5s" for a server that drops idle
#       connections before people poll again.
#   loadtest/browsers.sh memory [CONNECTIONS] [h1|h2]
#       RSS per idle connection: the server's RSS before and after CONNECTIONS
#       connections (each after one request) are held open (idle timeouts at
#       1 h so none closes). Default 19000 h1. A process here may open at most
#       20,000 files, so the connections come from two generator processes.
#   loadtest/browsers.sh handshakes [SECONDS] [WORKERS]
#       Full and resumed TLS 1.3 handshakes per second the server completes:
#       WORKERS clients (32) connect, ask /healthz once and close, for SECONDS
#       (20) with no session to resume, then as long resuming their last one
#       (openssl s_time cannot: it never reads TLS 1.3's tickets).
#       The server's own counts by kind are printed beside.
#   RAMP (poll): seconds over which the browsers' first polls are spread (5).
#
# Measure on a quiet machine: nothing else building or benchmarking.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-poll}
DB=lineup_browsers
EXTRA_ENV="LINEUP_LIMIT_ADDRESS_RATE=0 LINEUP_LIMIT_USER_RATE=0 LINEUP_LIMIT_POLL_RATE=0 LINEUP_MAX_CONNECTIONS=19500 ${EXTRA_ENV:-}"
if [ "$mode" = memory ]; then
  # (An older server took the header read timeout as its HTTP/1.1 idle timeout.)
  EXTRA_ENV="$EXTRA_ENV LINEUP_HTTP1_IDLE_TIMEOUT=1h LINEUP_HTTP2_IDLE_TIMEOUT=1h LINEUP_HEADER_READ_TIMEOUT=1h"
fi
# shellcheck source=loadtest/server.sh
. loadtest/server.sh

# GENERATOR: a generator binary to use instead of building one.
if [ -z "${GENERATOR:-}" ]; then
  cargo build --quiet --profile "$PROFILE" --example browsers
fi
generator=${GENERATOR:-$profile_dir/examples/browsers}
start_server

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }
# The server's CPU time so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
metric() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $2 } END { print s + 0 }'; }
stamp() { echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(git rev-parse --short HEAD)"; }

case "$mode" in
poll)
  LINE=${2:-10000}
  PEOPLE=${3:-10000}
  SECONDS_RUN=${4:-120}
  concert=$(create_concert "Browsers" 1000 | jq -r .concert_id)
  api PUT "/admin/v1/concerts/$concert/queue" "$admin_token" '{"paused": true}' >/dev/null
  out=$(mktemp)
  LINEUP_DATABASE_URL="$db_url" LINEUP_REDIS_PREFIX="$prefix" LINEUP_TOKEN_KEY="$token_key" \
    LINEUP_SIGNING_KEY_FILES="$signing_key" RUST_LOG=warn \
    "$generator" poll "$base" "$concert" "$LINE" "$PEOPLE" "$SECONDS_RUN" >"$out" &
  gen=$!
  # Measure the second half of the run: everyone has made a first poll by then.
  until grep -q interval "$out" 2>/dev/null; do
    kill -0 "$gen" 2>/dev/null || { echo "the generator failed" >&2; exit 1; }
    sleep 1
  done
  sleep $((SECONDS_RUN / 2 - 10))
  t0=$(date +%s.%N); c0=$(cpu_ticks)
  f0=$(metric 'lineup_tls_handshakes_total{kind="full"}'); r0=$(metric 'lineup_tls_handshakes_total{kind="resumed"}')
  sleep $((SECONDS_RUN / 2 - 5))
  t1=$(date +%s.%N); c1=$(cpu_ticks); rss=$(rss_kib)
  f1=$(metric 'lineup_tls_handshakes_total{kind="full"}'); r1=$(metric 'lineup_tls_handshakes_total{kind="resumed"}')
  open=$(metric lineup_connections_open)
  wait "$gen"
  echo
  echo "browsers poll: line $LINE, $PEOPLE polling, ${SECONDS_RUN}s: $(stamp)"
  echo "server settings: ${EXTRA_ENV}"
  grep '"total"' "$out" | jq -c .
  tail -n 3 "$out" | grep interval | tail -n 1 | jq -c '{last_interval: .}'
  awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" -v p="$PEOPLE" \
      -v f0="$f0" -v f1="$f1" -v r0="$r0" -v r1="$r1" -v rss="$rss" -v open="$open" 'BEGIN {
    w = t1 - t0; cpu = (c1 - c0) / hz / w
    printf "server over the last %.0f s: CPU %.3f cores (%.4f cores per 1,000 polling people), RSS %.0f MiB, %d connections open\n", w, cpu, cpu * 1000 / p, rss / 1024, open
    printf "server TLS handshakes: %.1f full/s, %.1f resumed/s\n", (f1 - f0) / w, (r1 - r0) / w }'
  rm -f "$out"
  ;;
memory)
  CONNECTIONS=${2:-19000}
  PROTO=${3:-h1}
  flag=""; [ "$PROTO" = h2 ] && flag=--http2
  # Warm the server up (allocator arenas, TLS, the router) before the baseline.
  "$generator" hold "$base" 200 $flag >/dev/null & warm=$!
  sleep 5; kill "$warm"; wait "$warm" 2>/dev/null || true
  sleep 2
  rss0=$(rss_kib)
  half=$((CONNECTIONS / 2))
  o1=$(mktemp); o2=$(mktemp)
  SOURCES=4 "$generator" hold "$base" "$half" $flag >"$o1" & g1=$!
  SOURCES=4 "$generator" hold "$base" $((CONNECTIONS - half)) $flag >"$o2" & g2=$!
  # Until the server holds them all (or 120 s), then a moment to settle.
  for _ in $(seq 1 120); do
    [ "$(metric lineup_connections_open)" -ge "$CONNECTIONS" ] 2>/dev/null && break
    grep -q ready "$o1" && grep -q ready "$o2" && break
    kill -0 "$g1" && kill -0 "$g2" || { echo "a generator failed" >&2; exit 1; }
    sleep 1
  done
  sleep 5
  rss1=$(rss_kib); open=$(metric lineup_connections_open)
  # An older server has no such gauge: count its sockets.
  [ "$open" -gt 0 ] 2>/dev/null || open=$(( $(ls "/proc/$server/fd" | wc -l) - 20 ))
  kill "$g1" "$g2"; wait "$g1" "$g2" 2>/dev/null || true
  echo
  echo "browsers memory: $CONNECTIONS idle $PROTO connections over TLS: $(stamp)"
  awk -v a="$rss0" -v b="$rss1" -v n="$open" 'BEGIN {
    printf "server RSS %.1f MiB -> %.1f MiB with %d connections open: %.1f KiB per idle connection\n", a / 1024, b / 1024, n, (b - a) / n }'
  rm -f "$o1" "$o2"
  ;;
handshakes)
  SECONDS_RUN=${2:-20}
  WORKERS=${3:-32}
  echo
  echo "TLS handshakes (loadtest/browsers.rs, $WORKERS clients, ${SECONDS_RUN}s each way, client and server on the same cores): $(stamp)"
  for kind in full resumed; do
    f0=$(metric 'lineup_tls_handshakes_total{kind="full"}'); r0=$(metric 'lineup_tls_handshakes_total{kind="resumed"}')
    c0=$(cpu_ticks); t0=$(date +%s.%N)
    report=$("$generator" handshakes "$base" "$WORKERS" "$SECONDS_RUN" "$kind")
    t1=$(date +%s.%N); c1=$(cpu_ticks)
    f1=$(metric 'lineup_tls_handshakes_total{kind="full"}'); r1=$(metric 'lineup_tls_handshakes_total{kind="resumed"}')
    echo "$report" | jq -c .
    awk -v k="$kind" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" \
        -v f="$((f1 - f0))" -v r="$((r1 - r0))" 'BEGIN {
      w = t1 - t0; cpu = (c1 - c0) / hz
      printf "%s: server counted %d full and %d resumed in %.1f s (%.0f/s), server CPU %.2f cores, %.0f us of server CPU per connection\n", k, f, r, w, (f + r) / w, cpu / w, cpu * 1e6 / (f + r) }'
  done
  ;;
*)
  echo "usage: loadtest/browsers.sh poll|memory|handshakes ..." >&2
  exit 2
  ;;
esac
