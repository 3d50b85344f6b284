#!/usr/bin/env bash
# Starts a local Redis Cluster of three primaries on loopback (127.0.0.1:7001-7003
# by default), for `make test` to run the full-flow tests against a cluster as
# well. Nothing is saved to disk (--save "" --appendonly no); each node keeps its
# cluster config and log under $CLUSTER_DIR. Where the cluster already answers
# with cluster_state:ok, nothing is done. Safe to run again.
#
# Needs redis-server and redis-cli (scripts/services.sh installs them).
#
# Environment:
#   CLUSTER_PORTS  (default "7001 7002 7003") one primary per port, three or more
#   CLUSTER_DIR    (default /tmp/lineup-redis-cluster)
#
# Use it with: LINEUP_REDIS_CLUSTER_NODES=redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003
# Stop it with: for p in 7001 7002 7003; do redis-cli -p $p shutdown nosave; done
set -euo pipefail

read -r -a PORTS <<<"${CLUSTER_PORTS:-7001 7002 7003}"
CLUSTER_DIR=${CLUSTER_DIR:-/tmp/lineup-redis-cluster}

say() { printf 'redis-cluster: %s\n' "$*"; }

cluster_ok() {
  local port
  for port in "${PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

if cluster_ok; then
  say "already running on ports ${PORTS[*]}"
  exit 0
fi

command -v redis-server >/dev/null || { say "redis-server is missing: run scripts/services.sh"; exit 1; }

start_nodes() {
  local port
  for port in "${PORTS[@]}"; do
    mkdir -p "$CLUSTER_DIR/$port"
    if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
      redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
        --cluster-enabled yes --cluster-config-file "$CLUSTER_DIR/$port/nodes.conf" \
        --cluster-node-timeout 5000 --save "" --appendonly no \
        --dir "$CLUSTER_DIR/$port" --logfile "$CLUSTER_DIR/$port/redis.log"
    fi
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null
  done
}

wait_ok() {
  for _ in $(seq 1 100); do
    cluster_ok && return 0
    sleep 0.1
  done
  return 1
}

start_nodes
# Nodes that kept their nodes.conf from an earlier run form the cluster again.
if wait_ok; then
  say "running again on ports ${PORTS[*]}"
  exit 0
fi

# Slots assigned but no working cluster (a half-made or stale one): these are
# this script's own nodes, so stop them, forget their config and start afresh.
if [ "$(redis-cli -h 127.0.0.1 -p "${PORTS[0]}" cluster info | grep '^cluster_slots_assigned:' | tr -d '\r' | cut -d: -f2)" != "0" ]; then
  say "a stale cluster is in the way; starting afresh"
  for port in "${PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "${CLUSTER_DIR:?}/$port"
  done
  sleep 0.5
  start_nodes
fi

nodes=()
for port in "${PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
wait_ok || { say "the cluster did not reach cluster_state:ok"; exit 1; }
say "running on ports ${PORTS[*]}"
