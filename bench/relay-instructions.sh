#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rendezvous's user-space instructions per relayed message (docs/benchmarks.md, 16b):
# machine load does not move them, unlike CPU time. Each RENDEZVOUS in turn runs under valgrind
# (callgrind), with 150 cameras and 50 viewers of bench-rendezvous-load in 50 sessions, relaying
# 300 msg/s; the counters are zeroed 3 s into the window and dumped 20 s later (6,000 messages).
# Kernel time (the sends and receives) is not counted. Needs valgrind (scripts/setup.sh bench).
#
#   bench/relay-instructions.sh RENDEZVOUS...
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../build-bench}
load=$BUILD/bench/bench-rendezvous-load
rate=300 seconds=20
if [ $# -lt 1 ]; then
  echo "usage: $0 RENDEZVOUS..." >&2
  exit 2
fi
command -v callgrind_control >/dev/null || { echo "$0: valgrind is missing" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Express mode (the epoll poller above the other sources) as on a node with 1,000 streams.
export ICECAM_WS_EXPRESS_MIN=1

n=0
for server in "$@"; do
  n=$((n + 1))
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/%d.%%p.out %s "$@"\n' \
    "$dir" "$n" "$server" >"$dir/wrap$n"
  chmod +x "$dir/wrap$n"
  "$load" --cameras 150 --viewers 50 --in-flight 2 --rates "$rate" --window $((seconds + 10)) \
    --churn 0 --rendezvous "$dir/wrap$n" >"$dir/load$n" 2>&1 &
  loadpid=$!
  for _ in $(seq 1200); do grep -q 'offer/answer' "$dir/load$n" && break; sleep 0.1; done
  pid=$(sed -n 's/.*server pid \([0-9]*\).*/\1/p' "$dir/load$n")
  sleep 3
  callgrind_control -z "$pid" >/dev/null 2>&1
  sleep "$seconds"
  callgrind_control -d "$pid" >/dev/null 2>&1
  wait "$loadpid"
  ir=$(cat "$dir/$n".*.out.1 2>/dev/null | awk '/^(summary|totals):/ { print $2; exit }')
  echo "$server: $((ir / (rate * seconds))) instructions per message ($ir over ${seconds} s)"
  grep 'relay rate' "$dir/load$n"
done
