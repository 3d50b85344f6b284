#!/usr/bin/env bash
# Runs the end-to-end tests of the waiting-room pages in headless Chromium
# against a lineup server of its own.
#
#   e2e/run.sh [node --test options or test files...]
#
# Starts the debug build (`target/debug/lineup serve`) on https://localhost:$E2E_PORT
# (9560) with its metrics on $E2E_METRICS_PORT (9561), against a fresh database
# `lineup_e2e` ($E2E_DB) and a Redis key prefix of its own (the outage test also uses
# $E2E_PORT + 2 for a server it kills), then runs e2e/tests/*.test.mjs
# with node's test runner. Screenshots of each state land in e2e/screenshots/.
# The gate test puts nginx (deploy/nginx/) on $E2E_PORT + 3 in front of a
# stand-in origin on $E2E_PORT + 4.
# Needs /usr/bin/chromium (scripts/browser.sh), nginx (scripts/nginx.sh), `npm ci`
# done in e2e/, and the services of scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${E2E_PORT:-9560}
METRICS_PORT=${E2E_METRICS_PORT:-9561}
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
db=${E2E_DB:-lineup_e2e}
prefix="e2e-$$"
admin_token="e2e-admin-token-$$-0123456789"
log="/tmp/lineup-e2e-$$.log"

[ -x /usr/bin/chromium ] || { echo "e2e: /usr/bin/chromium is missing: scripts/browser.sh installs it" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "e2e: nginx is missing: scripts/nginx.sh installs it" >&2; exit 1; }
[ -d e2e/node_modules/playwright-core ] || { echo "e2e: run 'npm ci' in e2e/ first" >&2; exit 1; }

cargo build --quiet
psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"

# The server's settings, exported so a test can start a second server like it
# (tests/outage.test.mjs kills and restarts one).
export LINEUP_DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db"
export LINEUP_TOKEN_KEY="e2e-token-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# A fresh Ed25519 key for queue and admission tokens (`lineup keys generate`).
export LINEUP_SIGNING_KEY_FILES="/tmp/lineup-e2e-$$.pem"
rm -f "$LINEUP_SIGNING_KEY_FILES"
target/debug/lineup keys generate --out "$LINEUP_SIGNING_KEY_FILES" >/dev/null 2>&1
export LINEUP_ADMIN_TOKEN="$admin_token"
# The protected site of tests/gate.test.mjs: nginx on SHOP_PORT in front of a
# stand-in origin on ORIGIN_PORT, sending people back only there.
SHOP_PORT=$((PORT + 3))
ORIGIN_PORT=$((PORT + 4))
export LINEUP_RETURN_TO_ORIGINS="http://localhost:$SHOP_PORT"
export LINEUP_TOKEN_ISSUER="https://localhost:$PORT" LINEUP_TOKEN_AUDIENCE="http://localhost:$SHOP_PORT"
export LINEUP_REDIS_PREFIX="$prefix"
export LINEUP_LOG_FORMAT=json RUST_LOG=warn
# lineup's default abuse limits, whatever the caller's environment says (busy.test.mjs
# starts a server of its own with a slower one).
export LINEUP_LIMIT_USER_RATE=2 LINEUP_LIMIT_USER_BURST=10 LINEUP_LIMIT_ADDRESS_RATE=50 LINEUP_LIMIT_ADDRESS_BURST=100
LINEUP_LISTEN="127.0.0.1:$PORT" LINEUP_METRICS_LISTEN="127.0.0.1:$METRICS_PORT" \
  target/debug/lineup serve >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -f "$LINEUP_SIGNING_KEY_FILES"
}
trap cleanup EXIT

for _ in $(seq 1 150); do
  curl -skf "https://localhost:$PORT/readyz" >/dev/null && break
  sleep 0.2
done
curl -skf "https://localhost:$PORT/readyz" >/dev/null || { echo "e2e: the server did not come up" >&2; cat "$log"; exit 1; }

mkdir -p e2e/screenshots
status=0
if [ "$#" -eq 0 ]; then set -- e2e/tests/*.test.mjs; fi
E2E_BASE_URL="https://localhost:$PORT" E2E_ADMIN_TOKEN="$admin_token" E2E_SCREENSHOTS="$PWD/e2e/screenshots" \
E2E_BINARY="$PWD/target/debug/lineup" E2E_SPARE_PORT=$((PORT + 2)) \
E2E_NGINX="$NGINX" E2E_SHOP_PORT="$SHOP_PORT" E2E_ORIGIN_PORT="$ORIGIN_PORT" \
  node --test --test-concurrency=1 --test-reporter=spec "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "e2e: server log follows" >&2
  tail -n 50 "$log" >&2
fi
rm -f "$log"
exit "$status"
