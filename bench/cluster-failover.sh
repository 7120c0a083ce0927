#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cluster failover (docs/benchmarks.md, "Cluster"): a camera given nodes a and b, the node it is
# on SIGKILLed, the time until the other node holds it (/healthz "cameras":1) and node c lists
# it. Several rounds (the killed node restarts on its port between rounds); with BASE_BUILD, a
# second cluster of that build's rendezvous runs the same rounds interleaved (same Redis, its
# own database), the camera and viewer tools from BUILD in both.
# Usage: bench/cluster-failover.sh [BUILD_DIR] [ROUNDS]   (env BASE_BUILD=DIR: the baseline)
set -u
build=${1:-build}
rounds=${2:-5}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_for() { local d=$((SECONDS + $3)); while [ $SECONDS -lt $d ]; do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cameras() {  # PORT: "cameras" of /healthz
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || { echo -1; return; }
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  grep -oE '"cameras" *: *[0-9]+' <&3 | grep -oE '[0-9]+$' || echo -1
  exec 3<&-
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for "$tmp/redis.log" 'Ready to accept' 10 || exit 1

declare -A port pid
start_node() {  # CLUSTER NODE
  local key="$1-$2" bin=$build
  [ "$1" = base ] && bin=$BASE_BUILD
  "$bin/src/server/icecam-rendezvous" --listen "127.0.0.1:${port[$key]}" --stun-listen none \
    --cluster "redis://127.0.0.1:$redis_port/$([ "$1" = base ] && echo 1 || echo 2)" \
    --node-id "$2" >>"$tmp/rv-$key.log" 2>&1 &
  pid[$key]=$!
  pids+=($!)
  wait_for "$tmp/rv-$key.log" 'listening on ws://' 10 || exit 1
}
clusters=(new)
[ -n "${BASE_BUILD:-}" ] && clusters=(base new)
declare -A on
for c in "${clusters[@]}"; do
  for n in a b c; do port[$c-$n]=$(free_port); start_node "$c" "$n"; done
done
sleep 1.5
for c in "${clusters[@]}"; do
  "$build/src/tools/icecam-camera" --server "ws://127.0.0.1:${port[$c-a]}/ws" \
    --server "ws://127.0.0.1:${port[$c-b]}/ws" --id "failover-$c" --source test \
    >"$tmp/cam-$c.log" 2>&1 &
  pids+=($!)
  wait_for "$tmp/cam-$c.log" 'registered with' 10 || exit 1
  on[$c]=a
done
sleep 2

echo "# failover: ms from SIGKILL of the camera's node until the other node holds it and node c lists it"
for round in $(seq 1 "$rounds"); do
  for c in "${clusters[@]}"; do
    dead=${on[$c]}
    other=b; [ "$dead" = b ] && other=a
    kill -9 "${pid[$c-$dead]}"
    t0=$(date +%s%3N)
    deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
      [ "$(cameras "${port[$c-$other]}")" = 1 ] &&
        timeout 5 "$build/src/tools/icecam-view" --server "ws://127.0.0.1:${port[$c-c]}/ws" --list \
          2>/dev/null | grep -qx "failover-$c" && break
      sleep 0.05
    done
    echo "$c round=$round failover_ms=$(( $(date +%s%3N) - t0 ))"
    on[$c]=$other
    start_node "$c" "$dead"
  done
  sleep 7  # the restarted nodes are heard again, the killed ones dropped
done
