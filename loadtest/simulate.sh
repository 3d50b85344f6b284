#!/usr/bin/env bash
# Runs the randomized sale simulation (tests/simulation/) for any seed and any
# time, by hand: real `lineup serve` processes, seeded virtual clients, and a
# nemesis that loses and delays Redis replies, restarts Redis empty, cuts
# PostgreSQL and kills servers, with every invariant checked as it runs and
# after the faults heal. It prints the seed first and a report last (each
# broken invariant with the history lines that show it) and exits non-zero
# when an invariant broke. `make test` runs three fixed seeds of 18 s each.
#
#   loadtest/simulate.sh                          # a random seed, 30 s, 3 servers
#   loadtest/simulate.sh --seed 7                 # replay seed 7's plan
#   loadtest/simulate.sh --seed 7 --duration 30m --servers 4
#   loadtest/simulate.sh --cluster                # on scripts/redis-cluster.sh's cluster
#                                                 #   (no Redis faults there)
#   loadtest/simulate.sh --history /tmp/run.log   # also write the whole history, and
#                                                 #   each server's log to /tmp/run.log.sN.log
#
# The run is the ignored test `any_seed_from_the_environment` of
# tests/simulation/main.rs (debug build), driven by SIM_SEED, SIM_DURATION,
# SIM_SERVERS and SIM_HISTORY_FILE. Each run makes a database of its own on
# the server of TEST_DATABASE_URL (dropped afterwards) and a redis-server of
# its own, so several runs may go side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) export SIM_SEED="$2"; shift 2 ;;
    --duration) export SIM_DURATION="$2"; shift 2 ;;
    --servers) export SIM_SERVERS="$2"; shift 2 ;;
    --history) export SIM_HISTORY_FILE="$2"; shift 2 ;;
    --cluster) CLUSTER=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage 2 ;;
  esac
done

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
if [[ -n "${CLUSTER:-}" ]]; then
  scripts/redis-cluster.sh
  export LINEUP_TEST_REDIS_CLUSTER=${TEST_REDIS_CLUSTER:-redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003}
else
  unset LINEUP_TEST_REDIS_CLUSTER
fi

exec cargo test --test simulation -- --ignored --exact any_seed_from_the_environment --nocapture
