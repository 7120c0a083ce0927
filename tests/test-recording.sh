#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Recordings that survive the camera, with a real rendezvous and camera on loopback: icecamsrc
# ends with EOS (not an error) when the camera leaves, so pipelines/view-file.sh and
# icecam-view --record leave files that play to their end; with resume they span two camera
# runs (timestamps growing, a gap between); a recorder killed outright still leaves a file that
# plays. Each file is checked by decoding it and counting its frames.
set -u
build=${ICECAM_BUILD_DIR:?}
src=${ICECAM_SOURCE_DIR:?}
TEST_KILL_SIGNAL=INT
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rendezvous.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rendezvous.log" 'listening on ws://' 10 || { cat "$tmp/rendezvous.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rendezvous.log" | head -1)
port=${url##*:}
export ICECAM_SERVER="$url" ICECAM_CAMERA=porch ICECAM_BUILD_DIR="$build"
echo "# rendezvous at $url"

start_camera() {
  "$build/src/tools/icecam-camera" --server "$url" --id porch --source test \
    --keyframe-interval 10 >>"$tmp/camera.log" 2>&1 &
  camera=$!
  pids+=($camera)
  wait_for_cameras "$port" 1
}

# Decodes file $1 to the end; writes the presentation time (s) of each frame to $2. Fails
# when the file does not decode.
decode() {
  local out
  # (a broken file can make the demuxer wait for ever: bounded)
  out=$(timeout 60 gst-launch-1.0 -v filesrc location="$1" ! decodebin \
    ! fakesink name=count silent=false 2>&1)
  local rc=$?
  echo "$out" | grep -oE '\(count:sink\).*pts: [0-9:.]+' | grep -oE '[0-9:.]+$' \
    | awk -F: '{ printf "%.6f\n", $1 * 3600 + $2 * 60 + $3 }' >"$2"
  [ $rc -eq 0 ] || { echo "# decoding $1 failed: $(echo "$out" | grep -m1 ERROR)"; return 1; }
}

# The frames of a decoded file ($1, from decode): "count max-gap-s before-gap after-gap ok",
# where ok is 1 when the times never go back (Matroska keeps milliseconds: two frames that
# arrived in one may share a time).
frames_summary() {
  awk 'NR > 1 { if ($1 < prev) bad = 1; if ($1 - prev > gap) { gap = $1 - prev; at = NR - 1 } }
       { prev = $1 }
       END { printf "%d %.3f %d %d %d\n", NR, gap, at, NR - at, !bad }' "$1"
}

# The frames viewer log $1 decoded so far, from its progress lines.
view_frames() { grep -oE 'progress frames=[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+$' || echo 0; }
wait_for_view_frames() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(view_frames "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# Waits at most $2 seconds for process $1 to end; its status in $waited_rc.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then waited_rc=timeout; return 1; fi
  wait "$1"; waited_rc=$?
}

# Frame counts $1 (file) and $2 (decoded by the viewer) agree within 10% (or 5 frames).
about_equal() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && (d <= 5 || d <= b / 10)) }'; }

start_camera && pass "camera registered" || { fail "camera registered: $(cat "$tmp/camera.log")"; exit 1; }

# 1. The camera drops (SIGKILL: it says nothing) while three recorders run without resume.
gst-launch-1.0 -m icecamsrc server="$url" camera-id=porch ! fakesink >"$tmp/plain.log" 2>&1 &
plain=$!
pids+=($plain)
ICECAM_RESUME=false ICECAM_OUTPUT="$tmp/cut.mp4" "$src/pipelines/view-file.sh" >"$tmp/file-cut.log" 2>&1 &
filer=$!
pids+=($filer)
"$build/src/tools/icecam-view" --server "$url" --camera porch --headless --no-retry \
  --stats-interval 1 --record "$tmp/cut.mkv" >"$tmp/view-cut.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_view_frames "$tmp/view-cut.log" 90 20 && wait_for_line "$tmp/plain.log" 'icecam-pair-selected' 5 \
  || fail "the recorders play: $(tail -2 "$tmp/view-cut.log")"
kill -KILL "$camera"
wait "$camera" 2>/dev/null
wait_exit "$plain" 30
[ "$waited_rc" = 0 ] && grep -q 'Got EOS from element "pipeline0"' "$tmp/plain.log" \
  && ! grep -q '^ERROR' "$tmp/plain.log" \
  && grep -q 'icecam-camera-lost.*resuming=(boolean)false' "$tmp/plain.log" \
  && pass "icecamsrc ends with EOS when the camera drops: $(grep -m1 -oE 'reason=[^;]*' "$tmp/plain.log")" \
  || fail "icecamsrc ends with EOS when the camera drops (rc=$waited_rc): $(grep -E 'ERROR|EOS|lost' "$tmp/plain.log")"
wait_exit "$filer" 30
if [ "$waited_rc" = 0 ] && decode "$tmp/cut.mp4" "$tmp/cut.mp4.pts"; then
  read -r n gap _ _ mono < <(frames_summary "$tmp/cut.mp4.pts")
  [ "$n" -ge 60 ] && [ "$mono" = 1 ] \
    && pass "view-file.sh cut by the camera plays to its end: $n frames" \
    || fail "view-file.sh cut by the camera: $n frames, times never going back=$mono"
else
  fail "view-file.sh cut by the camera (rc=$waited_rc): $(tail -3 "$tmp/file-cut.log")"
fi
wait_exit "$viewer" 30
summary=$(grep '^icecam-view: result=' "$tmp/view-cut.log")
decoded=$(echo "$summary" | grep -oE 'frames=[0-9]+' | cut -d= -f2)
if [ "$waited_rc" = 1 ] && decode "$tmp/cut.mkv" "$tmp/cut.mkv.pts"; then
  read -r n gap _ _ mono < <(frames_summary "$tmp/cut.mkv.pts")
  about_equal "$n" "${decoded:-0}" && [ "$mono" = 1 ] \
    && pass "icecam-view --record cut.mkv cut by the camera: $n frames in the file, $decoded decoded" \
    || fail "icecam-view --record cut.mkv: $n frames in the file, ${decoded:-none} decoded, growing=$mono"
else
  fail "icecam-view --record cut.mkv (rc=$waited_rc): $(tail -3 "$tmp/view-cut.log")"
fi

# 2. Recorders with resume span two camera runs; one without resume ends when it leaves.
start_camera || fail "camera registers again: $(tail -3 "$tmp/camera.log")"
gst-launch-1.0 -m icecamsrc server="$url" camera-id=porch ! fakesink >"$tmp/plain2.log" 2>&1 &
plain=$!
pids+=($plain)
ICECAM_OUTPUT="$tmp/span.mp4" "$src/pipelines/view-file.sh" -m >"$tmp/file-span.log" 2>&1 &
filer=$!
pids+=($filer)
"$build/src/tools/icecam-view" --server "$url" --camera porch --headless --stats-interval 1 \
  --record "$tmp/span.mp4.view.mp4" >"$tmp/view-span.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_view_frames "$tmp/view-span.log" 60 20 && wait_for_line "$tmp/file-span.log" 'icecam-pair-selected' 5 \
  || fail "the recorders play again: $(tail -2 "$tmp/view-span.log")"
kill -INT "$camera"
wait "$camera"
wait_exit "$plain" 20
[ "$waited_rc" = 0 ] && grep -q 'Got EOS from element "pipeline0"' "$tmp/plain2.log" \
  && ! grep -q '^ERROR' "$tmp/plain2.log" \
  && pass "icecamsrc ends with EOS when the camera leaves: $(grep -m1 -oE 'reason=[^;]*' "$tmp/plain2.log")" \
  || fail "icecamsrc ends with EOS when the camera leaves (rc=$waited_rc): $(grep -E 'ERROR|EOS|lost' "$tmp/plain2.log")"
wait_for_line "$tmp/file-span.log" 'icecam-camera-lost.*resuming=\(boolean\)true' 10 \
  && pass "view-file.sh waits for the camera" || fail "view-file.sh waits for the camera: $(tail -3 "$tmp/file-span.log")"
sleep 2 # the camera stays away a while: the recordings have a gap
kill -0 "$filer" 2>/dev/null && kill -0 "$viewer" 2>/dev/null && pass "the recorders stay up" \
  || fail "the recorders stay up"
start_camera || fail "camera registers a third time"
before=$(view_frames "$tmp/view-span.log")
if wait_for_line "$tmp/view-span.log" "watching camera 'porch' again" 20 &&
   wait_for_view_frames "$tmp/view-span.log" $((before + 60)) 20 &&
   [ "$(grep -c 'icecam-pair-selected' "$tmp/file-span.log")" -ge 2 ]; then
  pass "both recorders resumed: $(grep -m1 'lost camera' "$tmp/view-span.log")"
else
  fail "both recorders resumed: $(tail -3 "$tmp/view-span.log") $(grep -c 'icecam-pair-selected' "$tmp/file-span.log")"
fi
kill -INT "$filer" "$viewer"
wait_exit "$filer" 20
if [ "$waited_rc" = 0 ] && decode "$tmp/span.mp4" "$tmp/span.pts"; then
  read -r n gap a b mono < <(frames_summary "$tmp/span.pts")
  awk -v g="$gap" 'BEGIN { exit !(g >= 1.5) }' && [ "$a" -ge 30 ] && [ "$b" -ge 30 ] && [ "$mono" = 1 ] \
    && pass "view-file.sh spans two camera runs: $a + $b frames, a gap of $gap s, times growing" \
    || fail "view-file.sh spans two camera runs: $a + $b frames, gap $gap s, growing=$mono"
else
  fail "view-file.sh with resume (rc=$waited_rc): $(tail -3 "$tmp/file-span.log")"
fi
wait_exit "$viewer" 20
decoded=$(grep '^icecam-view: result=' "$tmp/view-span.log" | grep -oE 'frames=[0-9]+' | cut -d= -f2)
if decode "$tmp/span.mp4.view.mp4" "$tmp/span-view.pts"; then
  read -r n gap a b mono < <(frames_summary "$tmp/span-view.pts")
  about_equal "$n" "${decoded:-0}" && awk -v g="$gap" 'BEGIN { exit !(g >= 1.5) }' \
    && [ "$a" -ge 30 ] && [ "$b" -ge 30 ] && [ "$mono" = 1 ] \
    && pass "icecam-view --record spans two camera runs: $a + $b frames ($decoded decoded), a gap of $gap s" \
    || fail "icecam-view --record spans two runs: $a + $b frames (${decoded:-none} decoded), gap $gap s, growing=$mono"
else
  fail "icecam-view --record with resume: $(tail -3 "$tmp/view-span.log")"
fi

# 3. A recorder killed outright (power cut): the fragmented MP4 plays up to its last fragment.
ICECAM_OUTPUT="$tmp/killed.mp4" "$src/pipelines/view-file.sh" -m >"$tmp/file-killed.log" 2>&1 &
filer=$!
pids+=($filer)
"$build/src/tools/icecam-view" --server "$url" --camera porch --headless --stats-interval 1 \
  >"$tmp/view-clock.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/file-killed.log" 'icecam-pair-selected' 20 \
  && wait_for_view_frames "$tmp/view-clock.log" 120 20 || fail "the recorder plays"
kill -KILL "$filer"
wait "$filer" 2>/dev/null
# The viewer started with the recorder: what it decoded is about what the recorder got. The
# file may lack the last fragment (a second) and the frames before the first keyframe.
seen=$(view_frames "$tmp/view-clock.log")
if decode "$tmp/killed.mp4" "$tmp/killed.pts"; then
  read -r n _ _ _ mono < <(frames_summary "$tmp/killed.pts")
  [ "$n" -ge $((seen - 60)) ] && [ "$mono" = 1 ] \
    && pass "a killed view-file.sh leaves an MP4 that plays: $n frames (a viewer started with it decoded $seen)" \
    || fail "a killed view-file.sh: $n frames (a viewer started with it decoded $seen), growing=$mono"
else
  fail "a killed view-file.sh leaves an MP4 that plays"
fi

echo "# $failures failure(s)"
[ $failures -eq 0 ]
