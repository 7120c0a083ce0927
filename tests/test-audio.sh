#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Opus audio in the same session, on loopback with a real rendezvous and cameras: a camera with
# --audio test is heard by icecam-view (audio_ms) while its video plays; a camera without audio
# and a pipeline that leaves icecamsrc's audio pad unlinked still play video; audio and video play
# in sync from the camera's sender reports; a mistyped --audio is one line and exit status 2.
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

# gst-launch with the audio pad into sinks that sync and preroll (as autovideosink and
# autoaudiosink do): Opus caps from the offer, decoded, and no deadlock (the pad appears before
# the first video frame, with a gap that prerolls the audio sink). Three times: it was a race.
for i in 1 2 3; do
  out=$(timeout $((40 * slow)) gst-launch-1.0 -v icecamsrc name=src server="$url" camera-id=loud \
    ! rtph264depay request-keyframe=true ! avdec_h264 ! fakesink sync=true async=true num-buffers=60 \
    src.audio ! queue ! rtpopusdepay ! opusdec ! fakesink name=a sync=true async=true silent=false 2>&1); rc=$?
  n=$(echo "$out" | grep -cE '\(a:sink\) \([0-9]+ bytes')
  [ $rc -eq 0 ] && [ "$n" -gt 0 ] && echo "$out" | grep -qE "caps = application/x-rtp, media=\(string\)audio.*OPUS" \
    && pass "icecamsrc's audio pad, async sinks (run $i): Opus RTP, $n decoded buffers" \
    || fail "icecamsrc's audio pad, async sinks (run $i, rc=$rc, $n buffers): $(echo "$out" | grep -v last-message | tail -5)"
done

# The same pipeline and a camera without audio: its audio pad ends at once, the video plays.
out=$(timeout $((40 * slow)) gst-launch-1.0 -v icecamsrc name=src server="$url" camera-id=quiet \
  ! rtph264depay request-keyframe=true ! avdec_h264 ! fakesink name=v sync=true async=true silent=false \
  num-buffers=30 src.audio ! queue ! rtpopusdepay ! opusdec ! fakesink sync=true async=true 2>&1); rc=$?
n=$(echo "$out" | grep -cE '\(v:sink\) \([0-9]+ bytes')
[ $rc -eq 0 ] && [ "$n" -eq 30 ] && pass "audio branch, camera without audio: $n video frames" \
  || fail "audio branch, camera without audio (rc=$rc, $n frames): $(echo "$out" | grep -v last-message | tail -5)"

# Lip sync: a camera whose video reaches icecamsink 250 ms after its audio (an encoder that holds
# frames), both RTP clocks starting at unrelated values; it flashes white and ticks on the same
# instants. Two viewers built like icecam-view measure the audio's skew: stamped on arrival
# (lip-sync=false) the sound runs ahead by about the delay; lined up from the sender reports it
# is within ITU-R BT.1359's bounds (at most 45 ms early, 125 ms late).
gst-launch-1.0 -e videotestsrc is-live=true pattern=blink \
  ! video/x-raw,width=320,height=240,framerate=1/1 \
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=4 ! identity sleep-time=250000 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! rtph264pay aggregate-mode=zero-latency timestamp-offset=1000 \
  ! icecamsink name=sink server="$url" camera-id=flash \
  audiotestsrc is-live=true wave=ticks volume=0.8 ! audioconvert ! audioresample ! opusenc \
  ! rtpopuspay pt=111 timestamp-offset=3000000000 ! sink.audio >"$tmp/flash.log" 2>&1 &
pids+=($!)
if wait_for_cameras "$port" 3 $((20 * slow)); then
  # One after the other: two decoders at once on a loaded machine delay the video they show.
  timeout $((60 * slow)) "$build/tests/av-skew" "$url" flash $((9 * slow)) >"$tmp/synced.log" \
    2>&1; rc_synced=$?
  timeout $((60 * slow)) "$build/tests/av-skew" "$url" flash $((9 * slow)) lip-sync=false \
    >"$tmp/arrival.log" 2>&1; rc_arrival=$?
  skew_synced=$(grep -oE 'median=-?[0-9]+' "$tmp/synced.log" | cut -d= -f2)
  skew_arrival=$(grep -oE 'median=-?[0-9]+' "$tmp/arrival.log" | cut -d= -f2)
  # Stamped on arrival, the sound plays the camera's 250 ms earlier than when lined up. Both
  # viewers share the rest of the delay (decoding, the jitter buffer), which grows with the load
  # (-136 to -291 ms under AddressSanitizer), so the check is on the difference.
  [ $rc_arrival -eq 0 ] && [ $rc_synced -eq 0 ] \
    && [ $(( ${skew_synced:-0} - ${skew_arrival:-0} )) -ge 150 ] \
    && pass "lip-sync=false: audio ${skew_arrival} ms from the video, $(( skew_synced - skew_arrival )) ms before the synced viewer's (the camera's 250 ms)" \
    || fail "lip-sync=false (rc=$rc_arrival, synced rc=$rc_synced skew ${skew_synced:-none}): $(cat "$tmp/arrival.log")"
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ $rc_synced -eq 0 ] && awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 4 * n) }'; then
    # A starved CPU decodes late, and the audio follows the video's arrival, not its decoding.
    echo "ok - # SKIP lip sync bound at load $load on $(nproc) cores: audio ${skew_synced} ms from the video"
  elif [ $rc_synced -eq 0 ] && [ "$slow" -gt 1 ]; then
    # Under AddressSanitizer (scripts/sanitize.sh) the video's decoder is slowed more than the
    # audio's: -62 ms at load 1.1 in a CI run on 7 Dec, +49 ms in the next. The bound is checked
    # in the normal build's run; the check above, on the difference, holds here too.
    echo "ok - # SKIP lip sync bound with the tests slowed ${slow}x: audio ${skew_synced} ms from the video"
  else
    [ $rc_synced -eq 0 ] && [ "${skew_synced:-999}" -ge -45 ] && [ "${skew_synced:-999}" -le 125 ] \
      && pass "lip sync from the sender reports: audio ${skew_synced} ms from the video ($(grep -E '^skew_ms|stamped' "$tmp/synced.log" | tr '\n' ' '))" \
      || fail "lip sync (rc=$rc_synced, load $load): $(tr '\n' ' ' <"$tmp/synced.log")"
  fi
else
  fail "the flashing camera registered: $(cat "$tmp/flash.log")"
fi

# A microphone that is not there: one line naming the device, exit 2, no crash.
if gst-inspect-1.0 alsasrc >/dev/null 2>&1; then
  out=$(timeout $((20 * slow)) "$build/src/tools/icecam-camera" --server "$url" --id mic \
    --source test --audio alsa:hw:9,9 2>&1); rc=$?
  line=$(echo "$out" | grep 'does not start')
  [ $rc -eq 2 ] && echo "$line" | grep -q "hw:9,9" && [ "$(echo "$line" | wc -l)" -eq 1 ] \
    && pass "--audio alsa:hw:9,9 (no such device): $line" || fail "--audio alsa:hw:9,9 (rc=$rc): $out"
else
  echo "ok - # SKIP --audio alsa:DEVICE: no alsasrc (gstreamer1.0-alsa)"
fi

# A mistyped --audio: one line, exit 2.
out=$("$build/src/tools/icecam-camera" --server "$url" --id bad --audio alsa 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q -- "--audio 'alsa'" \
  && pass "--audio alsa (no device): $out" || fail "--audio alsa (rc=$rc): $out"

[ $failures -eq 0 ]
