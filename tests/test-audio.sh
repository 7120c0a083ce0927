#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Opus audio in the same session, on loopback with a real rendezvous and cameras: a camera with
# --audio test is heard by icecam-view (audio_ms) while its video plays; a camera without audio
# and a pipeline that leaves icecamsrc's audio pad unlinked still play video; a mistyped --audio
# is one line and exit status 2.
set -u
build=${ICECAM_BUILD_DIR:?}
TEST_KILL_SIGNAL=INT
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
slow=${ICECAM_TEST_SLOWDOWN:-1}

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rendezvous.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rendezvous.log" 'listening on ws://' 10 || { cat "$tmp/rendezvous.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rendezvous.log" | head -1)
port=${url##*:}

"$build/src/tools/icecam-camera" --server "$url" --id loud --source test --audio test \
  --keyframe-interval 2 >"$tmp/loud.log" 2>&1 &
pids+=($!)
"$build/src/tools/icecam-camera" --server "$url" --id quiet --source test --audio none \
  --keyframe-interval 2 >"$tmp/quiet.log" 2>&1 &
pids+=($!)
wait_for_cameras "$port" 2 $((20 * slow)) && pass "two cameras registered" \
  || { fail "cameras registered: $(cat "$tmp/loud.log" "$tmp/quiet.log")"; exit 1; }

field() { echo "$1" | grep -oE "(^| )$2=[^ ]+" | head -1 | cut -d= -f2; }

# A camera with audio: the viewer decodes video and Opus from the one session.
out=$(timeout $((40 * slow)) "$build/src/tools/icecam-view" --server "$url" --camera loud \
  --headless --frames 90 2>&1); rc=$?
summary=$(echo "$out" | grep 'result=')
frames=$(field "$summary" frames); audio=$(field "$summary" audio_ms)
[ $rc -eq 0 ] && [ "${frames:-0}" -eq 90 ] && [ "${audio:-0}" -gt 0 ] \
  && pass "--audio test: frames=$frames audio_ms=$audio in one session" \
  || fail "--audio test (rc=$rc): $out"

# With --json the same figure.
out=$(timeout $((40 * slow)) "$build/src/tools/icecam-view" --server "$url" --camera loud \
  --headless --frames 30 --json 2>/dev/null); rc=$?
audio=$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["audio_ms"])' 2>/dev/null)
[ $rc -eq 0 ] && [ "${audio:-0}" -gt 0 ] && pass "--json has audio_ms=$audio" \
  || fail "--json audio_ms (rc=$rc): $out"

# A camera without audio: video as before, no audio.
out=$(timeout $((40 * slow)) "$build/src/tools/icecam-view" --server "$url" --camera quiet \
  --headless --frames 30 2>&1); rc=$?
summary=$(echo "$out" | grep 'result=')
[ $rc -eq 0 ] && [ "$(field "$summary" frames)" = 30 ] && [ "$(field "$summary" audio_ms)" = 0 ] \
  && pass "--audio none: $summary" || fail "--audio none (rc=$rc): $out"

# A pipeline that knows nothing of audio (the audio pad unlinked) plays the video.
out=$(timeout $((40 * slow)) gst-launch-1.0 -v icecamsrc server="$url" camera-id=loud \
  ! rtph264depay request-keyframe=true ! avdec_h264 ! fakesink name=frames silent=false \
  num-buffers=30 2>&1); rc=$?
n=$(echo "$out" | grep -cE '\(frames:sink\) \([0-9]+ bytes')
[ $rc -eq 0 ] && [ "$n" -eq 30 ] && pass "audio pad unlinked: $n video frames decoded" \
  || fail "audio pad unlinked (rc=$rc, $n frames): $(echo "$out" | grep -m3 -E 'ERROR|WARN')"

# gst-launch with the audio pad: Opus caps from the offer, decoded.
out=$(timeout $((40 * slow)) gst-launch-1.0 -v icecamsrc name=src server="$url" camera-id=loud \
  ! rtph264depay request-keyframe=true ! avdec_h264 ! fakesink sync=false async=false num-buffers=60 \
  src.audio ! queue ! rtpopusdepay ! opusdec ! fakesink name=a sync=false async=false silent=false 2>&1); rc=$?
n=$(echo "$out" | grep -cE '\(a:sink\) \([0-9]+ bytes')
[ $rc -eq 0 ] && [ "$n" -gt 0 ] && echo "$out" | grep -qE "queue0.GstPad:sink: caps = application/x-rtp, media=\(string\)audio.*OPUS" \
  && pass "icecamsrc's audio pad: Opus RTP, $n decoded buffers" \
  || fail "icecamsrc's audio pad (rc=$rc, $n buffers): $(echo "$out" | grep -v last-message | tail -5)"

# A mistyped --audio: one line, exit 2.
out=$("$build/src/tools/icecam-camera" --server "$url" --id bad --audio alsa 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q -- "--audio 'alsa'" \
  && pass "--audio alsa (no device): $out" || fail "--audio alsa (rc=$rc): $out"

[ $failures -eq 0 ]
