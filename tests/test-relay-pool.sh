#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rendezvous's relay pool against two real coturn servers on loopback: both checked and up;
# sessions spread over them (fewest first); one stopped is withdrawn within 10 s and later
# sessions get the other; it comes back when it answers again. Read from /metrics.
set -u
build=${ICECAM_BUILD_DIR:?}
command -v turnserver >/dev/null || { echo "turnserver missing: run scripts/setup.sh"; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { mkdir -p /tmp/icecam-relay-pool-logs && cp "$tmp"/*.log /tmp/icecam-relay-pool-logs/; }

free_port() {
  python3 -c 'import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'
}
secret=icecam-test-$RANDOM$RANDOM
declare -A turn_port turn_pid
start_coturn() {  # N MIN_PORT
  cat >"$tmp/turn$1.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=${turn_port[$1]}
min-port=$2
max-port=$(($2 + 4999))
use-auth-secret
static-auth-secret=$secret
realm=icecam.test
fingerprint
no-cli
no-tls
no-dtls
allow-loopback-peers
userdb=$tmp/turndb$1
pidfile=$tmp/turn$1.pid
log-file=stdout
verbose
CONF
  turnserver -c "$tmp/turn$1.conf" >>"$tmp/coturn$1.log" 2>&1 &
  turn_pid[$1]=$!
  pids+=(${turn_pid[$1]})
  wait_for_line "$tmp/coturn$1.log" "Total General servers|IPv4. UDP listener opened" 10
}
turn_port[1]=$(free_port)
turn_port[2]=$(free_port)
start_coturn 1 40000 || { cat "$tmp/coturn1.log"; exit 1; }
start_coturn 2 50000 || { cat "$tmp/coturn2.log"; exit 1; }
relay1="turn:127.0.0.1:${turn_port[1]}?transport=udp"
relay2="turn:127.0.0.1:${turn_port[2]}?transport=udp"

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none --verbose \
  --turn-server "$relay1" --turn-server "$relay2" --turn-secret "$secret" \
  --allow-anonymous-relay >"$tmp/rv.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rv.log" 'listening on ws://' 10 || { cat "$tmp/rv.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+/ws' "$tmp/rv.log" | head -1)
port=$(echo "$url" | grep -oE '[0-9]+/ws$' | grep -oE '^[0-9]+')

metrics() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  cat <&3
  exec 3<&-
}
metric() {  # NAME URL: its value
  metrics | grep -F "icecam_rendezvous_$1{url=\"$2\"}" | grep -oE '[0-9]+$'
}
wait_for_metric() {  # NAME URL VALUE SECONDS
  local deadline=$((SECONDS + $4))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(metric "$1" "$2")" = "$3" ] && return 0
    sleep 0.2
  done
  return 1
}

# Both answer their checks (an Allocate without credentials, answered 401 by coturn).
for r in "$relay1" "$relay2"; do
  wait_for_line "$tmp/rv.log" "relay pool: $(printf '%s' "$r" | sed 's/[.?]/\\&/g') answered its check" 10 \
    || fail "no answered check for $r"
done
[ "$(metric relay_up "$relay1")" = 1 ] && [ "$(metric relay_up "$relay2")" = 1 ] \
  && pass "both relays answer their checks and are up in /metrics" || fail "relays: $(metrics | grep relay_)"

"$build/src/tools/icecam-camera" --server "$url" --id shelf --source test >"$tmp/cam.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/cam.log" 'registered with' 10 || fail "camera registers"
start_viewer() {
  "$build/src/tools/icecam-view" --server "$url" --camera shelf --headless --stats-interval 1 \
    >"$tmp/view$1.log" 2>&1 &
  pids+=($!)
  wait_for_line "$tmp/view$1.log" 'progress frames=' 20
}
start_viewer 1 || fail "viewer 1 plays"
start_viewer 2 || fail "viewer 2 plays"
[ "$(metric relay_sessions "$relay1")" = 1 ] && [ "$(metric relay_sessions "$relay2")" = 1 ] \
  && pass "two sessions spread over the two relays" \
  || fail "sessions per relay: $(metrics | grep relay_sessions)"

# Relay 2 stops: withdrawn within 10 s (with slack for a loaded machine); later sessions get 1.
kill -9 "${turn_pid[2]}"; wait "${turn_pid[2]}" 2>/dev/null
stopped=$(now_ms)
if wait_for_metric relay_up "$relay2" 0 20; then
  pass "stopped relay withdrawn after $(( $(now_ms) - stopped )) ms"
else
  fail "stopped relay still up: $(metrics | grep relay_up)"
fi
[ "$(metric relay_up "$relay1")" = 1 ] && pass "the other relay stays up" || fail "relay 1 down"
start_viewer 3 || fail "viewer 3 plays"
start_viewer 4 || fail "viewer 4 plays"
[ "$(metric relay_sessions "$relay1")" = 3 ] && [ "$(metric relay_sessions "$relay2")" = 1 ] \
  && pass "later sessions all get the live relay" \
  || fail "sessions per relay: $(metrics | grep relay_sessions)"

# It comes back: offered again.
start_coturn 2 50000 || fail "coturn 2 restarts"
restarted=$(now_ms)
wait_for_metric relay_up "$relay2" 1 15 \
  && pass "restarted relay offered again after $(( $(now_ms) - restarted )) ms" \
  || fail "restarted relay: $(metrics | grep relay_up)"
grep -q 'relay pool: .* does not answer: withdrawn' "$tmp/rv.log" \
  && grep -q 'relay pool: .* answers again' "$tmp/rv.log" \
  && pass "the rendezvous logged both changes" || fail "no relay pool lines in the log"

# Region tags: relay 2 tagged eu; a camera giving --region eu has its sessions on relay 2
# although relay 1 has fewer, and /metrics labels the relay with its region.
"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none --verbose \
  --turn-server "$relay1" --turn-server "$relay2,region=eu" --turn-secret "$secret" \
  --allow-anonymous-relay >"$tmp/rv-region.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rv-region.log" 'listening on ws://' 10 || { cat "$tmp/rv-region.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+/ws' "$tmp/rv-region.log" | head -1)
port=$(echo "$url" | grep -oE '[0-9]+/ws$' | grep -oE '^[0-9]+')
"$build/src/tools/icecam-camera" --server "$url" --id porch --source test --region eu \
  >"$tmp/cam-region.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/cam-region.log" 'registered with' 10 || fail "camera with --region registers"
for v in 5 6; do
  timeout 20 "$build/src/tools/icecam-view" --server "$url" --camera porch --headless \
    --stats-interval 1 >"$tmp/view$v.log" 2>&1 &
  pids+=($!)
  wait_for_line "$tmp/view$v.log" 'progress frames=' 20 || fail "viewer $v of the eu camera plays"
done
[ "$(metric relay_sessions "$relay2")" = 2 ] && [ "$(metric relay_sessions "$relay1")" = 0 ] \
  && pass "the eu camera's sessions get the eu relay" \
  || fail "sessions per relay with regions: $(metrics | grep relay_sessions)"
metrics | grep -qF "icecam_rendezvous_relay_cluster_sessions{url=\"$relay2\",region=\"eu\"} 2" \
  && pass "/metrics labels the relay's region and counts its sessions" \
  || fail "cluster sessions: $(metrics | grep cluster_sessions)"
"$build/src/server/icecam-rendezvous" --turn-server "$relay1,zone=eu" --turn-secret x \
  >"$tmp/bad.out" 2>&1
[ $? = 2 ] && [ "$(wc -l <"$tmp/bad.out")" = 1 ] && pass "a bad tag: $(cat "$tmp/bad.out")" \
  || fail "bad region tag: $(cat "$tmp/bad.out")"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
