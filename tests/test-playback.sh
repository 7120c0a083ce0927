#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A camera played with GStreamer's stock tools, a real rendezvous and camera on loopback:
# playbin and gst-play-1.0 open icecam:// and icecams:// URIs (token and CA file as URI
# parameters, or the token from ICECAM_TOKEN) and decode frames; bad URIs are refused with
# the reason; pipelines/view-screen.sh says so where there is no display.
set -u
build=${ICECAM_BUILD_DIR:?}
src=${ICECAM_SOURCE_DIR:?}
TEST_KILL_SIGNAL=INT
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# A wss:// rendezvous (a self-signed certificate) that requires tokens, and a camera.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
head -c 32 /dev/urandom | base64 >"$tmp/token.key"
# No handshake deadline: under the sanitizers on a loaded machine a TLS handshake took more
# than the default 5 s, and the rendezvous closed it.
"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose --tls-certificate "$tmp/cert.pem" \
  --tls-key "$tmp/key.pem" --token-key-file "$tmp/token.key" --handshake-timeout 0 \
  >"$tmp/tls.log" 2>"$tmp/tls.err" &
pids+=($!)
wait_for_line "$tmp/tls.log" 'listening on wss://' 10 || { cat "$tmp/tls.log"; exit 1; }
tls_url=$(grep -oE 'wss://[0-9.]+:[0-9]+' "$tmp/tls.log" | head -1)
tls_port=${tls_url##*:}
# (its /healthz is behind TLS too: the camera is seen in its log)
"$build/src/tools/icecam-camera" --server "$tls_url" --id porch --source test \
  --keyframe-interval 10 --ca-file "$tmp/cert.pem" >"$tmp/camera-tls.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/tls.err" "camera 'porch'.*online" $((20 * ${ICECAM_TEST_SLOWDOWN:-1})) && pass "camera registered over TLS" \
  || { fail "camera registered over TLS: $(cat "$tmp/camera-tls.log")"; exit 1; }
token=$("$build/src/server/icecam-rendezvous" token --token-key-file "$tmp/token.key" \
  --camera porch --ttl 1h)

# An open ws:// rendezvous and a camera.
"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rendezvous.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rendezvous.log" 'listening on ws://' 10 || { cat "$tmp/rendezvous.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rendezvous.log" | head -1)
port=${url##*:}
"$build/src/tools/icecam-camera" --server "$url" --id frontdoor --source test \
  --keyframe-interval 10 >"$tmp/camera.log" 2>&1 &
pids+=($!)
wait_for_cameras "$port" 1 && pass "camera registered" || { fail "camera registered: $(cat "$tmp/camera.log")"; exit 1; }

# Plays URI $1 in playbin, headless: 30 decoded frames into a fakesink, then EOS. Prints the
# frames' caps line count and the errors.
playbin() {
  timeout $((30 * ${ICECAM_TEST_SLOWDOWN:-1})) gst-launch-1.0 -v playbin uri="$1" \
    video-sink="fakesink name=frames silent=false num-buffers=30" audio-sink=fakesink 2>&1
}
decoded() { echo "$1" | grep -cE '\(frames:sink\) \([0-9]+ bytes'; }

out=$(playbin "icecam://127.0.0.1:$port/frontdoor"); rc=$?
n=$(decoded "$out")
[ $rc -eq 0 ] && [ "$n" -eq 30 ] && echo "$out" | grep -q 'caps = video/x-raw' \
  && pass "playbin plays icecam://127.0.0.1:$port/frontdoor: $n frames decoded" \
  || fail "playbin plays icecam:// (rc=$rc, $n frames): $(echo "$out" | grep -m2 ERROR)"

enc_ca=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$tmp/cert.pem")
enc_token=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$token")
out=$(playbin "icecams://127.0.0.1:$tls_port/porch?token=$enc_token&ca-file=$enc_ca"); rc=$?
n=$(decoded "$out")
[ $rc -eq 0 ] && [ "$n" -eq 30 ] && pass "playbin plays icecams:// with ?token= and ?ca-file=: $n frames" \
  || fail "playbin plays icecams:// (rc=$rc, $n frames): $(echo "$out" | grep -m2 ERROR) $(echo "$out" | tail -3)"

out=$(ICECAM_TOKEN="$token" playbin "icecams://127.0.0.1:$tls_port/porch?ca-file=$enc_ca"); rc=$?
n=$(decoded "$out")
[ $rc -eq 0 ] && [ "$n" -eq 30 ] && pass "the token from ICECAM_TOKEN: $n frames" \
  || fail "the token from ICECAM_TOKEN (rc=$rc, $n frames): $(echo "$out" | grep -m2 ERROR)"

out=$(playbin "icecams://127.0.0.1:$tls_port/porch?ca-file=$enc_ca"); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q 'needs a token' \
  && pass "without a token: $(echo "$out" | grep -m1 -oE 'ERROR: .*')" \
  || fail "without a token (rc=$rc): $(echo "$out" | grep -m2 ERROR)"

# gst-play-1.0, as a user types it (it exits 0 even on errors: its output says).
if command -v gst-play-1.0 >/dev/null; then
  out=$(timeout 30 gst-play-1.0 --videosink="fakesink num-buffers=30" --audiosink=fakesink \
    "icecam://127.0.0.1:$port/frontdoor" 2>&1); rc=$?
  [ $rc -eq 0 ] && echo "$out" | grep -q 'Reached end of play list' && ! echo "$out" | grep -q ERROR \
    && pass "gst-play-1.0 icecam://127.0.0.1:$port/frontdoor plays to its end" \
    || fail "gst-play-1.0 (rc=$rc): $(echo "$out" | grep -m2 ERROR)"
else
  fail "gst-play-1.0 is not installed (gstreamer1.0-plugins-base-apps, scripts/setup.sh)"
fi

# Bad URIs: refused with the reason, before anything connects.
bad_uri() {
  local out rc
  out=$(timeout 30 gst-launch-1.0 playbin uri="$1" video-sink=fakesink audio-sink=fakesink 2>&1); rc=$?
  [ $rc -ne 0 ] && echo "$out" | grep -q "ERROR: .*bad icecam URI '.*': $2" \
    && pass "refused $1: $(echo "$out" | grep -m1 -oE "bad icecam URI.*")" \
    || fail "refused $1 (rc=$rc): $(echo "$out" | grep -m2 ERROR)"
}
bad_uri "icecam://127.0.0.1:$port/" "no camera id after the host"
bad_uri "icecam://127.0.0.1:$port/front/door" "the camera id must be"
bad_uri "icecam://127.0.0.1:$port/frontdoor?colour=red" "unknown parameter 'colour'"
bad_uri "icecam://127.0.0.1:$port/frontdoor?ice-tcp=maybe" "'maybe' is not a value of ice-tcp"
bad_uri "icecam://127.0.0.1:$port/frontdoor?ice-transport-policy=some" "'some' is not a value of ice-transport-policy"
# A good URI for a camera that is not there: the element's own error.
out=$(timeout 30 gst-launch-1.0 playbin uri="icecam://127.0.0.1:$port/backyard" video-sink=fakesink 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "ERROR: .*backyard" \
  && pass "an unknown camera: $(echo "$out" | grep -m1 -oE 'ERROR: .*')" || fail "an unknown camera (rc=$rc): $out"

# gst-inspect shows the element as the handler of both schemes.
out=$(gst-inspect-1.0 icecamsrc 2>&1)
protocols=$(echo "$out" | sed -n '/Supported URI protocols:/,/^$/p' | tr -s ' \n' ' ')
[ "$protocols" = " Supported URI protocols: icecam icecams " ] \
  && pass "gst-inspect-1.0 lists icecam and icecams" || fail "gst-inspect-1.0 URI protocols: '$protocols'"

# pipelines/view-screen.sh: where there is no display it says so (autovideosink would pick a
# framebuffer sink that fails); a sink given in ICECAM_VIDEOSINK plays.
export ICECAM_SERVER="$url" ICECAM_CAMERA=frontdoor ICECAM_BUILD_DIR="$build"
out=$(env -u DISPLAY -u WAYLAND_DISPLAY -u ICECAM_VIDEOSINK timeout 30 "$src/pipelines/view-screen.sh" -q 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'no display' \
  && pass "view-screen.sh without a display: $out" || fail "view-screen.sh without a display (rc=$rc): $out"
out=$(env -u DISPLAY -u WAYLAND_DISPLAY ICECAM_VIDEOSINK="fakesink num-buffers=30" \
  timeout 30 "$src/pipelines/view-screen.sh" -q 2>&1); rc=$?
[ $rc -eq 0 ] && pass "view-screen.sh with ICECAM_VIDEOSINK=fakesink plays" || fail "view-screen.sh with ICECAM_VIDEOSINK (rc=$rc): $out"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
