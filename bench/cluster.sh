#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cluster benchmark (docs/benchmarks.md, "Cluster"): signalling relayed camera→viewer on one
# rendezvous vs. across two nodes of a three-node cluster on Redis, side by side in one run.
# Usage: bench/cluster.sh [BUILD_DIR]   (needs redis-server, python3-websockets)
set -u
build=${1:-build}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_for() { local d=$((SECONDS + $3)); while [ $SECONDS -lt $d ]; do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for "$tmp/redis.log" 'Ready to accept' 10 || exit 1

start_node() {  # NAME [cluster args...]
  local name=$1; shift
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none --message-rate 0 "$@" \
    >"$tmp/rv-$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  wait_for "$tmp/rv-$name.log" 'listening on ws://' 10 || exit 1
  eval "url_$name=$(grep -oE 'ws://[0-9.]+:[0-9]+/ws' "$tmp/rv-$name.log" | head -1)"
}
start_node single
for n in a b c; do start_node "$n" --cluster "redis://127.0.0.1:$redis_port" --node-id "$n"; done
sleep 1.5

echo "# signalling relayed camera -> viewer (candidate messages), 3 runs each"
for run in 1 2 3; do
  echo "single-node  $(/usr/bin/python3 "$(dirname "$0")/cluster-relay.py" "$url_single" "$url_single")"
  echo "cross-node   $(/usr/bin/python3 "$(dirname "$0")/cluster-relay.py" "$url_a" "$url_c")"
done

# Failover (node killed -> camera listed again): bench/cluster-failover.sh, several rounds.
