#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Time to first frame of two builds side by side in one run, taking turns: each build's
# icecam-camera (10 s GOP) on one rendezvous, each build's icecam-view against its own camera,
# logged, so that the DTLS phase (pair selected -> DTLS connected: the viewer sends its
# ClientHello first, and a camera that drops its answer waits for the 400 ms retransmission)
# shows beside the whole time to first frame.
# Then every phase of bench/ttff-phases.awk for both builds (medians of per-run durations) and
# the ratio of the medians.
# Usage: bench/ttff-compare.sh OTHER_BUILD [RUNS]   (default 20; BUILD as in common.sh)
#   GOP_CACHE=1: also an RTSP camera of each build (tests/rtsp-test-server, 4 s GOP, as in
#     bench/rtsp.sh: the GOP cache on) and RUNS viewers of each build joining it at a random
#     moment of the GOP, --frames 5, not logged.
#   e.g. git worktree add ../before COMMIT && meson setup ../before/build-bench ../before \
#          -Dbuildtype=debugoptimized && ninja -C ../before/build-bench
#        bench/ttff-compare.sh ../before/build-bench 20
set -u
. "$(dirname "$0")/common.sh"
OTHER=$(cd "${1:?usage: bench/ttff-compare.sh OTHER_BUILD [RUNS]}" && pwd)
RUNS=${2:-20}
PAUSE=${PAUSE:-0.6}   # between viewers: more than the camera's 200 ms keyframe-request merge

bench_machine
echo "this build: $BUILD; other build: $OTHER"
bench_start_rendezvous
bench_start_camera this --keyframe-interval 10
CAMERA=$OTHER/src/tools/icecam-camera bench_in_build "$OTHER" bench_start_camera other --keyframe-interval 10
if [ -n "${GOP_CACHE:-}" ]; then
  "$BUILD/tests/rtsp-test-server" --gop 4 --fps 25 >"$WORK/rtsp.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    RTSP_PORT=$(sed -n 's/.*port \([0-9]*\)$/\1/p' "$WORK/rtsp.log")
    [ -n "$RTSP_PORT" ] && break
    sleep 0.05
  done
  bench_start_camera this-rtsp --source "rtsp://127.0.0.1:$RTSP_PORT/cam"
  CAMERA=$OTHER/src/tools/icecam-camera bench_in_build "$OTHER" bench_start_camera other-rtsp \
    --source "rtsp://127.0.0.1:$RTSP_PORT/cam"
  sleep 2 # both cameras receiving H.264
fi
sleep 1

logged () { # build camera-id
  G_MESSAGES_DEBUG=icecam GST_DEBUG_NO_COLOR=1 GST_DEBUG=icecamsrc:4,basesrc:4,videodecoder:4,GST_STATES:4 \
    bench_in_build "$1" "$1/src/tools/icecam-view" --server "$URL" --camera "$2" --headless --frames 1 \
    >"$WORK/log" 2>&1
  awk -f "$(dirname "$0")/ttff-phases.awk" "$WORK/log" >>"$WORK/phases-$2" || cp "$WORK/log" "$WORK/bad.log"
}

cached () { # build camera-id: a viewer joining at a random moment of the 4 s GOP
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r / 32768 * 4 }')"
  bench_in_build "$1" "$1/src/tools/icecam-view" --server "$URL" --camera "$2" --headless --frames 5 \
    --timeout 20 2>/dev/null | sed -n 's/.*result=ok.* ttff_ms=\([0-9.]*\).*/\1/p' >>"$WORK/ttff-$2"
}

for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    logged "$BUILD" this; sleep "$PAUSE"; logged "$OTHER" other
  else
    logged "$OTHER" other; sleep "$PAUSE"; logged "$BUILD" this
  fi
  sleep "$PAUSE"
  if [ -n "${GOP_CACHE:-}" ]; then
    if [ $((i % 2)) = 1 ]; then cached "$BUILD" this-rtsp; cached "$OTHER" other-rtsp
    else cached "$OTHER" other-rtsp; cached "$BUILD" this-rtsp; fi
  fi
done

# Columns of ttff-phases.awk: 5 offer, 7 pair, 8 dtls, 11 ttff.
column () { # camera-id, end column, start column (0: the value itself)
  awk -v e="$2" -v s="$3" '$1 != "incomplete" && $e >= 0 && (s == 0 || $s >= 0) { print $e - (s ? $s : 0) }' \
    "$WORK/phases-$1" >"$WORK/col"
  bench_stats "$WORK/col" | sed 's/ / | /g'
}
echo
echo "## time to first frame, $RUNS runs each, taking turns (ms; median | p90 | min | max | n)"
echo "| build | time to first frame | pair selected, from the offer | DTLS connected, from the selected pair |"
echo "|---|---|---|---|"
echo "| this ($BUILD) | $(column this 11 0) | $(column this 7 5) | $(column this 8 7) |"
echo "| other ($OTHER) | $(column other 11 0) | $(column other 7 5) | $(column other 8 7) |"
median () { # camera-id, end column, start column (0: the value itself)
  awk -v e="$2" -v s="$3" '$1 != "incomplete" && $e >= 0 && (s == 0 || $s >= 0) { print $e - (s ? $s : 0) }' \
    "$WORK/phases-$1" >"$WORK/col"
  bench_stats "$WORK/col" | cut -d' ' -f1
}
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "## phases, medians of per-run durations (ms), $RUNS runs each"
echo "| phase | this | other | ratio |"
echo "|---|---|---|---|"
# columns: 3 connect, 4 ready, 5 offer, 7 pair, 8 dtls, 9 rtp, 10 decoded, 11 ttff
while read -r name e s; do
  a=$(median this "$e" "$s"); b=$(median other "$e" "$s")
  echo "| $name | $a | $b | $(ratio "$a" "$b") |"
done <<'PHASES'
start->signalling-connect 3 0
signalling-connected 4 3
offer-received 5 4
pair-selected 7 5
dtls-connected 8 7
first-rtp-packet 9 8
first-decoded-frame 10 9
time-to-first-frame 11 0
PHASES
if [ -n "${GOP_CACHE:-}" ]; then
  echo
  echo "## RTSP camera, 4 s GOP, GOP cache: time to first frame of a viewer joining at a random moment (ms; median | p90 | min | max | n)"
  echo "| build | time to first frame |"
  echo "|---|---|"
  echo "| this | $(bench_stats "$WORK/ttff-this-rtsp" | sed 's/ / | /g') |"
  echo "| other | $(bench_stats "$WORK/ttff-other-rtsp" | sed 's/ / | /g') |"
fi
[ -f "$WORK/bad.log" ] && echo "(some logged runs were incomplete)"
exit 0
