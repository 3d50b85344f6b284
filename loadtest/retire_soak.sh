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
METRICS_PORT=${METRICS_PORT:-9667}
PROFILE=${PROFILE:-dev}
DB="lineup_retire_soak_$$"
EXTRA_ENV="LINEUP_RETIRE_AFTER=2s LINEUP_ADMIT_PER_SECOND=1000 LINEUP_LIMIT_ADDRESS_RATE=0 \
LINEUP_LIMIT_USER_RATE=0 LINEUP_LIMIT_POLL_RATE=0"
# shellcheck source=loadtest/server.sh
source loadtest/server.sh
start_server
trap 'stop_server; psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB" || true' EXIT

BASE_URL="$base" ADMIN_TOKEN="$admin_token" REDIS_PREFIX="$prefix" \
SERVER_PID="$server" DATABASE="$DB" \
  python3 loadtest/retire_soak.py
