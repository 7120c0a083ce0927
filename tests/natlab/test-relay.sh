#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Relays are not open proxies (issue 21), in the NAT lab with coturn run from the shipped
# docs/coturn/icecam-turnserver.conf and a rendezvous minting 20 s credentials:
#  1. welcome carries no relay credential; a session's does, named after the session;
#  2. that credential allocates during its lifetime, and coturn refuses an Allocate with it
#     after; on the allocation it made, Refresh and CreatePermission still succeed after the
#     expiry (coturn checks the REST timestamp only when a new allocation authenticates);
#  3. with the shipped config, a valid allocation cannot reach a private, loopback or
#     link-local address (403), while the lab's public addresses stay relayable;
#  4. a relay-only camera/viewer session outlives several credential lifetimes, and an ICE
#     restart long after the first credentials expired (a rebooted camera NAT) allocates
#     with renewed ones and the picture comes back.
# Prints TAP.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB_TEST=relay
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
TTL=20
# stream.sh's setup_lab: the later --turn-ttl wins.
ICECAM_NATLAB_RENDEZVOUS_ARGS="--turn-ttl $TTL"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

probe() { lab_exec "$1" python3 "$here/turn-probe.py" "$LAB_TURN_IP1:$LAB_TURN_PORT" "${@:2}"; }
has_line() { grep -qE "$2" <<<"$1"; }

# 1-3 with bare signalling clients and the probe, from an open (public) site.
check_credentials() {
  local dir="$LAB_TMP/probe" cam_out view_out session user cred expiry out
  mkdir -p "$dir"
  lab_site c 0 open || { tap_not_ok "lab site"; return; }
  lab_spawn c0 "$dir/camera.out" python3 "$here/ws-hello.py" "$URL" camera probecam --wait 8
  lab_wait_line "$dir/camera.out" '"type": ?"welcome"' 5
  view_out=$(lab_exec c0 python3 "$here/ws-hello.py" "$URL" viewer --watch probecam --wait 2)
  cam_out=$(cat "$dir/camera.out")
  tap_check "welcome to a camera carries no relay credential" \
    bash -c '! grep "\"type\": *\"welcome\"" <<<"$1" | grep -q credential' _ "$cam_out"
  tap_check "welcome to a viewer carries no relay credential" \
    bash -c '! grep "\"type\": *\"welcome\"" <<<"$1" | grep -q credential' _ "$view_out"
  read -r session user cred < <(grep '"type": *"session"' <<<"$view_out" | python3 -c '
import json, sys
m = json.loads(sys.stdin.readline())
s = m["ice_servers"][0]
print(m["session"], s["username"], s["credential"])')
  tap_check "the viewer's session carries a credential named <expiry>:<session>:viewer ($user)" \
    [ "${user#*:}" = "$session:viewer" ]
  expiry=${user%%:*}
  out=$(probe c0 "$user" "$cred" allocate perm:198.51.100.200 perm:203.0.113.1 \
    perm:10.1.0.2 perm:172.16.0.2 perm:192.168.1.1 perm:127.0.0.1 perm:169.254.169.254 \
    perm:100.64.0.1 "until:$((expiry + 2))" refresh:600 perm:198.51.100.201 refresh:0)
  echo "$out" | sed 's/^/# probe: /'
  tap_check "the session's credential allocates during its lifetime" has_line "$out" '^allocate ok'
  tap_check "the lab's public addresses stay relayable" \
    bash -c 'grep -q "^perm:198.51.100.200 ok" <<<"$1" && grep -q "^perm:203.0.113.1 ok" <<<"$1"' _ "$out"
  for ip in 10.1.0.2 172.16.0.2 192.168.1.1 127.0.0.1 169.254.169.254 100.64.0.1; do
    tap_check "coturn refuses a permission for $ip (shipped config)" \
      has_line "$out" "^perm:$ip error 403"
  done
  tap_check "evidence: after the expiry coturn still accepts Refresh on the allocation" \
    has_line "$out" '^refresh:600 ok'
  tap_check "evidence: after the expiry coturn still accepts CreatePermission on it" \
    has_line "$out" '^perm:198.51.100.201 ok'
  out=$(probe c0 "$user" "$cred" allocate)
  echo "# probe after expiry: $out"
  tap_check "after its lifetime coturn refuses an Allocate with the credential (401)" \
    has_line "$out" '^allocate error 401'
  lab_stop "$LAB_LAST_PID"
  lab_site_remove c 0
}

# The relay-only camera and viewer of slot $1, directory $2.
start_relayed() {
  local i=$1 dir=$2
  lab_site c "$i" port-restricted && lab_site v "$i" port-restricted || return 1
  lab_spawn "c$i" "$dir/camera.log" "$build/src/tools/icecam-camera" --server "$URL" \
    --id "cam$i" --source test --keyframe-interval 10 --verbose --ice-transport-policy relay
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15 || return 1
  lab_spawn "v$i" "$dir/view.log" env GST_DEBUG=icecamsrc:4 GST_DEBUG_NO_COLOR=1 \
    stdbuf -oL "$build/src/tools/icecam-view" --server "$URL" --camera "cam$i" --headless \
    --frames 0 --timeout 30 --stats-interval 1 --verbose --ice-transport-policy relay
  VIEWER_PID=$LAB_LAST_PID
  wait_steady "$dir/view.log" 30 3 30
}

# 4: several lifetimes, then a restart on renewed credentials.
check_long_session() {
  local i=1 name=long-relayed dir="$LAB_TMP/long" before=$failures frames t0 users
  mkdir -p "$dir"
  if ! start_relayed "$i" "$dir"; then
    tap_not_ok "$name: a relay-only session plays"
    stop_case "$i" "$name" "$dir" "$before"
    return
  fi
  tap_ok "$name: a relay-only session plays"
  sleep $((3 * TTL))
  frames=$(last_frames "$dir/view.log")
  tap_check "$name: still playing after $((3 * TTL)) s, three credential lifetimes ($frames frames)" \
    wait_frames_above "$dir/view.log" "$frames" 5
  tap_check "$name: the rendezvous renewed the session's credentials" \
    grep -q "fresh relay credentials" "$LAB_TMP/rendezvous.log"
  lab_nat_reboot "c${i}nat" udp
  t0=$(last_frames "$dir/view.log")
  tap_check "$name: after the camera's NAT rebooted, the restarted session plays again" \
    wait_frames_above "$dir/view.log" $((t0 + 30)) 30
  tap_check "$name: the camera's restart allocated with renewed credentials ($(camera_stamps) expiry stamps)" \
    [ "$(camera_stamps)" -ge 2 ]
  tap_check "$name: the viewer never left the relay" \
    bash -c '! grep -E "pair=" "$1" | grep -vq "relay/relay"' _ "$dir/view.log"
  stop_case "$i" "$name" "$dir" "$before"
}

# How many different expiry stamps the camera's allocations at coturn carried: the first
# credentials, then renewed ones.
camera_stamps() {
  grep -oE 'new, realm=<[^>]*>, username=<[0-9]+:[0-9a-f]+:camera>' \
    "$LAB_TMP/coturn/turnserver.log" | sed -E 's/.*username=<([0-9]+):.*/\1/' | sort -u | wc -l
}

main() {
  local start=$SECONDS
  check_tools || exit 1
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  check_credentials
  check_long_session
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
