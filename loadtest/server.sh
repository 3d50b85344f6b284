# Sourced by the load scripts: builds lineup and starts it on a database and a
# Redis prefix of its own, stopping it and removing its Redis keys on exit.
#
# In:  PORT (9443), METRICS_PORT (9465), PROFILE (release; dev for the debug
#      build), DB (the database, made anew), EXTRA_ENV (more VAR=value words)
# Out: $profile_dir, $server (pid), $prefix, $admin_token, $token_key, $base, $db_url, $server_log

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
  cargo build --quiet --profile "$PROFILE"
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
    "$profile_dir/lineup" serve >"$server_log" 2>&1 &
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
