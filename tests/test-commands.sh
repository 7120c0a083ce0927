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
# It says so once it is registered, not before.
wait_for_line "$tmp/camera.log" "^icecam-camera: camera 'frontdoor' registered with the rendezvous $url$" 10 \
  && pass "camera prints that it registered" || fail "camera prints that it registered: $(cat "$tmp/camera.log")"

# A camera that cannot reach its rendezvous does not claim to be registered, and says so once
# a retry: one line each, no place in the source, no GLib message line.
# The log exists before the camera does: a background command's redirection happens in its own
# process, and a grep of a file not there yet ended the wait at once (then SIGINT came before
# the camera's handler: killed, or ignored as background jobs ignore it, and the wait hung).
: >"$tmp/camera-nowhere.log"
LC_ALL=C.UTF-8 "$build/src/tools/icecam-camera" --server ws://127.0.0.1:1 --id nowhere --source test \
  >"$tmp/camera-nowhere.log" 2>&1 &
nowhere=$!
pids+=($nowhere)
deadline=$((SECONDS + 15))
while [ $SECONDS -lt $deadline ] && [ "$(grep -c 'warning: .*retrying' "$tmp/camera-nowhere.log")" -lt 2 ]; do
  sleep 0.05
done
kill -INT "$nowhere"; wait "$nowhere"
warnings=$(grep -c "^icecam-camera: warning: Cannot register with the icecam rendezvous; retrying\. (cannot reach the rendezvous at ws://127.0.0.1:1/ws: .*)$" "$tmp/camera-nowhere.log")
[ "$warnings" -ge 1 ] && ! grep -qE 'registered|icecam-(Message|WARNING)|\.c\([0-9]+\)' "$tmp/camera-nowhere.log" \
  && [ "$(grep -vcE '^icecam-camera: (fingerprint|encoder |camera .nowhere. streaming|warning: Cannot register|stopping|stopped)' "$tmp/camera-nowhere.log")" -eq 0 ] \
  && pass "an unreachable rendezvous: $warnings retry line(s), one line each, never 'registered'" \
  || fail "an unreachable rendezvous: $(cat "$tmp/camera-nowhere.log")"

# The main job: 30 frames over a host pair, first frame long before the 10 s keyframe.
out=$("$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 30 2>&1)
rc=$?
echo "# $out" | tail -1
summary=$(echo "$out" | grep '^icecam-view: result=')
[ $rc -eq 0 ] && pass "icecam-view exits 0" || fail "icecam-view exits 0 (rc=$rc): $out"
echo "$out" | grep -qE "^icecam-view: watching camera 'frontdoor' \(session [0-9a-f]+, pair host/host\)$" \
  && pass "viewer prints that it is watching" || fail "viewer prints that it is watching: $out"
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
[ "$(echo "$out" | grep -c "not online")" -eq 1 ] && ! echo "$out" | grep -q "icecam-Message" \
  && pass "the error is printed once" || fail "the error is printed once: $out"

# Unreachable server.
out=$("$build/src/tools/icecam-view" --server ws://127.0.0.1:1 --camera frontdoor --headless --frames 1 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "cannot reach the rendezvous" \
  && pass "unreachable server reported" || fail "unreachable server reported (rc=$rc): $out"

# Bad option: exit 2 with the reason.
out=$("$build/src/tools/icecam-view" --server "$url" 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q -- "--camera" && pass "missing option" || fail "missing option: $out"

# Every mistyped option: exit 2 and one line naming the option, before anything starts.
# usage_error TOOL EXPECTED-TEXT ARGS...
usage_error() {
  local tool=$1 expected=$2 out rc
  shift 2
  out=$(LC_ALL=C.UTF-8 timeout 20 "$tool" "$@" 2>&1); rc=$?
  if [ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -qF -- "$expected"; then
    pass "${tool##*/} $*: $out"
  else
    fail "${tool##*/} $* (rc=$rc, want exit 2 and one line with '$expected'): $out"
  fi
}
cam="$build/src/tools/icecam-camera"
view="$build/src/tools/icecam-view"
long_id=$(printf 'a%.0s' $(seq 65))
for tool in "$cam --id" "$view --camera"; do
  t=${tool% *} id=${tool#* }
  usage_error "$t" "--server: 'http://127.0.0.1:$port' is not a ws://" "$id" x --server "http://127.0.0.1:$port"
  usage_error "$t" "--server: '127.0.0.1:$port' is not a ws://" "$id" x --server "127.0.0.1:$port"
  usage_error "$t" "--stun-server: 'http://127.0.0.1' is not a stun:" "$id" x --server "$url" --stun-server http://127.0.0.1
  usage_error "$t" "--turn-server: TURN server 'turn:127.0.0.1' has no username" "$id" x --server "$url" --turn-server turn:127.0.0.1
  usage_error "$t" "--ice-transport-policy must be 'all' or 'relay'" "$id" x --server "$url" --ice-transport-policy none
  usage_error "$t" "--ca-file: Failed to open file “$tmp/none.pem”" "$id" x --server "$url" --ca-file "$tmp/none.pem"
  usage_error "$t" "unexpected argument 'stray'" "$id" x --server "$url" stray
done
usage_error "$cam" "--id: 'front door' is not an id" --server "$url" --id "front door"
usage_error "$cam" "--id: '$long_id' is not an id (1 to 64 characters" --server "$url" --id "$long_id"
usage_error "$cam" "--source: there is no /dev/video77" --server "$url" --id x --source v4l2:/dev/video77
usage_error "$cam" "--secret-file: Failed to open file “$tmp/none.secret”" --server "$url" --id x --secret-file "$tmp/none.secret"
usage_error "$cam" "--fps must be 1 to 120, not 0" --server "$url" --id x --fps 0
usage_error "$cam" "--max-viewers must be 1 to 1024, not -3" --server "$url" --id x --max-viewers -3
usage_error "$view" "--camera: 'back yard' is not an id" --server "$url" --camera "back yard"
usage_error "$view" "--camera-fingerprint: fingerprint 'AB:CD' is not 'sha-256" --server "$url" --camera x --camera-fingerprint AB:CD
usage_error "$view" "--stats-interval must be 0 to 86400, not -1" --server "$url" --camera x --stats-interval -1
usage_error "$view" "--frames must be 0 to" --server "$url" --camera x --frames -5
usage_error "$view" "--token-file: Failed to open file" --server "$url" --camera x --token-file "$tmp/none.token"
usage_error "$build/src/tools/icecam-natprobe" "unexpected argument 'stray'" --rendezvous "$url" stray
usage_error "$build/src/server/icecam-rendezvous" "unexpected argument 'stray'" --listen 127.0.0.1:0 stray
usage_error "$build/src/server/icecam-rendezvous" "token: unexpected argument 'stray'" token --camera x --token-key-file /dev/null stray
"$build/src/server/icecam-rendezvous" token --help | grep -qF -- "--ttl=DURATION" \
  && "$build/src/server/icecam-rendezvous" token --help | grep -- "--ttl=DURATION" | grep -qF "(default 1h)" \
  && pass "the token command's --ttl default is in its help" || fail "token --help: no --ttl default"

# --version on every command: one line, the project's version, exit 0.
version=$(sed -nE "s/^ *version *: *'([^']+)'.*/\1/p" "$src/meson.build" | head -1)
for tool in src/tools/icecam-camera src/tools/icecam-view src/tools/icecam-natprobe src/server/icecam-rendezvous; do
  out=$("$build/$tool" --version 2>&1); rc=$?
  [ $rc -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -qE "^${tool##*/} $version( |$)" \
    && pass "$out" || fail "${tool##*/} --version (rc=$rc): $out"
done

# A start that fails in the element (not in the options) prints the element's error and its
# reason, without the place in the source unless --verbose, and exits 2.
noperm=/proc/icecam-test/cam.pem  # a directory nobody can create, root included
out=$(timeout 20 "$cam" --server "$url" --id x --source test --certificate "$noperm" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qE "^icecam-camera: does not start: Cannot load the camera's certificate\. \(cannot create directory" \
  && ! echo "$out" | grep -qE '\.c\([0-9]+\)' \
  && pass "camera start failure says why: $(echo "$out" | head -1)" || fail "camera start failure (rc=$rc): $out"
out=$(timeout 20 "$cam" --server "$url" --id x --source test --certificate "$noperm" --verbose 2>&1 | grep 'does not start')
echo "$out" | grep -qE 'gsticecamsink\.c\([0-9]+\)' && pass "--verbose adds where: $out" || fail "--verbose adds where: $out"
echo "not a certificate" >"$tmp/bad-ca.pem"
out=$(timeout 20 "$view" --server "$url" --camera frontdoor --headless --ca-file "$tmp/bad-ca.pem" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qE "^icecam-view: does not start: Cannot load ca-file\. \(.+\)$" \
  && pass "viewer start failure says why: $out" || fail "viewer start failure (rc=$rc): $out"

# wss:// to a rendezvous without TLS: said so, not a timeout.
out=$(timeout 20 "$view" --server "wss://127.0.0.1:$port" --camera frontdoor --headless --frames 1 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "does not speak TLS (it answers plain HTTP); use ws:// instead of wss://" \
  && pass "wss:// to a plain server: $(echo "$out" | grep error:)" || fail "wss:// to a plain server (rc=$rc): $out"

# --json: the summary as one JSON object, the same fields as the line.
"$view" --server "$url" --camera frontdoor --headless --frames 10 --json >"$tmp/view.json" 2>"$tmp/view-json.err"
rc=$?
"$view" --server "$url" --camera frontdoor --headless --frames 10 >"$tmp/view-text.out" 2>/dev/null
out=$(python3 - "$tmp/view.json" "$tmp/view-text.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
text = [l for l in open(sys.argv[2]).read().splitlines() if l.startswith("icecam-view: result=")][0]
keys = [kv.split("=")[0] for kv in text.split(": ", 1)[1].split()]
assert list(o) == keys, (list(o), keys)
assert o["result"] == "ok" and o["frames"] >= 10 and isinstance(o["ttff_ms"], float), o
assert o["pair"] == "host/host" and isinstance(o["retries"], int), o
# Numbers as the line writes them (95.2), not as a double prints (95.200000000000003).
import re
assert re.search(r'"ttff_ms":[0-9]+\.[0-9][,}]', lines[0]), lines[0]
print(lines[0])
PY
)
[ $rc -eq 0 ] && [ -n "$out" ] && pass "--json: $out" || fail "--json (rc=$rc): $out $(cat "$tmp/view.json")"

# --list: the cameras online, one a line.
out=$("$view" --server "$url" --list 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "frontdoor" ] && pass "--list prints frontdoor" || fail "--list (rc=$rc): $out"
# An unknown camera: the error names the ones online.
out=$("$view" --server "$url" --camera garage --headless --frames 1 2>&1)
echo "$out" | grep -q "^icecam-view: error: rendezvous refused (unknown-camera): camera 'garage' is not online; online: frontdoor$" \
  && pass "unknown camera names those online" || fail "unknown camera names those online: $out"

# --wait: a viewer started before its camera plays once the camera registers.
"$view" --server "$url" --camera latecomer --headless --frames 10 --wait --verbose \
  >"$tmp/view-wait.log" 2>"$tmp/view-wait.err" &
waiter=$!
pids+=($waiter)
wait_for_line "$tmp/view-wait.err" "viewer latecomer: not online yet, waiting for it" 15 \
  && kill -0 "$waiter" 2>/dev/null && pass "--wait: waiting for a camera not online" \
  || fail "--wait gave up: $(cat "$tmp/view-wait.log" "$tmp/view-wait.err")"
"$cam" --server "$url" --id latecomer --source test >"$tmp/camera-late.log" 2>&1 &
late=$!
pids+=($late)
wait "$waiter"; rc=$?
[ $rc -eq 0 ] && grep -q "result=ok camera=latecomer frames=10 " "$tmp/view-wait.log" \
  && pass "--wait plays the camera once it comes" || fail "--wait (rc=$rc): $(cat "$tmp/view-wait.log")"
kill -INT "$late"; wait "$late"

# A camera serving its --max-viewers 1 refuses the next viewer, in English.
"$cam" --server "$url" --id single --source test --max-viewers 1 --verbose \
  >"$tmp/camera-single.log" 2>"$tmp/camera-single.err" &
single=$!
pids+=($single)
"$view" --server "$url" --camera single --headless --wait >"$tmp/view-single.log" 2>&1 &
first=$!
pids+=($first)
wait_for_line "$tmp/view-single.log" "watching camera 'single'" 20
out=$("$view" --server "$url" --camera single --headless --frames 1 2>&1)
echo "$out" | grep -q "error: camera 'single' ended the session: camera is full" \
  && grep -q "refusing .*: already 1 viewer, the most it serves" "$tmp/camera-single.err" \
  && pass "a full camera: $(grep -o 'already 1 viewer.*' "$tmp/camera-single.err")" \
  || fail "a full camera: $out $(grep refusing "$tmp/camera-single.err")"
kill -INT "$first" "$single"; wait "$first" "$single"

# Stopped before the frames asked for: not ok, exit 1, and stderr says how far it got.
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 100000 \
  --stats-interval 1 >"$tmp/view-stopped.log" 2>"$tmp/view-stopped.err" &
viewer=$!
pids+=($viewer)
wait_for_line "$tmp/view-stopped.log" 'progress frames=[1-9]' 15
kill -INT "$viewer"
wait "$viewer"; rc=$?
summary=$(grep '^icecam-view: result=' "$tmp/view-stopped.log")
[ $rc -eq 1 ] && echo "$summary" | grep -q 'result=interrupted ' \
  && grep -qE '^icecam-view: incomplete: decoded [0-9]+ of the 100000 frames asked for; stopped by SIGINT' \
    "$tmp/view-stopped.err" \
  && pass "a viewer stopped early is interrupted, exit 1: $(cat "$tmp/view-stopped.err")" \
  || fail "a viewer stopped early is interrupted, exit 1 (rc=$rc): $summary $(cat "$tmp/view-stopped.err")"
grep -qE '^icecam-view: progress frames=[0-9]+ elapsed_ms=[0-9]+ fps=[0-9.]+ kbps=[0-9]+ freezes=[0-9]+ lost=[0-9]+ recovered=[0-9]+ delay_ms=([0-9]+|none)$' "$tmp/view-stopped.log" \
  && awk '/progress/ && $5 ~ /^fps=/ { split($5, f, "="); split($6, k, "="); if (f[2] > 0 && k[2] > 0) ok = 1 } END { exit !ok }' "$tmp/view-stopped.log" \
  && pass "progress lines with frame rate and bitrate: $(grep -m1 progress "$tmp/view-stopped.log")" \
  || fail "progress lines with frame rate and bitrate: $(grep progress "$tmp/view-stopped.log")"

# A --no-retry viewer of a camera that stops mid-run: not ok either.
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --frames 100000 \
  --no-retry --timeout 10 --stats-interval 1 >"$tmp/view-lost.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_line "$tmp/view-lost.log" 'progress frames=[1-9]' 15
# And one that retries, run until stopped.
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless \
  --timeout 10 --stats-interval 1 >"$tmp/view-retry.log" 2>&1 &
retrying=$!
pids+=($retrying)
wait_for_line "$tmp/view-retry.log" 'progress frames=[1-9]' 15

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
# Stopped by Ctrl-C while the camera is gone: interrupted, and no pair (the old one died).
wait_for_line "$tmp/view-retry.log" "^icecam-view: lost camera 'frontdoor'" 30
kill -INT "$retrying"; wait "$retrying"; rc=$?
summary=$(grep '^icecam-view: result=' "$tmp/view-retry.log")
[ $rc -eq 0 ] && echo "$summary" | grep -q 'result=interrupted .* pair=none transport=none ' \
  && pass "a viewer stopped while its camera is gone: $summary" \
  || fail "a viewer stopped while its camera is gone (rc=$rc): $(cat "$tmp/view-retry.log")"

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
