#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark 8b, an RTSP camera's GOP cache in Chromium: headless Chromium (bench/browser-ttff.py)
# joins, taking turns, this build's camera, another build's camera (both with the GOP cache) and
# this build's camera with --no-gop-cache, all reading one tests/rtsp-test-server (640x480, 25 fps,
# 4 s GOP, AAC). Per camera: first presented frame (ms from the page's start) and how many joins
# decoded the cached frames (more frames decoded in the hold than the live ~52).
# Usage: bench/rtsp-browser.sh OTHER_BUILD [RUNS (12)]
#   OTHER_BUILD: the baseline's build directory (git archive REV | tar -x -C /tmp/before, then
#   meson setup /tmp/before/build /tmp/before && ninja -C /tmp/before/build)
set -u
. "$(dirname "$0")/common.sh"
OTHER=${1:?usage: bench/rtsp-browser.sh OTHER_BUILD [RUNS]}
RUNS=${2:-12}
SERVER=$BUILD/tests/rtsp-test-server

bench_machine
bench_start_rendezvous
"$SERVER" --gop 4 --fps 25 --audio >"$WORK/rtsp.log" 2>&1 &
PIDS+=($!)
for i in $(seq 100); do
  RTSP_PORT=$(sed -n 's/.*port \([0-9]*\)$/\1/p' "$WORK/rtsp.log" 2>/dev/null)
  [ -n "$RTSP_PORT" ] && break
  sleep 0.05
done
SOURCE="rtsp://127.0.0.1:$RTSP_PORT/cam"
CAMERA_THIS=$CAMERA
bench_start_camera this --source "$SOURCE"
CAMERA=$OTHER/src/tools/icecam-camera bench_in_build "$OTHER" bench_start_camera other \
  --source "$SOURCE"
CAMERA=$CAMERA_THIS
bench_start_camera uncached --source "$SOURCE" --no-gop-cache
sleep 3
/usr/bin/python3 "$(dirname "$0")/browser-ttff.py" --rendezvous "$URL" --camera this \
  --camera other --camera uncached --runs "$RUNS" --hold 2 --pause 1.3 >"$WORK/runs" \
  2>"$WORK/runs.err" || { cat "$WORK/runs.err"; exit 1; }
grep '^#' "$WORK/runs" | head -1
echo "first frame, ms from the page's start (median p90 min max n), joins from the cache:"
for cam in this other uncached; do
  grep -v '^#' "$WORK/runs" | awk -v c=$cam '$2 == c { print $11, $13 }' | sort -n | awk -v c=$cam '
    { v[NR] = $1; if ($2 > 60) cached++ }
    END { n = NR; med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
          printf "   %-9s %.1f %.1f %.1f %.1f %d   from the cache: %d of %d\n", c, med,
                 v[int(0.9 * n + 0.999)], v[1], v[n], n, cached + 0, n }'
done
