#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Where a camera's CPU goes with many viewers, thread by thread: one icecam-camera --source test
# with COUNT headless viewers (bench-viewers, this build's, in one other process), and over a
# WINDOW-second window the CPU, time slices and context switches of the camera's threads, summed
# by thread name. With several builds they take turns, ROUNDS times: one camera at a time.
# Usage: bench/fanout-threads.sh [ROUNDS] [COUNT] [WINDOW] [CAMERA_BUILD...]
#   CAMERA_BUILD: a build directory whose icecam-camera and plugin run the camera (default: this
#   build's build-bench); e.g. bench/fanout-threads.sh 2 64 5 "$PWD/build-bench" /tmp/base/build-bench
set -u
. "$(dirname "$0")/common.sh"
ROUNDS=${1:-2}
COUNT=${2:-32}
WINDOW=${3:-5}
shift 3 2>/dev/null
CAMERAS=("${@:-$BUILD}")

bench_machine
bench_start_rendezvous
n=0

# name cpu_ns timeslices context_switches, one line per thread of process $1
threads () {
  local t
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ <"$t/comm") $(cut -d' ' -f1,3 "$t/schedstat")" \
         "$(awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }' "$t/status")"
  done 2>/dev/null | sort
}

for round in $(seq "$ROUNDS"); do
  for camera_build in "${CAMERAS[@]}"; do
    n=$((n + 1))
    # env, not a function, in the background: $! is the camera itself
    env GST_PLUGIN_PATH_1_0="$camera_build/plugins" \
      GST_REGISTRY_1_0="$camera_build/bench-registry.bin" \
      "$camera_build/src/tools/icecam-camera" --server "$URL" --id "thr$n" --source test \
      --max-viewers "$COUNT" >"$WORK/camera" 2>&1 &
    camera=$!
    bench_wait_health cameras 1 >/dev/null
    "$BUILD/bench/bench-viewers" --via icecam --server "$URL" --camera "thr$n" --count "$COUNT" \
      >"$WORK/viewers" 2>&1 &
    viewers=$!
    for _ in $(seq 400); do grep -q "^viewers: ready" "$WORK/viewers" && break; sleep 0.05; done
    sleep 2
    threads "$camera" >"$WORK/before"
    sleep "$WINDOW"
    threads "$camera" >"$WORK/after"
    echo
    echo "## round $round, camera of $camera_build, $COUNT viewers, ${WINDOW} s"
    echo "| threads | count | CPU ms | time slices | context switches | CPU µs per switch |"
    echo "|---|---|---|---|---|---|"
    # Threads that lived through the window, matched by name and line (sorted alike).
    join -j1 <(awk '{ print $1 "#" NR, $2, $3, $4 }' "$WORK/before") \
             <(awk '{ print $1 "#" NR, $2, $3, $4 }' "$WORK/after") |
      awk '{ sub(/#.*/, "", $1); n[$1]++; cpu[$1] += ($5 - $2) / 1e6; ts[$1] += $6 - $3
             cs[$1] += $7 - $4 }
           END { for (k in n) printf "| %s | %d | %.1f | %d | %d | %.1f |\n", k, n[k], cpu[k],
                   ts[k], cs[k], cs[k] ? cpu[k] * 1000 / cs[k] : 0 }' | sort -t'|' -k4 -rn
    bench_stop "$viewers"
    bench_stop "$camera"
    for _ in $(seq 100); do [ "$(bench_health cameras)" = 0 ] && break; sleep 0.05; done
  done
done
