#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# TURN end to end on loopback with Debian's coturn: the rendezvous mints REST credentials,
# coturn accepts them, and with ice-transport-policy=relay the video flows through the relay
# over TURN-UDP and TURN-TCP, also with the relay given by name. A wrong secret fails with a
# message naming candidate types; so does a relay whose name does not resolve.
set -u
build=${ICECAM_BUILD_DIR:?}
command -v turnserver >/dev/null || { echo "turnserver missing: run scripts/setup.sh"; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { cp "$tmp/coturn.log" /tmp/coturn-test.log; }

# coturn cannot bind port 0 and say which it got: ask the kernel for one free on UDP and TCP.
free_port() {
  python3 -c 'import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(); 
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'
}

secret=icecam-test-$RANDOM$RANDOM
turn_port=$(free_port)
cat >"$tmp/turnserver.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$turn_port
min-port=40000
max-port=60000
use-auth-secret
static-auth-secret=$secret
realm=icecam.test
fingerprint
no-cli
no-tls
no-dtls
allow-loopback-peers
userdb=$tmp/turndb
pidfile=$tmp/turnserver.pid
log-file=stdout
verbose
CONF
turnserver -c "$tmp/turnserver.conf" >"$tmp/coturn.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/coturn.log" "Total General servers|IPv4. UDP listener opened" 10 \
  || { cat "$tmp/coturn.log"; echo "coturn did not start"; exit 1; }

# Relays are not open proxies: TURN without any access control refuses to start, in one line
# naming the way out; with it (or with viewer tokens) the server starts.
refusal=$("$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none \
  --turn-server "turn:127.0.0.1:$turn_port?transport=udp" --turn-secret "$secret" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$refusal" | wc -l)" -eq 1 ] &&
  echo "$refusal" | grep -q "anyone who reaches this server could use the relays" &&
  echo "$refusal" | grep -q -- "--allow-anonymous-relay" \
  && pass "TURN without access control refuses to start (exit 2, one line)" \
  || fail "TURN without access control (rc=$rc): $refusal"
printf 'k%.0s' $(seq 1 40) >"$tmp/token.key"
for extra in --allow-anonymous-relay "--token-key-file $tmp/token.key"; do
  # shellcheck disable=SC2086  # $extra: an option and its value
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none \
    --turn-server "turn:127.0.0.1:$turn_port?transport=udp" --turn-secret "$secret" $extra \
    >"$tmp/start.log" 2>&1 &
  rv=$!
  wait_for_line "$tmp/start.log" 'listening on ws://' 10 \
    && pass "TURN with ${extra%% *} starts" || fail "TURN with $extra: $(cat "$tmp/start.log")"
  stop_pid "$rv"
done

# $1: name, $2: rendezvous secret, $3: transport, $4: the relay's host (default 127.0.0.1);
# echoes the viewer's output, returns its rc.
run_case() {
  local log="$tmp/$1" url rc
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none \
    --turn-server "turn:${4:-127.0.0.1}:$turn_port?transport=$3" --turn-secret "$2" \
    --allow-anonymous-relay \
    >"$log.rv" 2>&1 &
  local rv=$!
  wait_for_line "$log.rv" 'listening on ws://' 10 || { cat "$log.rv"; return 99; }
  url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$log.rv" | head -1)
  "$build/src/tools/icecam-camera" --server "$url" --id cam --source test \
    --ice-transport-policy relay >"$log.cam" 2>&1 &
  local cam=$!
  wait_for_line "$log.cam" 'streaming' 10
  "$build/src/tools/icecam-view" --server "$url" --camera cam --headless --frames 30 \
    --timeout 15 --ice-transport-policy relay >"$log.view" 2>&1
  rc=$?
  # (in a command substitution: a process that hung makes the case fail by its status)
  stop_pid "$cam" >&2 || [ $? -ne 124 ] || rc=98
  stop_pid "$rv" >&2 || [ $? -ne 124 ] || rc=98
  cat "$log.view"
  return $rc
}

for transport in udp tcp; do
  out=$(run_case "relay-$transport" "$secret" "$transport"); rc=$?
  echo "# $(echo "$out" | tail -1)"
  summary=$(echo "$out" | grep '^icecam-view: result=')
  [ $rc -eq 0 ] && echo "$summary" | grep -q 'pair=relay/relay ' \
    && pass "relay over TURN-$transport with minted credentials" \
    || fail "relay over TURN-$transport (rc=$rc): $out"
done

# Handed out as written, looked up by each ICE session.
out=$(run_case relay-by-name "$secret" udp localhost); rc=$?
echo "# $(echo "$out" | tail -1)"
echo "$out" | grep '^icecam-view: result=' | grep -q 'pair=relay/relay ' && [ $rc -eq 0 ] \
  && pass "relay over TURN-udp given as localhost" \
  || fail "relay given as localhost (rc=$rc): $out"

# Each side of each case allocated at coturn with the credentials the rendezvous minted.
allocations=$(grep -c "ALLOCATE processed, success" "$tmp/coturn.log")
[ "$allocations" -ge 6 ] && pass "coturn accepted $allocations allocations" \
  || fail "coturn accepted $allocations allocations, expected 6"
# Each was released when its end stopped (the camera on Ctrl-C, the viewer when it had its
# frames): a REFRESH with lifetime 0, not coturn's timeout minutes later.
released=$(grep -cE "refreshed, .*lifetime=0$" "$tmp/coturn.log")
[ "$released" -ge 6 ] && [ "$released" -ge "$allocations" ] \
  && pass "every allocation ($released of $allocations) released at shutdown" \
  || fail "$released of $allocations allocations released at shutdown"

out=$(run_case wrong-secret "not-the-secret" udp); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -qE "no ICE candidate pair .*local=.* remote=" \
  && pass "a wrong TURN secret fails, naming the candidate types" \
  || fail "wrong secret (rc=$rc): $out"
grep -q "error 401" "$tmp/coturn.log" && pass "coturn refused the wrong credentials" \
  || fail "coturn did not refuse the wrong credentials"

# .invalid never resolves (RFC 6761): relay-only with no relay left fails at once, and says so.
out=$(run_case unresolvable "$secret" udp relay.icecam.invalid 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "no TURN server name resolved" \
  && pass "a relay name that does not resolve fails relay-only, saying so" \
  || fail "unresolvable relay (rc=$rc): $out"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
