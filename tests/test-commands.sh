#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The commands as a user runs them: icecam-rendezvous, icecam-camera --source test and
# icecam-view --headless on loopback, the error exits, and the gst-launch scripts.
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
echo "# rendezvous at $url"

"$build/src/tools/icecam-camera" --server "$url" --id frontdoor --source test \
  --keyframe-interval 10 >"$tmp/camera.log" 2>&1 &
camera=$!
pids+=($camera)
if wait_for_cameras "$port" 1; then pass "camera registered"; else fail "camera registered"; cat "$tmp/camera.log"; fi

# The main job: 30 frames over a host pair, first frame long before the 10 s keyframe.
out=$("$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 30 2>&1)
rc=$?
echo "# $out" | tail -1
summary=$(echo "$out" | grep '^icecam-view: result=')
[ $rc -eq 0 ] && pass "icecam-view exits 0" || fail "icecam-view exits 0 (rc=$rc): $out"
echo "$summary" | grep -qE 'frames=(3[0-9]|[4-9][0-9]|[0-9]{3,}) ' && pass "30 frames decoded" || fail "30 frames decoded: $summary"
echo "$summary" | grep -q 'pair=host/host ' && pass "host pair" || fail "host pair: $summary"
echo "$summary" | grep -q 'decoder=openh264dec' && pass "decoded with openh264dec (auto)" \
  || fail "decoded with openh264dec (auto): $summary"
ttff=$(echo "$summary" | grep -oE 'ttff_ms=[0-9.]+' | cut -d= -f2)
[ -n "$ttff" ] && awk "BEGIN { exit !($ttff < 5000) }" && pass "ttff_ms=$ttff (GOP is 10 s)" || fail "ttff_ms=$ttff"
gap=$(echo "$summary" | grep -oE 'max_gap_ms=[0-9]+' | cut -d= -f2)
[ -n "$gap" ] && [ "$gap" -lt 5000 ] && pass "max_gap_ms=$gap" || fail "max_gap_ms: $summary"

# A second viewer while the camera keeps running (the camera served the first and is still up).
out=$("$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 30 2>&1)
[ $? -eq 0 ] && pass "a second viewer plays" || fail "a second viewer plays: $out"
grep -q 'pair=host/host' "$tmp/camera.log" && pass "camera reports the pair" || fail "camera reports the pair"

# --verbose, the same in every command: icecam's debug logs on stderr ($2), none on stdout ($1).
# (The other three commands are checked on the libsoup stream below.)
verbose_ok() { grep -qE 'icecam[a-z-]*-DEBUG' "$2" && ! grep -qE -- '-(DEBUG|INFO)' "$1"; }
"$build/src/tools/icecam-natprobe" --rendezvous "$url" --verbose >"$tmp/natprobe.out" 2>"$tmp/natprobe.err"
verbose_ok "$tmp/natprobe.out" "$tmp/natprobe.err" && pass "icecam-natprobe --verbose" \
  || fail "icecam-natprobe --verbose: $(cat "$tmp/natprobe.out" "$tmp/natprobe.err")"

# Unknown camera: non-zero and a message naming it.
out=$("$build/src/tools/icecam-view" --server "$url" --camera backyard --headless --frames 1 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "backyard" && echo "$out" | grep -q "result=error" \
  && pass "unknown camera refused" || fail "unknown camera refused (rc=$rc): $out"

# Unreachable server.
out=$("$build/src/tools/icecam-view" --server ws://127.0.0.1:1 --camera frontdoor --headless --frames 1 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "cannot reach the rendezvous" \
  && pass "unreachable server reported" || fail "unreachable server reported (rc=$rc): $out"

# Bad option: exit 2 with the reason.
out=$("$build/src/tools/icecam-view" --server "$url" 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q -- "--camera" && pass "missing option" || fail "missing option: $out"

# Stopped before the frames asked for: not ok, exit 1, and stderr says how far it got.
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 100000 \
  --stats-interval 1 >"$tmp/view-stopped.log" 2>"$tmp/view-stopped.err" &
viewer=$!
pids+=($viewer)
wait_for_line "$tmp/view-stopped.log" 'progress frames=[1-9]' 15
kill -INT "$viewer"
wait "$viewer"; rc=$?
summary=$(grep '^icecam-view: result=' "$tmp/view-stopped.log")
[ $rc -eq 1 ] && echo "$summary" | grep -q 'result=incomplete ' \
  && grep -qE '^icecam-view: incomplete: decoded [0-9]+ of the 100000 frames asked for; stopped by SIGINT' \
    "$tmp/view-stopped.err" \
  && pass "a viewer stopped early is incomplete: $(cat "$tmp/view-stopped.err")" \
  || fail "a viewer stopped early is incomplete (rc=$rc): $summary $(cat "$tmp/view-stopped.err")"

# A --no-retry viewer of a camera that stops mid-run: not ok either.
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 100000 \
  --no-retry --timeout 10 --stats-interval 1 >"$tmp/view-lost.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_line "$tmp/view-lost.log" 'progress frames=[1-9]' 15

# Ctrl-C stops the camera cleanly and it leaves the presence list.
kill -INT "$camera"
wait "$camera"; rc=$?
[ $rc -eq 0 ] && pass "camera stops on SIGINT" || fail "camera stops on SIGINT (rc=$rc)"
wait_for_cameras "$port" 0 && pass "camera left the rendezvous" || fail "camera left the rendezvous"
wait_for_line "$tmp/view-lost.log" '^icecam-view: result=' 30
summary=$(grep '^icecam-view: result=' "$tmp/view-lost.log")
[ -n "$summary" ] && ! echo "$summary" | grep -q 'result=ok ' \
  && pass "the viewer of a camera that stopped is not ok: $summary" \
  || fail "the viewer of a camera that stopped is not ok: $(tail -3 "$tmp/view-lost.log")"

# The gst-launch scripts: a test-pattern camera and a headless viewer.
export ICECAM_SERVER="$url" ICECAM_CAMERA=scripted ICECAM_BUILD_DIR="$build"
"$src/pipelines/camera-test.sh" -q >"$tmp/camera-script.log" 2>&1 &
pids+=($!)
wait_for_cameras "$port" 1 && pass "camera-test.sh registers" || fail "camera-test.sh registers: $(cat "$tmp/camera-script.log")"
out=$(ICECAM_FRAMES=30 timeout 30 "$src/pipelines/view-headless.sh" -q 2>&1)
rc=$?
[ $rc -eq 0 ] && pass "view-headless.sh plays 30 frames" || fail "view-headless.sh (rc=$rc): $out"
out=$(ICECAM_FRAMES=60 ICECAM_OUTPUT="$tmp/camera.mp4" timeout 30 "$src/pipelines/view-file.sh" -q 2>&1)
rc=$?
size=$(stat -c %s "$tmp/camera.mp4" 2>/dev/null || echo 0)
[ $rc -eq 0 ] && [ "$size" -gt 1000 ] && pass "view-file.sh records ($size bytes)" || fail "view-file.sh (rc=$rc, $size bytes): $out"

# A camera whose stream OpenH264 refuses: rtph264pay config-interval=-1 puts SPS/PPS between
# the slices of x264's sliced-thread IDRs. The automatic decoder switches to avdec_h264.
gst-launch-1.0 -q videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
  ! rtph264pay config-interval=-1 aggregate-mode=zero-latency \
  ! icecamsink server="$url" camera-id=sliced >"$tmp/sliced.log" 2>&1 &
pids+=($!)
wait_for_cameras "$port" 2 && pass "sliced camera registers" || fail "sliced camera registers: $(cat "$tmp/sliced.log")"
out=$("$build/src/tools/icecam-view" --server "$url" --camera sliced --headless --frames 10 2>&1)
rc=$?
summary=$(echo "$out" | grep '^icecam-view: result=')
[ $rc -eq 0 ] && echo "$summary" | grep -q 'decoder=avdec_h264' \
  && echo "$out" | grep -q "openh264dec cannot decode camera 'sliced'; decoding with avdec_h264" \
  && pass "falls back to avdec_h264" || fail "falls back to avdec_h264 (rc=$rc): $out"
out=$("$build/src/tools/icecam-view" --server "$url" --camera sliced --headless --frames 1 --decoder nosuchdec 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q "no GStreamer element 'nosuchdec'" && pass "unknown --decoder refused" \
  || fail "unknown --decoder refused: $out"

# libsoup's own WebSocket stream (--ws-stream libsoup, or ICECAM_WS_STREAM; the option wins):
# what bisecting a libsoup upgrade runs on. A camera and a viewer play through it, every
# command with --verbose.
ICECAM_WS_STREAM=epoll "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose \
  --ws-stream libsoup >"$tmp/rv-libsoup.out" 2>"$tmp/rv-libsoup.log" &
pids+=($!)
if wait_for_line "$tmp/rv-libsoup.out" 'listening on ws://' 10; then
  soup_url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv-libsoup.out" | head -1)
  grep -q 'WebSocket stream: libsoup' "$tmp/rv-libsoup.log" \
    && pass "--ws-stream libsoup, over ICECAM_WS_STREAM=epoll" || fail "--ws-stream libsoup: $(cat "$tmp/rv-libsoup.log")"
  "$build/src/tools/icecam-camera" --server "$soup_url" --id soupcam --source test \
    --keyframe-interval 10 --verbose >"$tmp/camera-libsoup.out" 2>"$tmp/camera-libsoup.log" &
  pids+=($!)
  wait_for_cameras "${soup_url##*:}" 1 && pass "camera registers on the libsoup stream" \
    || fail "camera registers on the libsoup stream: $(cat "$tmp/camera-libsoup.out" "$tmp/camera-libsoup.log")"
  verbose_ok "$tmp/camera-libsoup.out" "$tmp/camera-libsoup.log" && pass "icecam-camera --verbose" \
    || fail "icecam-camera --verbose: $(cat "$tmp/camera-libsoup.out")"
  "$build/src/tools/icecam-view" --server "$soup_url" --camera soupcam --headless --frames 30 \
    --verbose >"$tmp/view-libsoup.out" 2>"$tmp/view-libsoup.log"
  rc=$?
  out=$(cat "$tmp/view-libsoup.out")
  summary=$(echo "$out" | grep '^icecam-view: result=')
  [ $rc -eq 0 ] && echo "$summary" | grep -qE 'frames=(3[0-9]|[4-9][0-9]|[0-9]{3,}) ' \
    && pass "30 frames through the libsoup stream" || fail "30 frames through the libsoup stream (rc=$rc): $out"
  verbose_ok "$tmp/view-libsoup.out" "$tmp/view-libsoup.log" && pass "icecam-view --verbose" \
    || fail "icecam-view --verbose: $out"
  verbose_ok "$tmp/rv-libsoup.out" "$tmp/rv-libsoup.log" && pass "icecam-rendezvous --verbose" \
    || fail "icecam-rendezvous --verbose: $(cat "$tmp/rv-libsoup.out")"
else
  fail "rendezvous --ws-stream libsoup starts: $(cat "$tmp/rv-libsoup.out" "$tmp/rv-libsoup.log")"
fi
ICECAM_WS_STREAM=libsoup "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose \
  >"$tmp/rv-env.out" 2>"$tmp/rv-env.log" &
env_rendezvous=$!
pids+=($env_rendezvous)
wait_for_line "$tmp/rv-env.out" 'listening on ws://' 10 && grep -q 'WebSocket stream: libsoup' "$tmp/rv-env.log" \
  && pass "ICECAM_WS_STREAM=libsoup" || fail "ICECAM_WS_STREAM=libsoup: $(cat "$tmp/rv-env.out" "$tmp/rv-env.log")"
kill "$env_rendezvous"
# A wrong value, from the option or the environment: one line, exit 2.
out=$("$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --ws-stream bogus 2>&1)
rc=$?
[ $rc -eq 2 ] && [ "$out" = "icecam-rendezvous: --ws-stream must be 'epoll' or 'libsoup', not 'bogus'" ] \
  && pass "--ws-stream bogus refused" || fail "--ws-stream bogus refused (rc=$rc): $out"
out=$(ICECAM_WS_STREAM=bogus "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 2>&1)
rc=$?
[ $rc -eq 2 ] && [ "$out" = "icecam-rendezvous: ICECAM_WS_STREAM must be 'epoll' or 'libsoup', not 'bogus'" ] \
  && pass "ICECAM_WS_STREAM=bogus refused" || fail "ICECAM_WS_STREAM=bogus refused (rc=$rc): $out"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
