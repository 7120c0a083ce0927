#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rendezvous run from a --config file, with the real commands on loopback: SIGHUP reads the
# camera secrets and the token key again while a camera streams to a viewer (both keep their
# connection and the viewer keeps decoding); a camera with the new secret registers, one with the
# old secret is refused; a token of the new key plays, one of the old key is refused; new
# sessions get TURN credentials of the new TURN secret; a reload that cannot read the file keeps the old secrets and says why; a key the
# file should not have is one line and exit 2.
set -u
build=${ICECAM_BUILD_DIR:?}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
rendezvous=$build/src/server/icecam-rendezvous

frames() { grep -oE 'progress frames=[0-9]+' "$tmp/view.log" | tail -1 | grep -oE '[0-9]+$' || echo 0; }
wait_for_frames() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(frames)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
camera() { # $1: id, $2: secret file, $3: a run number for its log; prints its pid
  "$build/src/tools/icecam-camera" --server "$url" --id "$1" --source test --secret-file "$2" \
    >"$tmp/cam-$1-$3.log" 2>&1 &
  echo $!
}

# A bad key: one line naming it, exit 2.
printf 'listen = 127.0.0.1:0\nmax-conections-per-address = 5\n' >"$tmp/bad.conf"
out=$("$rendezvous" --config "$tmp/bad.conf" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "'max-conections-per-address'" \
  && pass "a bad config key: one line naming it, exit 2" || fail "bad key (rc=$rc): $out"
printf 'verbose = maybe\n' >"$tmp/bad.conf"
out=$("$rendezvous" --config "$tmp/bad.conf" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "must be true or false" \
  && pass "a bad boolean in the config: exit 2" || fail "bad boolean (rc=$rc): $out"

echo "front-$RANDOM$RANDOM" >"$tmp/front.secret"
echo "old-$RANDOM$RANDOM" >"$tmp/porch-old.secret"
echo "new-$RANDOM$RANDOM" >"$tmp/porch-new.secret"
printf 'frontdoor %s\nporch %s\n' "$(cat "$tmp/front.secret")" "$(cat "$tmp/porch-old.secret")" \
  >"$tmp/secrets"
# Relative paths in the file are relative to it; the command line's --verbose adds to it.
head -c 32 /dev/urandom | base64 >"$tmp/token.key"
head -c 32 /dev/urandom | base64 >"$tmp/new-token.key"
token() { "$rendezvous" token --token-key-file "$1" --camera frontdoor --ttl 1h; }
token "$tmp/token.key" >"$tmp/old.token"
token "$tmp/new-token.key" >"$tmp/new.token"
cat >"$tmp/rv.conf" <<CONF
# the rendezvous of this test
listen = 127.0.0.1:0
stun-listen = none
camera-secrets = secrets
token-key-file = token.key
CONF
"$rendezvous" --config "$tmp/rv.conf" --verbose >"$tmp/rv.out" 2>"$tmp/rv.log" &
rv=$!
pids+=($rv)
wait_for_line "$tmp/rv.out" 'listening on ws://' 10 || { cat "$tmp/rv.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv.out" | head -1)
pids+=("$(camera frontdoor "$tmp/front.secret" 1)")
wait_for_line "$tmp/rv.log" "camera 'frontdoor' online" 10 && pass "camera registers (secrets from the config file)" \
  || { fail "camera registers: $(cat "$tmp/cam-frontdoor-1.log")"; exit 1; }
"$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless --stats-interval 1 \
  --token-file "$tmp/old.token" >"$tmp/view.log" 2>&1 &
pids+=($!)
wait_for_frames 30 20 && pass "viewer decodes" || { fail "viewer decodes: $(cat "$tmp/view.log")"; exit 1; }

# 1. A reload that cannot read the file: the old secrets stay, one line says why.
mv "$tmp/secrets" "$tmp/secrets.away"
kill -HUP $rv
wait_for_line "$tmp/rv.log" "reload failed, the old secrets stay: .*secrets" 5 \
  && pass "a failed reload says why" || fail "failed reload: $(tail -3 "$tmp/rv.log")"
mv "$tmp/secrets.away" "$tmp/secrets"
pid=$(camera porch "$tmp/porch-old.secret" 1)
pids+=("$pid")
wait_for_line "$tmp/rv.log" "camera 'porch' online" 10 && pass "after the failed reload the old secret still works" \
  || fail "old secret after a failed reload: $(cat "$tmp/cam-porch-1.log")"
kill "$pid"; wait "$pid" 2>/dev/null
wait_for_line "$tmp/rv.log" "camera 'porch' offline" 10 && pass "a camera going is logged" \
  || fail "no offline line: $(tail -3 "$tmp/rv.log")"

# 2. The porch's secret changes; SIGHUP.
at_reload=$(frames)
printf 'frontdoor %s\nporch %s\n' "$(cat "$tmp/front.secret")" "$(cat "$tmp/porch-new.secret")" \
  >"$tmp/secrets"
cp "$tmp/new-token.key" "$tmp/token.key"
kill -HUP $rv
wait_for_line "$tmp/rv.log" "reloaded: 2 camera secrets, the token key" 5 && pass "SIGHUP reloads the secrets" \
  || fail "reload: $(tail -3 "$tmp/rv.log")"
kill -0 $rv 2>/dev/null && pass "the rendezvous is still up after SIGHUP" || fail "SIGHUP killed the rendezvous"
out=$(timeout 20 "$build/src/tools/icecam-camera" --server "$url" --id porch --source test \
  --secret-file "$tmp/porch-old.secret" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "did not prove its identity" \
  && grep -q "camera 'porch' refused from 127.0.0.1:[0-9]*: wrong proof" "$tmp/rv.log" \
  && pass "the old secret is refused on a new connection (and logged)" || fail "old secret (rc=$rc): $out"
pids+=("$(camera porch "$tmp/porch-new.secret" 2)")
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ] && [ "$(grep -c "camera 'porch' online" "$tmp/rv.log")" -lt 2 ]; do sleep 0.1; done
[ "$(grep -c "camera 'porch' online" "$tmp/rv.log")" -eq 2 ] && pass "the new secret registers" \
  || fail "new secret: $(cat "$tmp/cam-porch-2.log")"

view() { timeout 30 "$build/src/tools/icecam-view" --server "$url" --camera frontdoor --headless \
  --frames 10 --timeout 15 --token-file "$1" 2>&1; }
out=$(view "$tmp/old.token"); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "signature" && pass "a token of the old key is refused" \
  || fail "old token (rc=$rc): $out"
out=$(view "$tmp/new.token"); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "frames=10 " && pass "a token of the new key plays" \
  || fail "new token (rc=$rc): $out"

# 3. The stream went on through both reloads, on the same connections.
wait_for_frames $((at_reload + 60)) 15 && pass "viewer kept decoding ($at_reload -> $(frames) frames)" \
  || fail "viewer stalled after the reload ($at_reload -> $(frames))"
[ "$(grep -c "camera 'frontdoor' online" "$tmp/rv.log")" -eq 1 ] && ! grep -q "camera 'frontdoor' offline" "$tmp/rv.log" \
  && [ "$(grep -cE "viewer '[^']*' \(peer [0-9]+\): joined" "$tmp/rv.log")" -eq 2 ] && ! grep -q ": back from" "$tmp/rv.log" \
  && pass "camera and viewer kept their connections" \
  || fail "connections changed: $(grep -E "online|offline|joined|back from" "$tmp/rv.log")"

# 4. The TURN secret: the credentials of a new session are minted with the new one.
echo "turn-one-$RANDOM" >"$tmp/turn.secret"
head -c 32 /dev/urandom | base64 >"$tmp/relay-token.key"
cat >"$tmp/relay.conf" <<CONF
listen = 127.0.0.1:0
stun-listen = none
turn-server = turn:127.0.0.1:3478?transport=udp
turn-secret-file = turn.secret
token-key-file = relay-token.key
CONF
"$rendezvous" --config "$tmp/relay.conf" >"$tmp/relay.out" 2>"$tmp/relay.log" &
relay=$!
pids+=($relay)
wait_for_line "$tmp/relay.out" 'listening on ws://' 10 || { cat "$tmp/relay.log"; exit 1; }
relay_port=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/relay.out" | head -1 | grep -oE '[0-9]+$')
relay_token=$("$rendezvous" token --token-key-file "$tmp/relay-token.key" --camera yard --ttl 1h)
# Whether the session's credential is the one the secret in $1 gives for its username.
minted_with() {
  local session
  session=$(python3 "$ICECAM_SOURCE_DIR/tests/ws-hello.py" --port "$relay_port" --session-for yard \
    --token "$relay_token")
  python3 -c '
import base64, hashlib, hmac, json, sys
server = json.loads(sys.argv[1])["ice_servers"][0]
secret = open(sys.argv[2]).read().strip().encode()
expected = base64.b64encode(hmac.new(secret, server["username"].encode(), hashlib.sha1).digest())
sys.exit(0 if expected.decode() == server["credential"] else 1)' "$session" "$1"
}
cp "$tmp/turn.secret" "$tmp/turn-old.secret"
minted_with "$tmp/turn-old.secret" && pass "TURN credentials from the secret file" \
  || fail "TURN credentials before the reload: $(cat "$tmp/relay.log")"
echo "turn-two-$RANDOM" >"$tmp/turn.secret"
kill -HUP $relay
wait_for_line "$tmp/relay.log" "reloaded: 0 camera secrets, the token key, the TURN secret" 5 \
  && minted_with "$tmp/turn.secret" && ! minted_with "$tmp/turn-old.secret" \
  && pass "after SIGHUP new sessions get credentials of the new TURN secret" \
  || fail "TURN secret reload: $(tail -3 "$tmp/relay.log")"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
