#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark 7, IP cameras over RTSP (tests/rtsp-test-server, gst-rtsp-server, on 127.0.0.1):
#  a) time to first frame of a viewer joining a 4 s GOP camera at a random moment, with the GOP
#     cache and without (icecam-camera --no-gop-cache), taking turns, N viewers each;
#  b) camera CPU for one 1080p stream to one viewer: icecam-camera passing the H.264 through
#     against the same stream decoded and re-encoded with x264 ultrafast (gst-launch, the
#     pipeline icecam-camera used before), both at once from the same RTSP server.
# Usage: [PATTERN=ball|smpte|snow...] bench/rtsp.sh [VIEWERS (10)] [CPU_SECONDS (20)]
#   PATTERN: the videotestsrc pattern of the 1080p stream in b) (how hard it is to encode)
set -u
. "$(dirname "$0")/common.sh"
VIEWERS=${1:-10}
CPU_S=${2:-20}
SERVER=$BUILD/tests/rtsp-test-server

start_rtsp () { # log, options...
  local log=$1
  shift
  "$SERVER" "$@" >"$WORK/$log" 2>&1 &
  PIDS+=($!)
  local i
  for i in $(seq 100); do
    RTSP_PORT=$(sed -n 's/.*port \([0-9]*\)$/\1/p' "$WORK/$log" 2>/dev/null)
    [ -n "$RTSP_PORT" ] && return 0
    sleep 0.05
  done
  return 1
}

wait_receiving () { # camera log
  local i
  for i in $(seq 300); do
    grep -q 'receiving H.264' "$1" && return 0
    sleep 0.05
  done
  return 1
}

bench_machine
bench_start_rendezvous

# a) time to first frame, cache on and off
start_rtsp rtsp-ttff.log --gop 4 --fps 25 --audio
bench_start_camera cached --source "rtsp://127.0.0.1:$RTSP_PORT/cam"
CACHED_PID=$CAM_PID
wait_receiving "$WORK/camera-cached.out"
bench_start_camera uncached --source "rtsp://127.0.0.1:$RTSP_PORT/cam" --no-gop-cache
wait_receiving "$WORK/camera-uncached.out"
sleep 1
: >"$WORK/ttff-cached"; : >"$WORK/ttff-uncached"
for i in $(seq "$VIEWERS"); do
  for cam in cached uncached; do
    # a random moment within the GOP
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r / 32768 * 4 }')"
    "$VIEW" --server "$URL" --camera "$cam" --headless --frames 5 --timeout 20 >"$WORK/v.out" 2>&1
    sed -n 's/.* ttff_ms=\([0-9.]*\) .*/\1/p' "$WORK/v.out" >>"$WORK/ttff-$cam"
  done
done
echo "a) time to first frame, 640x480 25 fps, GOP 4 s, $VIEWERS viewers each (median p90 min max n, ms):"
c=$(bench_stats "$WORK/ttff-cached"); u=$(bench_stats "$WORK/ttff-uncached")
echo "   GOP cache on:  $c"
echo "   GOP cache off: $u"
echo "   median ratio off/on: $(awk -v a="${u%% *}" -v b="${c%% *}" 'BEGIN { printf "%.1f", a / b }')"
bench_stop "$CAM_PID"
bench_stop "$CACHED_PID"

# b) CPU per stream at 1080p: pass-through against decode + x264 ultrafast re-encode
start_rtsp rtsp-cpu.log --width 1920 --height 1080 --fps 25 --gop 4 --bitrate 4000 \
  --pattern "${PATTERN:-ball}"
bench_start_camera pass --source "rtsp://127.0.0.1:$RTSP_PORT/cam"
PASS_PID=$CAM_PID
wait_receiving "$WORK/camera-pass.out"
gst-launch-1.0 -q rtspsrc location="rtsp://127.0.0.1:$RTSP_PORT/cam" latency=100 \
  ! rtph264depay ! h264parse ! avdec_h264 ! videoconvert \
  ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=4000 key-int-max=100 \
  ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au \
  ! rtph264pay pt=96 mtu=1200 aggregate-mode=zero-latency \
  ! icecamsink server="$URL" camera-id=reencode >"$WORK/reencode.out" 2>&1 &
RE_PID=$!
PIDS+=($RE_PID)
bench_wait_health cameras 2
for cam in pass reencode; do
  "$VIEW" --server "$URL" --camera $cam --headless --stats-interval 1 >"$WORK/view-$cam.out" 2>&1 &
  PIDS+=($!)
done
sleep 5 # both viewers decoding, the encoders warm
viewer_frames () { grep -oE 'progress frames=[0-9]+' "$WORK/view-$1.out" | tail -1 | grep -oE '[0-9]+$'; }
p0=$(bench_cpu_ticks "$PASS_PID"); r0=$(bench_cpu_ticks "$RE_PID")
pf0=$(viewer_frames pass); rf0=$(viewer_frames reencode)
sleep "$CPU_S"
p1=$(bench_cpu_ticks "$PASS_PID"); r1=$(bench_cpu_ticks "$RE_PID")
pf1=$(viewer_frames pass); rf1=$(viewer_frames reencode)
echo "b) camera CPU, 1920x1080 25 fps 4 Mbit/s, one viewer each, over $CPU_S s (% of one core):"
awk -v p="$(echo "$p1 - $p0" | bc -l)" -v r="$(echo "$r1 - $r0" | bc -l)" -v s="$CPU_S" 'BEGIN {
  printf "   pass-through (icecam-camera --source rtsp://): %.1f %%\n", p / s * 100
  printf "   decode + x264 ultrafast re-encode:              %.1f %%\n", r / s * 100
  printf "   ratio pass-through / re-encode: %.3f\n", p / r }'
echo "   frames decoded by the viewers in the window: pass-through $((pf1 - pf0)), re-encode $((rf1 - rf0)) (expected $((CPU_S * 25)))"
