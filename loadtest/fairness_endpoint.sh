#!/usr/bin/env bash
# The fairness endpoint with a million joiners, over HTTPS against a lineup
# server of its own: the first call after the draw (the list read from
# PostgreSQL and shuffled, once), a page served from memory and a 304
# (latency and calls a second), every page of the draw fetched and checked by
# `lineup verify-shuffle`, and the server's memory before and after.
#
#   loadtest/fairness_endpoint.sh                      # 1,000,000 joiners
#   JOINERS=100000 DURATION=5 loadtest/fairness_endpoint.sh
#
# The draw is written straight into PostgreSQL (a concert opening in an hour,
# whose `concert_draws` row holds JOINERS random ids, sorted as lineup records
# them), so no million sign-ups are needed. Starts `lineup serve` (release build;
# PROFILE=dev for the debug one) on 127.0.0.1:$PORT (9644) against a fresh
# database of its own and its own Redis prefix, both removed afterwards. Needs
# python3, psql and the services of scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-9644}
PROFILE=${PROFILE:-release}
export JOINERS=${JOINERS:-1000000}
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
db="lineup_fairness_endpoint_$$"
prefix="fairness-endpoint-$$"
admin_token="fairness-endpoint-admin-token-$$-0123456789"

if [ "$PROFILE" = dev ]; then
  cargo build --quiet
  binary=target/debug/lineup
else
  cargo build --quiet --profile "$PROFILE"
  binary=target/$PROFILE/lineup
fi

psql -q -d postgres -c "CREATE DATABASE $db"
# A fresh Ed25519 key for queue tokens.
signing_key=$(mktemp /tmp/lineup-fairness-XXXXXX.pem)
rm -f "$signing_key"
"$binary" keys generate --out "$signing_key" >/dev/null 2>&1
LINEUP_DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db" \
LINEUP_TOKEN_KEY="fairness-token-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
LINEUP_SIGNING_KEY_FILES="$signing_key" \
LINEUP_ADMIN_TOKEN="$admin_token" \
LINEUP_LISTEN="127.0.0.1:$PORT" \
LINEUP_METRICS_LISTEN="127.0.0.1:${METRICS_PORT:-9666}" \
LINEUP_REDIS_PREFIX="$prefix" \
LINEUP_LOG_FORMAT=json \
RUST_LOG=warn \
  "$binary" serve >"/tmp/lineup-fairness-endpoint-$$.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" || true
  rm -rf "${pages_dir:-}"
  rm -f "$signing_key"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -skf "https://localhost:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
curl -skf "https://localhost:$PORT/readyz" >/dev/null || { cat "/tmp/lineup-fairness-endpoint-$$.log"; exit 1; }

pages_dir=$(mktemp -d)
BASE_URL="https://localhost:$PORT" ADMIN_TOKEN="$admin_token" SERVER_PID="$server" \
DATABASE="$db" PAGES_DIR="$pages_dir" LINEUP="$binary" \
  python3 loadtest/fairness_endpoint.py
