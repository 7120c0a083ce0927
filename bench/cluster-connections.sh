#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Connections held by a three-node cluster (docs/benchmarks.md, "Cluster"): PER_NODE camera
# connections on each of three nodes sharing a Redis (one client process per node,
# bench/cluster-connections.py, since a process here may hold at most 20,000 descriptors), then
# the same PER_NODE on a single node without --cluster, the baseline, in the same run. Reports
# each node's RSS before and after, per connection, and Redis's.
# Usage: bench/cluster-connections.sh [BUILD_DIR] [PER_NODE]   (needs redis-server)
set -u
build=${1:-build}
per_node=${2:-10000}
here=$(dirname "$0")
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_for() { local d=$((SECONDS + $3)); while [ $SECONDS -lt $d ]; do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
redis=$!
pids+=($redis)
wait_for "$tmp/redis.log" 'Ready to accept' 10 || exit 1

declare -A port pid
start_node() {  # NAME [args]
  local name=$1; shift
  port[$name]=$(free_port)
  "$build/src/server/icecam-rendezvous" --listen "127.0.0.1:${port[$name]}" --stun-listen none \
    --max-connections-per-address 0 --message-rate 0 "$@" >"$tmp/rv-$name.log" 2>&1 &
  pid[$name]=$!
  pids+=($!)
  wait_for "$tmp/rv-$name.log" 'listening on ws://' 10 || exit 1
}
hold() {  # NODE PREFIX: starts a client process holding per_node connections to NODE
  mkfifo "$tmp/in-$1"
  /usr/bin/python3 "$here/cluster-connections.py" "${port[$1]}" "$per_node" "$2" 8 \
    <"$tmp/in-$1" >"$tmp/client-$1.log" 2>&1 &
  pids+=($!)
  exec {fd}>"$tmp/in-$1"   # held open: the client runs until the script ends
}

for n in a b c; do start_node "$n" --cluster "redis://127.0.0.1:$redis_port" --node-id "$n"; done
sleep 2
declare -A before
for n in a b c; do before[$n]=$(rss_kib "${pid[$n]}"); done
redis_before=$(rss_kib "$redis")
t0=$SECONDS
for n in a b c; do hold "$n" "cam-$n"; done
for n in a b c; do
  wait_for "$tmp/client-$n.log" '^ready' 900 || { echo "node $n: $(tail -3 "$tmp/client-$n.log")"; exit 1; }
done
echo "# cluster: $((3 * per_node)) camera connections over three nodes, all welcomed in $((SECONDS - t0)) s"
sleep 5   # a few heartbeats with every camera listed
total=0
for n in a b c; do
  after=$(rss_kib "${pid[$n]}")
  total=$((total + after))
  echo "node $n rss_before_kib=${before[$n]} rss_after_kib=$after per_connection_kib=$(awk -v a="$after" -v b="${before[$n]}" -v n="$per_node" 'BEGIN { printf "%.2f", (a - b) / n }') fds=$(ls /proc/${pid[$n]}/fd | wc -l)"
done
echo "cluster total_rss_mib=$((total / 1024)) redis_rss_before_kib=$redis_before redis_rss_after_kib=$(rss_kib "$redis")"
for n in a b c; do
  echo "node $n cameras=$(exec 3<>/dev/tcp/127.0.0.1/${port[$n]}; printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3; grep -oE '"cameras" *: *[0-9]+' <&3 | grep -oE '[0-9]+$')"
done
for n in a b c; do kill -9 "${pid[$n]}"; done

start_node single
before_single=$(rss_kib "${pid[single]}")
t0=$SECONDS
hold single cam-single
wait_for "$tmp/client-single.log" '^ready' 900 || { echo "single: $(tail -3 "$tmp/client-single.log")"; exit 1; }
echo "# single node without --cluster: $per_node camera connections welcomed in $((SECONDS - t0)) s"
sleep 5
after=$(rss_kib "${pid[single]}")
echo "node single rss_before_kib=$before_single rss_after_kib=$after per_connection_kib=$(awk -v a="$after" -v b="$before_single" -v n="$per_node" 'BEGIN { printf "%.2f", (a - b) / n }')"
