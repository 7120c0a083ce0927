#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Access control and TLS with the real commands on loopback: a wss:// rendezvous with a
# self-signed certificate, provisioned camera secrets and a token key. Every refusal is
# checked for its message and for the camera having served nothing.
set -u
build=${ICECAM_BUILD_DIR:?}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
head -c 32 /dev/urandom | base64 >"$tmp/token.key"
head -c 32 /dev/urandom | base64 >"$tmp/other.key"
echo "door-$RANDOM$RANDOM" >"$tmp/door.secret"
echo "garage-$RANDOM$RANDOM" >"$tmp/garage.secret"
printf '# provisioned cameras\nfrontdoor %s\ngarage %s\n' "$(cat "$tmp/door.secret")" \
  "$(cat "$tmp/garage.secret")" >"$tmp/secrets"
echo "guessed" >"$tmp/wrong.secret"

# A TLS handshake under the sanitizers on a loaded machine can outlast the 5 s default.
"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose \
  --handshake-timeout $((5 * ${ICECAM_TEST_SLOWDOWN:-1})) --tls-certificate "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
  --keepalive-interval 1 --silence-limit $((6 * ${ICECAM_TEST_SLOWDOWN:-1})) \
  --camera-secrets "$tmp/secrets" --token-key-file "$tmp/token.key" >"$tmp/rv.out" 2>"$tmp/rv.log" &
pids+=($!)
wait_for_line "$tmp/rv.out" 'listening on wss://' 10 || { cat "$tmp/rv.out" "$tmp/rv.log"; exit 1; }
url=$(grep -oE 'wss://[0-9.]+:[0-9]+' "$tmp/rv.out" | head -1)
echo "# rendezvous at $url"

# An impostor with the wrong secret is refused and exits.
out=$(timeout 20 "$build/src/tools/icecam-camera" --server "$url" --id frontdoor --source test \
  --ca-file "$tmp/cert.pem" --secret-file "$tmp/wrong.secret" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "did not prove its identity" \
  && pass "camera with a wrong secret refused" || fail "impostor camera (rc=$rc): $out"

"$build/src/tools/icecam-camera" --server "$url" --id frontdoor --source test \
  --ca-file "$tmp/cert.pem" --secret-file "$tmp/door.secret" >"$tmp/cam.log" 2>&1 &
pids+=($!)
started=$SECONDS
wait_for_line "$tmp/rv.log" "camera 'frontdoor'.*online" 10 && pass "provisioned camera registers" \
  || fail "provisioned camera registers: $(cat "$tmp/cam.log")"

view() {
  timeout 30 "$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless \
    --frames 30 --timeout 15 "$@" 2>&1
}
token() {
  "$build/src/server/icecam-rendezvous" token --token-key-file "$1" --camera "$2" --ttl "$3"
}

refused() { # $1: what, $2: expected text, then icecam-view arguments
  local what=$1 expected=$2 out rc
  shift 2
  out=$(view "$@"); rc=$?
  if [ $rc -ne 0 ] && echo "$out" | grep -q "$expected" && echo "$out" | grep -q "frames=0 "; then
    pass "$what refused ($expected)"
  else
    fail "$what (rc=$rc): $out"
  fi
}

refused "no token" "needs a token" --ca-file "$tmp/cert.pem"
refused "forged token" "signature" --ca-file "$tmp/cert.pem" --token "$(token "$tmp/other.key" frontdoor 1h)"
refused "token for another camera" "does not grant camera 'frontdoor'" --ca-file "$tmp/cert.pem" \
  --token "$(token "$tmp/token.key" garage 1h)"
short=$(token "$tmp/token.key" frontdoor 1s)
expires=$((SECONDS + 2))
while [ $SECONDS -lt $expires ]; do sleep 0.1; done
refused "expired token" "expired" --ca-file "$tmp/cert.pem" --token "$short"
token "$tmp/token.key" frontdoor 1h >"$tmp/good.token"
refused "self-signed server without the CA" "Unacceptable TLS certificate" --token-file "$tmp/good.token"
out=$(view --token-file "$tmp/good.token")
echo "$out" | grep -q "Unacceptable TLS certificate" && ! echo "$out" | grep -q "speak TLS" \
  && pass "a refused certificate is not blamed on a server without TLS" \
  || fail "a refused certificate: $out"

sessions=$(grep -c "session .* for " "$tmp/cam.log")
[ "$sessions" -eq 0 ] && pass "the camera served no refused viewer" || fail "camera saw $sessions sessions"

out=$(view --ca-file "$tmp/cert.pem" --token-file "$tmp/good.token"); rc=$?
echo "# $(echo "$out" | tail -1)"
[ $rc -eq 0 ] && echo "$out" | grep -q "frames=30 " && pass "granted viewer plays over wss" \
  || fail "granted viewer (rc=$rc): $out"

# What a token does not grant stays unseen: --list names only the granted cameras online, and
# so does the error for a granted camera that is not online.
"$build/src/tools/icecam-camera" --server "$url" --id garage --source test --ca-file "$tmp/cert.pem" \
  --secret-file "$tmp/garage.secret" >"$tmp/garage.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rv.log" "camera 'garage'.*online" 10 && pass "a second camera registers" \
  || fail "a second camera registers: $(cat "$tmp/garage.log")"
list() {
  timeout 30 "$build/src/tools/icecam-view" --server "$url" --ca-file "$tmp/cert.pem" --list "$@" 2>&1
}
out=$(list --token "$(token "$tmp/token.key" frontdoor 1h)"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "frontdoor" ] && pass "--list with a token for frontdoor: $out" \
  || fail "--list with a token for frontdoor (rc=$rc): $out"
out=$(list --token "$(token "$tmp/token.key" '*' 1h)" | sort | tr '\n' ' '); rc=$?
[ $rc -eq 0 ] && [ "$out" = "frontdoor garage " ] && pass "--list with a token for every camera: $out" \
  || fail "--list with a token for every camera (rc=$rc): $out"
out=$(list); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "needs a token" && pass "--list without a token refused" \
  || fail "--list without a token (rc=$rc): $out"
out=$(timeout 30 "$build/src/tools/icecam-view" --server "$url" --ca-file "$tmp/cert.pem" --camera attic \
  --headless --frames 1 --token "$(token "$tmp/token.key" attic 1h)" 2>&1)
echo "$out" | grep -q "camera 'attic' is not online; no camera this viewer may see is online" \
  && ! echo "$out" | grep -qE "frontdoor|garage" && pass "unknown camera: nothing about cameras not granted" \
  || fail "unknown camera with a token for it only: $out"

# Over TLS the keepalive pings are libsoup's own (the ping wheel serves ws:// only), sent between
# libsoup's frames: with a ping a second and a silence limit of 6 s, the cameras (which send
# nothing of their own meanwhile) stayed online by answering them, and none was closed as silent.
[ $SECONDS -lt $((started + 8)) ] && sleep $((started + 8 - SECONDS))
out=$(curl -sk "${url/wss:/https:}/healthz")
echo "$out" | grep -q '"cameras":2,' && echo "$out" | grep -q '"silent_closed":0,' \
  && pass "wss:// cameras answer the keepalive pings and stay online" \
  || fail "wss:// keepalive: $out"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
