#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Time to first frame on loopback with a 10 s GOP: icecam-view start -> first decoded frame,
# repeated, with its phases from the logs (signalling, session, ICE, DTLS, first RTP, first
# frame), beside icecam-view with avdec_h264 and gst-launch; then the ICE baseline (libnice
# defaults vs icecam's settings, bench-ice-pair) in the same run.
# Usage: bench/ttff.sh [RUNS]   (default 20)
set -u
. "$(dirname "$0")/common.sh"
RUNS=${1:-20}
PAUSE=${PAUSE:-0.6}   # between viewers: more than the camera's 200 ms keyframe-request merge

bench_machine
bench_start_rendezvous
bench_start_camera cam1 --keyframe-interval 10
sleep 1

plain () { # [decoder] (default: icecam-view's own choice)
  "$VIEW" --server "$URL" --camera cam1 --headless --frames 1 ${1:+--decoder "$1"} 2>/dev/null |
    sed -n 's/.*result=ok.*ttff_ms=\([0-9.]*\).*/\1/p' >>"$WORK/ttff${1:+-$1}"
}

logged () {
  G_MESSAGES_DEBUG=icecam GST_DEBUG_NO_COLOR=1 GST_DEBUG=icecamsrc:4,basesrc:4,videodecoder:4,GST_STATES:4 \
    "$VIEW" --server "$URL" --camera cam1 --headless --frames 1 >"$WORK/log" 2>&1
  awk -f "$(dirname "$0")/ttff-phases.awk" "$WORK/log" >>"$WORK/phases" || cp "$WORK/log" "$WORK/bad.log"
}

# For comparison: the same viewer pipeline under gst-launch, built whole and then started (no
# early start of icecamsrc); ms from gst_init() to the first decoded frame.
whatif () { # decoder
  GST_DEBUG_NO_COLOR=1 GST_DEBUG=videodecoder:4 timeout 20 gst-launch-1.0 -q icecamsrc \
    server="$URL" camera-id=cam1 ! rtph264depay request-keyframe=true ! "$1" \
    ! fakesink sync=false num-buffers=1 2>&1 >/dev/null |
    awk '/First buffer since flush/ { split($1, t, ":"); print (t[1] * 3600 + t[2] * 60 + t[3]) * 1000; exit }' \
    >>"$WORK/whatif-$1"
}

for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then plain; sleep "$PAUSE"; logged; else logged; sleep "$PAUSE"; plain; fi
  sleep "$PAUSE"
  whatif avdec_h264; sleep "$PAUSE"
  plain avdec_h264; sleep "$PAUSE"
done

echo
echo "## time to first frame, $RUNS runs (ms from icecam-view's main() to the first decoded frame)"
echo "| run | median | p90 | min | max | n |"
echo "|---|---|---|---|---|---|"
echo "| icecam-view, no logs | $(bench_stats "$WORK/ttff" | tr ' ' '|' | sed 's/|/ | /g') |"
echo "| icecam-view --decoder avdec_h264 (the decoder before openh264dec) | $(bench_stats "$WORK/ttff-avdec_h264" | sed 's/ / | /g') |"
awk '$1 != "incomplete" { print $11 }' "$WORK/phases" >"$WORK/ttff-logged"
echo "| icecam-view, with phase logs | $(bench_stats "$WORK/ttff-logged" | sed 's/ / | /g') |"
echo "| gst-launch-1.0 icecamsrc ! rtph264depay ! avdec_h264 ! fakesink (ms from gst_init) | $(bench_stats "$WORK/whatif-avdec_h264" | sed 's/ / | /g') |"

echo
echo "## phases (logged runs; ms since main(); median, p90 of the duration of each phase)"
echo "| phase | ends at (median) | duration median | duration p90 |"
echo "|---|---|---|---|"
phase () { # name, end column, start column (0: main())
  awk -v e="$2" -v s="$3" '$1 != "incomplete" && $e >= 0 { print $e }' "$WORK/phases" >"$WORK/end"
  awk -v e="$2" -v s="$3" '$1 != "incomplete" && $e >= 0 && (s == 0 || $s >= 0) { print $e - (s ? $s : 0) }' \
    "$WORK/phases" >"$WORK/dur"
  read -r end _ <<<"$(bench_stats "$WORK/end")"
  read -r med p90 _ <<<"$(bench_stats "$WORK/dur")"
  echo "| $1 | $end | $med | $p90 |"
}
if [ "$(awk '$1 != "incomplete" && $1 >= 0' "$WORK/phases" | wc -l)" -gt 0 ]; then
  phase "1st signalling connect starts" 1 0
  phase "1st signalling session connected, then thrown away by a restart" 2 1
fi
phase "process start, gst_init, icecamsrc loaded -> signalling connect starts" 3 0
phase "signalling connected (welcome)" 4 3
phase "session started (offer received, answer sent)" 5 4
phase "gathering done" 6 5
phase "pair selected (from offer)" 7 5
phase "DTLS connected (from pair)" 8 7
phase "first RTP packet out of icecamsrc (from DTLS)" 9 8
phase "first decoded frame" 10 9
phase "pipeline PLAYING: the sink has its first buffer (from main)" 12 0
[ -f "$WORK/bad.log" ] && echo "(some logged runs were incomplete; last one kept in $WORK/bad.log)"

echo
echo "## ICE baseline: two libnice agents on loopback, time to a selected pair (ms)"
"$BUILD/bench/bench-ice-pair" --runs "$RUNS"
