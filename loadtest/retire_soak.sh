#!/usr/bin/env bash
# The retirement soak: a lineup server of its own with LINEUP_RETIRE_AFTER=2s
# runs ROUNDS rounds of CONCERTS short sales (one date of SEATS seats beginning
# START_IN seconds after it is made, USERS people joining each, one of them
# paying for two seats); after each round it waits until every sale is retired
# and prints the server's RSS and Redis's used memory and key count, against
# the baseline measured before the first concert. Retired sales leave memory and
# Redis; their PostgreSQL records stay (docs/BENCHMARKS.md has a run).
#
#   loadtest/retire_soak.sh                          # 5 rounds of 40 sales of 2,000 seats
#   ROUNDS=10 CONCERTS=100 loadtest/retire_soak.sh
#
# Starts `lineup serve` (debug build; PROFILE=release for the optimised one) on
# 127.0.0.1:$PORT (9645) against a fresh database of its own and its own Redis
# prefix, both removed afterwards. Needs python3, redis-cli, psql and the
# services of scripts/services.sh. Redis's used_memory is the whole server's:
# run it on a Redis nothing else writes to meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-9645}
PROFILE=${PROFILE:-dev}
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
db="lineup_retire_soak_$$"
prefix="retire-soak-$$"
admin_token="retire-soak-admin-token-$$-0123456789"

if [ "$PROFILE" = dev ]; then
  cargo build --quiet
  binary=target/debug/lineup
else
  cargo build --quiet --profile "$PROFILE"
  binary=target/$PROFILE/lineup
fi

psql -q -d postgres -c "CREATE DATABASE $db"
LINEUP_DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db" \
LINEUP_TOKEN_KEY="retire-soak-token-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
LINEUP_ADMIN_TOKEN="$admin_token" \
LINEUP_LISTEN="127.0.0.1:$PORT" \
LINEUP_METRICS_LISTEN="127.0.0.1:${METRICS_PORT:-9667}" \
LINEUP_REDIS_PREFIX="$prefix" \
LINEUP_RETIRE_AFTER=2s \
LINEUP_ADMIT_PER_SECOND=1000 \
LINEUP_LIMIT_ADDRESS_RATE=0 \
LINEUP_LIMIT_USER_RATE=0 \
LINEUP_LIMIT_POLL_RATE=0 \
LINEUP_LOG_FORMAT=json \
RUST_LOG=warn \
  "$binary" serve >"/tmp/lineup-retire-soak-$$.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -skf "https://localhost:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
curl -skf "https://localhost:$PORT/readyz" >/dev/null || { cat "/tmp/lineup-retire-soak-$$.log"; exit 1; }

BASE_URL="https://localhost:$PORT" ADMIN_TOKEN="$admin_token" REDIS_PREFIX="$prefix" \
SERVER_PID="$server" DATABASE="$db" \
  python3 loadtest/retire_soak.py
