#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# How soon a viewer watches again once its camera is back after an outage, for two builds side
# by side in one run: each build's camera and viewer on one rendezvous (this build's); both
# cameras stop (SIGINT) together, stay away OUTAGE seconds and start again together; the time
# is from the camera's restart to the viewer's "watching camera '...' again" line.
# Usage: bench/rejoin.sh OTHER_BUILD [OUTAGE_S] [RUNS]   (defaults 40 and 3; BUILD as in common.sh)
#   e.g. git archive COMMIT | tar -x -C /tmp/before && meson setup /tmp/before/build-bench \
#          /tmp/before && ninja -C /tmp/before/build-bench
#        bench/rejoin.sh /tmp/before/build-bench 40 3
set -u
. "$(dirname "$0")/common.sh"
OTHER=$(cd "${1:?usage: bench/rejoin.sh OTHER_BUILD [OUTAGE_S] [RUNS]}" && pwd)
OUTAGE=${2:-40}
RUNS=${3:-3}

bench_machine
echo "this build: $BUILD; other build: $OTHER; outage ${OUTAGE} s, $RUNS runs"
bench_start_rendezvous

start_camera () { # build id
  CAMERA=$1/src/tools/icecam-camera bench_in_build "$1" bench_start_camera "$2" >/dev/null
  eval "cam_$2=$CAM_PID"
}
start_viewer () { # build id
  bench_in_build "$1" "$1/src/tools/icecam-view" --server "$URL" --camera "$2" --headless \
    >"$WORK/view-$2.out" 2>"$WORK/view-$2.log" &
  PIDS+=($!)
}
again () { grep -c "watching camera '$1' again" "$WORK/view-$1.log"; }

start_camera "$BUILD" this
start_camera "$OTHER" other
start_viewer "$BUILD" this
start_viewer "$OTHER" other
for id in this other; do
  # The other build may not print "watching" for its first session; it retries on loss.
  sleep 3
done
: >"$WORK/this.ms"; : >"$WORK/other.ms"
for run in $(seq "$RUNS"); do
  seen_this=$(again this) seen_other=$(again other)
  kill -INT "$cam_this" "$cam_other"; wait "$cam_this" "$cam_other" 2>/dev/null
  sleep "$OUTAGE"
  back=$(date +%s%3N)
  start_camera "$BUILD" this
  start_camera "$OTHER" other
  done_this='' done_other=''
  deadline=$((SECONDS + 120))
  while { [ -z "$done_this" ] || [ -z "$done_other" ]; } && [ $SECONDS -lt $deadline ]; do
    [ -z "$done_this" ] && [ "$(again this)" -gt "$seen_this" ] && done_this=$(( $(date +%s%3N) - back ))
    [ -z "$done_other" ] && [ "$(again other)" -gt "$seen_other" ] && done_other=$(( $(date +%s%3N) - back ))
    sleep 0.05
  done
  echo "run $run: this ${done_this:-none} ms, other ${done_other:-none} ms"
  echo "${done_this:-}" >>"$WORK/this.ms"; echo "${done_other:-}" >>"$WORK/other.ms"
done
for id in this other; do
  echo "$id: median p90 min max n (ms): $(grep . "$WORK/$id.ms" | bench_stats /dev/stdin %.0f)"
done
