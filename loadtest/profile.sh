#!/usr/bin/env bash
# Where a status poll's or a first join's time goes: samples the release server
# with `perf record` (software clock, call graphs) while oha polls one waiting
# person's status at a fixed rate (or, with WHAT=first_join, examples/load_client.rs
# joins new people as fast as it goes), then prints the hottest functions, self
# and with children.
#
#   loadtest/profile.sh                    # RATE=8000/s for 15 s
#   WHAT=first_join loadtest/profile.sh
#
# Needs perf (apt-get install linux-perf) and jq; the status poll uses oha at a
# fixed rate when it is installed, else load_client as fast as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-8000}
SECONDS_=${SECONDS_:-15}
DB=lineup_profile
EXTRA_ENV="LINEUP_LIMIT_ADDRESS_RATE=0 LINEUP_LIMIT_USER_RATE=0 LINEUP_LIMIT_POLL_RATE=0"
# shellcheck source=loadtest/server.sh
. loadtest/server.sh
WHAT=${WHAT:-status}
use_oha=0
[ "$WHAT" = status ] && command -v oha >/dev/null && use_oha=1
[ "$use_oha" = 0 ] && cargo build --quiet --profile "$PROFILE" --example load_client
for tool in perf jq; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
start_server

concert=$(create_concert Profile 50 | jq -r .concert_id)
api PUT "/admin/v1/concerts/$concert/queue" "$admin_token" '{"paused": true}' >/dev/null
access=$(api POST /api/v1/users "" "{}" | jq -r .access_token)
token=$(api POST "/api/v1/concerts/$concert/queue" "$access" | jq -r .token)

data=$(mktemp /tmp/lineup-perf.XXXXXX)
perf record -q -e cpu-clock -F 499 -g -p "$server" -o "$data" -- sleep "$SECONDS_" &
recorder=$!
if [ "$WHAT" = first_join ]; then
  LINEUP_TOKEN_KEY="$token_key" "$profile_dir/examples/load_client" POST \
    "$base/api/v1/concerts/$concert/queue" fresh 64 "$SECONDS_" >/dev/null
elif [ "$use_oha" = 0 ]; then
  "$profile_dir/examples/load_client" GET "$base/api/v1/queue/status" "$token" 64 "$SECONDS_" >/dev/null
else
  oha --no-tui --insecure -z "${SECONDS_}s" -c 64 -q "$RATE" -H "Authorization: Bearer $token" \
    "$base/api/v1/queue/status" >/dev/null
fi
wait "$recorder"
echo "== self time, top 25"
perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | cut -c1-200 | head -25
echo "== with children (call graph), top 30"
perf report -i "$data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | cut -c1-160 | head -45
if [ -n "${KEEP:-}" ]; then echo "perf data kept: $data"; else rm -f "$data"; fi
