# Sourced by the load scripts: builds lineup and starts it on a database and a
# Redis prefix of its own, stopping it and removing its Redis keys on exit.
#
# In:  PORT (9443), METRICS_PORT (9465), PROFILE (release; dev for the debug
#      build), DB (the database, made anew), EXTRA_ENV (more VAR=value words),
#      LINEUP_BIN (a lineup binary to run instead of building this tree's, for
#      before-and-after figures)
# Out: $profile_dir, $server (pid), $prefix, $admin_token, $token_key, $base, $db_url, $server_log;
#      the functions start_server, api and create_concert

PORT=${PORT:-9443}
METRICS_PORT=${METRICS_PORT:-9465}
PROFILE=${PROFILE:-release}
# Where cargo puts that profile's binaries.
if [ "$PROFILE" = dev ]; then profile_dir=target/debug; else profile_dir=target/$PROFILE; fi
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
prefix="loadtest-$$"
admin_token="loadtest-admin-token-$$-0123456789"
token_key="loadtest-token-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
base="https://localhost:$PORT"
server_log="/tmp/lineup-loadtest-$$.log"

start_server() {
  local bin=${LINEUP_BIN:-$profile_dir/lineup}
  [ -n "${LINEUP_BIN:-}" ] || cargo build --quiet --profile "$PROFILE"
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  db_url="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$DB"
  # shellcheck disable=SC2086 # EXTRA_ENV is a list of VAR=value words
  env LINEUP_DATABASE_URL="$db_url" \
    LINEUP_TOKEN_KEY="$token_key" \
    LINEUP_ADMIN_TOKEN="$admin_token" \
    LINEUP_LISTEN="127.0.0.1:$PORT" \
    LINEUP_METRICS_LISTEN="127.0.0.1:$METRICS_PORT" \
    LINEUP_REDIS_PREFIX="$prefix" \
    LINEUP_LOG_FORMAT=json \
    RUST_LOG=warn \
    ${EXTRA_ENV:-} \
    "$bin" serve >"$server_log" 2>&1 &
  server=$!
  trap stop_server EXIT
  for _ in $(seq 1 100); do
    curl -skf "$base/readyz" >/dev/null && return 0
    sleep 0.1
  done
  cat "$server_log" >&2
  return 1
}

stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
}

# One API call on the server: prints the answer's body, fails on a 4xx/5xx (printing it).
api() { # method path token [body]
  curl -sk --fail-with-body -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
    ${4:+-d "$4"} "$base$2"
}

# Creates a concert on sale since 2020 with one date of SEATS seats; prints the
# answer ({concert_id, schedules}).
create_concert() { # title seats
  api POST /admin/v1/concerts "$admin_token" "$(jq -nc --arg title "$1" --argjson seats "$2" \
    '{title: $title, venue: "Loopback", opens_at: "2020-01-01T00:00:00Z",
      schedules: [{starts_at: "2099-01-01T19:00:00Z",
                   seats: [range(1; $seats + 1) | {seat_no: ., price: 50000}]}]}')"
}
