#!/usr/bin/env bash
# Makes Redis and PostgreSQL available on 127.0.0.1 for lineup, then creates its database.
#
# Where a service already answers, it is left alone. Where it does not, it is
# installed with apt (Debian/Ubuntu) if missing and started. Safe to run again.
#
# Environment:
#   REDIS_PORT     (default 6379)
#   PGPORT         (default 5432)
#   PGUSER         (default postgres)
#   PGPASSWORD     (default postgres; set on a cluster this script installs, ignored by trust auth)
#   LINEUP_DB      (default lineup) the database to create
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6379}
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
LINEUP_DB=${LINEUP_DB:-lineup}

say() { printf 'services: %s\n' "$*"; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "installing $* with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Waits up to 30 s for a check command to succeed.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  say "$what did not come up" >&2
  return 1
}

redis_up() {
  command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

ensure_redis() {
  if redis_up; then
    say "Redis answers on 127.0.0.1:$REDIS_PORT"
    return
  fi
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  # No persistence: lineup rebuilds what Redis loses from PostgreSQL.
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir /tmp --logfile /tmp/lineup-redis.log
  wait_for Redis redis_up
}

postgres_up() {
  command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$PGPORT"
}

ensure_postgres() {
  if postgres_up; then
    say "PostgreSQL answers on 127.0.0.1:$PGPORT"
    return
  fi
  local fresh=no
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
    fresh=yes
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    as_root service postgresql start
  wait_for PostgreSQL postgres_up
  if [ "$fresh" = yes ]; then
    # A new cluster lets only the postgres OS user in; give the role the
    # password that lineup's default URLs carry.
    say "setting the password of role $PGUSER on the new cluster"
    (cd / && as_root su postgres -c "psql -q -c \"ALTER ROLE $PGUSER PASSWORD '$PGPASSWORD'\"")
  fi
}

ensure_database() {
  command -v psql >/dev/null || apt_install postgresql-client
  if [ "$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$LINEUP_DB'")" = 1 ]; then
    say "database $LINEUP_DB exists"
  else
    say "creating database $LINEUP_DB"
    psql -d postgres -qc "CREATE DATABASE \"$LINEUP_DB\""
  fi
}

ensure_redis
ensure_postgres
ensure_database
