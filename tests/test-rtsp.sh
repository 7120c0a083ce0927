#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# IP cameras over RTSP, on loopback with the real commands and a real RTSP server
# (tests/rtsp-test-server, gst-rtsp-server: H.264 with a 4 s GOP and AAC audio): the camera
# passes the H.264 through (no encoder in its process) to a viewer that decodes it; with
# digest authentication; a late viewer starts from the GOP cache; the RTSP server restarted
# mid-stream and the viewer continues; wrong credentials, an unreachable camera, MJPEG and
# H.265 each give their one clear line. The camera's AAC is transcoded to Opus (--audio auto)
# and heard by the viewer, as is G.711 (PCMA); a camera without audio says so and plays.
set -u
build=${ICECAM_BUILD_DIR:?}
TEST_KILL_SIGNAL=KILL
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { mkdir -p /tmp/test-rtsp-logs; cp "$tmp"/*.log /tmp/test-rtsp-logs/; }
slowdown=${ICECAM_TEST_SLOWDOWN:-1}
camera_bin="$build/src/tools/icecam-camera"
view_bin="$build/src/tools/icecam-view"
server_bin="$build/tests/rtsp-test-server"

frames() { grep -oE 'progress frames=[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+$' || echo 0; }
wait_for_frames() { # log, frames, seconds
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(frames "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# Starts an RTSP server logging to $1 with the options after it; sets $rtsp_pid, $rtsp_port.
start_rtsp() {
  local log=$1; shift
  "$server_bin" "$@" >"$tmp/$log" 2>&1 &
  rtsp_pid=$!
  pids+=($rtsp_pid)
  wait_for_line "$tmp/$log" 'port [0-9]+' 10 || { cat "$tmp/$log"; exit 1; }
  rtsp_port=$(grep -oE 'port [0-9]+' "$tmp/$log" | head -1 | grep -oE '[0-9]+')
}

# Starts a camera logging to $1 with id $2 and further options; sets $camera_pid.
start_camera() {
  local log=$1 id=$2; shift 2
  "$camera_bin" --server "$url" --id "$id" "$@" >"$tmp/$log" 2>&1 &
  camera_pid=$!
  pids+=($camera_pid)
}

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rv.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rv.log" 'listening on ws://' 10 || { cat "$tmp/rv.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv.log" | head -1)

# 1. Pass-through of H.264 with AAC audio in the same RTSP session.
start_rtsp rtsp.log --gop 4 --audio --no-inband-params
start_camera cam.log front --source "rtsp://127.0.0.1:$rtsp_port/cam"
cam=$camera_pid
wait_for_line "$tmp/cam.log" 'receiving H.264' $((15 * slowdown)) \
  && pass "camera reads the RTSP stream (H.264 + AAC)" || fail "camera reads the RTSP stream: $(cat "$tmp/cam.log")"
"$view_bin" --server "$url" --camera front --headless --stats-interval 1 >"$tmp/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_frames "$tmp/view.log" 30 $((20 * slowdown)) \
  && pass "viewer decodes the passed-through stream" || fail "viewer decodes: $(tail -3 "$tmp/view.log")"
grep -q 'encoder none' "$tmp/cam.log" && pass "camera says it encodes nothing" \
  || fail "no 'encoder none' line"
# A video encoder would have to be mapped into the process to run: none is (the AAC is decoded
# by faad and encoded by libopus, which are not in the list).
encoders=$(grep -oE 'lib(x264|openh264|avcodec|gstx264|gstopenh264|gstlibav|x265|vpx)[^ ]*' \
  "/proc/$cam/maps" | sort -u | tr '\n' ' ')
[ -z "$encoders" ] && pass "no video encoder library in the camera process" \
  || fail "encoder libraries in the camera process: $encoders"

# 2. A late viewer of the 4 s GOP starts from the cache: the camera says so for its session,
# and its first frame comes long before a GOP has passed.
"$view_bin" --server "$url" --camera front --headless --frames 10 >"$tmp/late.log" 2>&1
session=$(grep -oE 'session=[0-9a-f]+' "$tmp/late.log" | head -1 | cut -d= -f2)
ttff=$(grep -oE 'ttff_ms=[0-9]+' "$tmp/late.log" | cut -d= -f2)
grep -q "session $session starts from the GOP cache" "$tmp/cam.log" \
  && pass "late viewer $session started from the GOP cache" \
  || fail "late viewer not from the cache: $(tail -1 "$tmp/late.log")"
[ -n "$ttff" ] && [ "$ttff" -lt $((2000 * slowdown)) ] \
  && pass "late viewer's first frame after ${ttff} ms (GOP 4000 ms)" \
  || fail "late viewer's first frame: ${ttff:-none} ms"

# 2b. The camera's AAC, transcoded to Opus, in the same session as the passed-through video.
out=$("$view_bin" --server "$url" --camera front --headless --frames 150 --timeout $((20 * slowdown)) 2>&1)
audio_ms=$(echo "$out" | grep -oE 'audio_ms=[0-9]+' | cut -d= -f2)
[ "${audio_ms:-0}" -gt 0 ] && echo "$out" | grep -q 'result=ok' \
  && pass "the RTSP camera's AAC is heard as Opus: audio_ms=$audio_ms with the video" \
  || fail "RTSP audio: $(echo "$out" | tail -2)"
grep -q 'audio none' "$tmp/cam.log" && fail "camera with AAC said 'audio none'" \
  || pass "camera with AAC takes its audio"

# 2c. G.711, as most IP cameras send it: PCMA (8 kHz) transcoded to Opus, heard by the viewer.
main_rtsp_pid=$rtsp_pid main_rtsp_port=$rtsp_port
start_rtsp rtsp-pcma.log --gop 2 --audio-codec pcma
pcma_rtsp=$rtsp_pid
start_camera cam-pcma.log pcma --source "rtsp://127.0.0.1:$rtsp_port/cam"
pcma_cam=$camera_pid
out=$("$view_bin" --server "$url" --camera pcma --wait --headless --frames 60 \
  --timeout $((20 * slowdown)) 2>&1)
audio_ms=$(echo "$out" | grep -oE 'audio_ms=[0-9]+' | cut -d= -f2)
grep -q 'audio PCMA, transcoded to Opus' "$tmp/cam-pcma.log" && [ "${audio_ms:-0}" -gt 0 ] \
  && echo "$out" | grep -q 'result=ok' \
  && pass "the RTSP camera's PCMA is heard as Opus: audio_ms=$audio_ms" \
  || fail "RTSP PCMA audio: $(echo "$out" | tail -2); camera: $(tail -3 "$tmp/cam-pcma.log")"
kill "$pcma_cam" "$pcma_rtsp" 2>/dev/null
rtsp_pid=$main_rtsp_pid rtsp_port=$main_rtsp_port

# 3. The RTSP server dies mid-stream and comes back on its port: the camera connects again
# and the viewer, still in its session, decodes again.
kill -9 "$rtsp_pid"; wait "$rtsp_pid" 2>/dev/null
at_kill=$(frames "$tmp/view.log")
wait_for_line "$tmp/cam.log" 'connecting again in' $((10 * slowdown)) \
  && pass "camera notices the RTSP server went away" || fail "camera did not notice: $(tail -3 "$tmp/cam.log")"
start_rtsp rtsp2.log --gop 4 --audio --port "$rtsp_port"
if wait_for_frames "$tmp/view.log" $((at_kill + 60)) $((30 * slowdown)); then
  pass "viewer decodes again after the RTSP server restarted ($at_kill -> $(frames "$tmp/view.log") frames)"
else
  fail "viewer did not continue: $(tail -2 "$tmp/view.log"); camera: $(tail -3 "$tmp/cam.log")"
fi
kill "$viewer" 2>/dev/null

# 4. Digest authentication, media interleaved over TCP: the right password (from a file) plays; a wrong one gives one
# line naming the URL and the user, never the password; none at all says what is needed.
printf 'sesame-4711\n' >"$tmp/pw"
printf 'wrong-0815\n' >"$tmp/badpw"
start_rtsp rtsp-auth.log --gop 4 --user alice --password-file "$tmp/pw" --auth digest
auth_port=$rtsp_port
start_camera cam-auth.log door --source "rtsp://alice@127.0.0.1:$auth_port/cam" \
  --rtsp-password-file "$tmp/pw" --rtsp-transport tcp
grep -q sesame "/proc/$camera_pid/cmdline" && fail "password in the process list" \
  || pass "no password in the process list"
"$view_bin" --server "$url" --camera door --wait --headless --frames 10 --timeout $((20 * slowdown)) \
  >"$tmp/view-auth.log" 2>&1 && pass "digest-authenticated camera plays (media over TCP)" \
  || fail "digest-authenticated camera: $(tail -2 "$tmp/view-auth.log")"
grep -q 'audio_ms=0' "$tmp/view-auth.log" && grep -q 'audio none: the camera' "$tmp/cam-auth.log" \
  && pass "a camera without audio says so; its viewer plays video only" \
  || fail "camera without audio: $(grep audio "$tmp/cam-auth.log") $(tail -1 "$tmp/view-auth.log")"
ICECAM_RTSP_PASSWORD=wrong-0815 timeout $((30 * slowdown)) "$camera_bin" --server "$url" --id door2 \
  --source "rtsp://alice@127.0.0.1:$auth_port/cam" >"$tmp/cam-badpw.log" 2>&1
rc=$?
line="refused user 'alice': wrong user name or password"
[ $rc -eq 1 ] && grep -q "camera rtsp://alice@127.0.0.1:$auth_port/cam $line" "$tmp/cam-badpw.log" \
  && pass "wrong password: exit 1, one clear line" || fail "wrong password: rc=$rc $(cat "$tmp/cam-badpw.log")"
grep -q 'wrong-0815' "$tmp/cam-badpw.log" && fail "the password is in the output" \
  || pass "the password is not in the output"
timeout $((30 * slowdown)) "$camera_bin" --server "$url" --id door3 \
  --source "rtsp://127.0.0.1:$auth_port/cam" >"$tmp/cam-nopw.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'wants a user name and password' "$tmp/cam-nopw.log" \
  && pass "no credentials: exit 1, one clear line" || fail "no credentials: rc=$rc $(cat "$tmp/cam-nopw.log")"
"$camera_bin" --server "$url" --id door4 --source "rtsp://alice:sesame@127.0.0.1:$auth_port/cam" \
  >"$tmp/cam-urlpw.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'no password in the URL' "$tmp/cam-urlpw.log" \
  && pass "a password in the URL is refused (exit 2)" || fail "password in URL: rc=$rc"

# 5. An unreachable camera (the port of a server that is gone): a clear line, and retries.
start_rtsp rtsp-gone.log
gone_port=$rtsp_port
kill -9 "$rtsp_pid"; wait "$rtsp_pid" 2>/dev/null
start_camera cam-gone.log gone --source "rtsp://127.0.0.1:$gone_port/cam"
if wait_for_line "$tmp/cam-gone.log" 'connecting again in 2 s' $((10 * slowdown)) &&
   grep -qE "camera rtsp://127.0.0.1:$gone_port/cam: cannot reach it" "$tmp/cam-gone.log" &&
   kill -0 "$camera_pid" 2>/dev/null; then
  pass "unreachable camera: a clear line, retried with backoff"
else
  fail "unreachable camera: $(cat "$tmp/cam-gone.log")"
fi

# 6. Not H.264: one clear line and exit 1 (icecam does not transcode).
for codec in mjpeg h265; do
  start_rtsp "rtsp-$codec.log" --video $codec
  timeout $((30 * slowdown)) "$camera_bin" --server "$url" --id "$codec" \
    --source "rtsp://127.0.0.1:$rtsp_port/cam" >"$tmp/cam-$codec.log" 2>&1
  rc=$?
  [ $rc -eq 1 ] && grep -qE 'sends (JPEG|H265) video, not H.264' "$tmp/cam-$codec.log" \
    && pass "$codec: exit 1, one clear line" || fail "$codec: rc=$rc $(cat "$tmp/cam-$codec.log")"
done

# 7. Encoders for the sources that are encoded: the choice is printed; an unknown one, or one
# with an RTSP source, is a one-line error with exit 2; a named one plays.
"$camera_bin" --server "$url" --id enc1 --source test --encoder nosuch >"$tmp/enc-bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/enc-bad.log")" -eq 1 ] && grep -q "'nosuch' is not an installed H.264 encoder" "$tmp/enc-bad.log" \
  && pass "unknown encoder: one line, exit 2" || fail "unknown encoder: rc=$rc $(cat "$tmp/enc-bad.log")"
"$camera_bin" --server "$url" --id enc2 --source rtsp://127.0.0.1:1/cam --encoder x264 >"$tmp/enc-rtsp.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'does not apply to an RTSP source' "$tmp/enc-rtsp.log" \
  && pass "--encoder with an RTSP source: exit 2" || fail "--encoder with RTSP: rc=$rc $(cat "$tmp/enc-rtsp.log")"
rv_port=${url##*:}
for enc in auto openh264enc; do
  online=$(healthz_cameras "$rv_port")
  start_camera "cam-enc-$enc.log" "enc-$enc" --source test --encoder $enc
  wait_for_cameras "$rv_port" $((online + 1)) $((10 * slowdown))
  if "$view_bin" --server "$url" --camera "enc-$enc" --headless --frames 10 \
       --timeout $((20 * slowdown)) >"$tmp/view-enc-$enc.log" 2>&1 &&
     grep -qE '^icecam-camera: encoder [a-z0-9]+ \((hardware|software)' "$tmp/cam-enc-$enc.log"; then
    pass "--encoder $enc: $(grep -m1 'encoder' "$tmp/cam-enc-$enc.log" | cut -d' ' -f2-), plays"
  else
    fail "--encoder $enc: $(cat "$tmp/cam-enc-$enc.log") $(tail -1 "$tmp/view-enc-$enc.log")"
  fi
  kill "$camera_pid" 2>/dev/null
  wait "$camera_pid" 2>/dev/null
done

[ $failures -eq 0 ]
