#!/usr/bin/env bash
# The fairness measure against a lineup server of its own: PRE people join a
# concert's pre-queue concurrently, the sale opens, POST more join concurrently,
# and everyone is admitted. Reports the Kendall tau distance between arrival and
# admission order after the opening, and how much of the pre-queue was admitted
# in exactly its published draw (recomputed here from the seed, as
# `lineup verify-shuffle` does). Exits non-zero if either is not perfect.
#
#   loadtest/fairness.sh                       # 500 + 500 people, admitted at 200/s
#   PRE=2000 POST=2000 ADMIT_RATE=500 loadtest/fairness.sh
#
# Starts `lineup serve` (debug build; PROFILE=release for the optimised one) on
# 127.0.0.1:$PORT (9643) against a fresh database of its own and its own Redis
# prefix, both removed afterwards. Needs python3, redis-cli, psql and the
# services of scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-9643}
PROFILE=${PROFILE:-dev}
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
db="lineup_fairness_$$"
prefix="fairness-$$"
admin_token="fairness-admin-token-$$-0123456789"

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
# The run is about order, not abuse: the per-address, per-user and per-token limits are off.
LINEUP_DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db" \
LINEUP_TOKEN_KEY="fairness-token-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
LINEUP_SIGNING_KEY_FILES="$signing_key" \
LINEUP_ADMIN_TOKEN="$admin_token" \
LINEUP_LISTEN="127.0.0.1:$PORT" \
LINEUP_METRICS_LISTEN="127.0.0.1:${METRICS_PORT:-9665}" \
LINEUP_REDIS_PREFIX="$prefix" \
LINEUP_LIMIT_ADDRESS_RATE=0 \
LINEUP_LIMIT_USER_RATE=0 \
LINEUP_LIMIT_POLL_RATE=0 \
LINEUP_LOG_FORMAT=json \
RUST_LOG=warn \
  "$binary" serve >"/tmp/lineup-fairness-$$.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" || true
  rm -f "$signing_key"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -skf "https://localhost:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
curl -skf "https://localhost:$PORT/readyz" >/dev/null || { cat "/tmp/lineup-fairness-$$.log"; exit 1; }

BASE_URL="https://localhost:$PORT" ADMIN_TOKEN="$admin_token" REDIS_PREFIX="$prefix" \
  python3 loadtest/fairness.py
