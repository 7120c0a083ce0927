#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Camera CPU with and without audio, side by side in one run: icecam-camera --source test with
# --audio none (baseline) and --audio test (a tone encoded to Opus), and an RTSP camera with
# H.264 + AAC passed through with --audio none (baseline) and --audio auto (AAC decoded and
# encoded to Opus). Each camera runs alone for $SECONDS_EACH s (default 10) with no viewer;
# CPU = user + system time from /proc/PID/stat over that span, in % of one core.
# Usage: bench/audio-cpu.sh [build dir]
set -u
build=${1:-build}
each=${SECONDS_EACH:-10}
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export GST_PLUGIN_PATH_1_0="$build/plugins" XDG_DATA_HOME="$tmp"
hz=$(getconf CLK_TCK)

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rv.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on ws://' "$tmp/rv.log" && break; sleep 0.1; done
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv.log" | head -1)
"$build/tests/rtsp-test-server" --gop 4 --audio >"$tmp/rtsp.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qE 'port [0-9]+' "$tmp/rtsp.log" && break; sleep 0.1; done
rtsp="rtsp://127.0.0.1:$(grep -oE 'port [0-9]+' "$tmp/rtsp.log" | head -1 | grep -oE '[0-9]+')/cam"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Runs a camera with the arguments given; prints its CPU in % of a core after a 3 s warm-up.
measure() {
  "$build/src/tools/icecam-camera" --server "$url" --id bench "$@" >"$tmp/cam.log" 2>&1 &
  local pid=$! before after
  sleep 3
  before=$(ticks $pid)
  sleep "$each"
  after=$(ticks $pid)
  kill -INT $pid; wait $pid 2>/dev/null
  echo "scale=1; ($after - $before) * 100 / $hz / $each" | bc
}

none=$(measure --source test --audio none)
tone=$(measure --source test --audio test)
rtsp_none=$(measure --source "$rtsp" --audio none)
rtsp_aac=$(measure --source "$rtsp" --audio auto)
printf '%-40s %8s\n' "camera" "CPU %"
printf '%-40s %8s\n' "test pattern, --audio none" "$none" "test pattern, --audio test (Opus)" "$tone" \
  "RTSP H.264+AAC, --audio none" "$rtsp_none" "RTSP H.264+AAC, --audio auto (AAC->Opus)" "$rtsp_aac"
echo "ratio test/none: $(echo "scale=2; $tone / $none" | bc)  rtsp auto/none: $(echo "scale=2; $rtsp_aac / $rtsp_none" | bc)"
