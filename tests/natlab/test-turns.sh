#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A turns: relay over real TLS (issue 14), in the NAT lab: a second coturn with only a TLS
# listener on 203.0.113.3:443 and a certificate the test makes (self-signed, naming that
# address); the camera's site forwards only TCP to the rendezvous and to 443 of that coturn (no
# UDP at all, as on networks that inspect traffic). The rendezvous offers the lab's UDP relay and
# the turns: one. With --turn-ca trusting the certificate, the camera allocates through its
# loopback TLS bridge and the session plays relayed; without it, the system store refuses the
# certificate and the camera says so. Prints TAP.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB_TEST=turns
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
TLS_PORT=443
ICECAM_NATLAB_RENDEZVOUS_ARGS="--turn-server turns:203.0.113.3:$TLS_PORT?transport=tcp"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

# coturn with only a TLS listener, its own relay ports, the shipped config otherwise.
start_tls_coturn() {
  local dir="$LAB_TMP/coturn-tls" shipped="$here/../../docs/coturn/icecam-turnserver.conf"
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=relay.icecam.lab" -addext "subjectAltName=IP:$LAB_TURN_IP1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || return 1
  {
    grep -vE '^(static-auth-secret|realm|listening-port|min-port|max-port|no-tls)=?' "$shipped"
    cat <<EOF
listening-ip=$LAB_TURN_IP1
tls-listening-port=$TLS_PORT
no-udp
no-tcp
min-port=40000
max-port=44999
cert=$dir/cert.pem
pkey=$dir/key.pem
static-auth-secret=$TURN_SECRET
realm=icecam.lab
userdb=$dir/turndb
pidfile=$dir/turnserver.pid
log-file=stdout
simple-log
verbose
EOF
  } >"$dir/turnserver.conf"
  lab_spawn srv "$dir/turnserver.log" stdbuf -oL turnserver -c "$dir/turnserver.conf"
  lab_wait_listening srv tcp "$LAB_TURN_IP1:$TLS_PORT" 10
}

# The camera's NAT forwards TCP to the rendezvous and to the TLS relay's 443, nothing else.
tls_only_site() {
  lab_site c "$1" port-restricted || return 1
  lab_exec "c$1nat" nft -f - <<EOF
table ip tlsonly {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ip daddr $LAB_SERVER_IP meta l4proto tcp accept
    ip daddr $LAB_TURN_IP1 tcp dport $TLS_PORT counter accept
    meta l4proto udp counter drop
  }
}
EOF
}

check_turns() {
  local i=1 name=turns dir="$LAB_TMP/turns" before=$failures out
  mkdir -p "$dir"
  if ! tls_only_site "$i" || ! lab_site v "$i" port-restricted; then
    tap_not_ok "$name: lab sites"
    return
  fi
  # Without --turn-ca: the self-signed certificate is refused, and the camera says why.
  lab_spawn "c$i" "$dir/camera-untrusted.log" "$build/src/tools/icecam-camera" --server "$URL" \
    --id "cam$i" --source test --verbose
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera-untrusted.log" 'registered with the rendezvous' 15
  start_viewer "$i" "v$i" "$dir" 0
  if lab_wait_line "$dir/camera-untrusted.log" 'turns: relay .* TLS handshake failed' 20; then
    tap_ok "$name: without --turn-ca the relay's certificate is refused ($(grep -m1 -o 'TLS handshake failed[^:]*' "$dir/camera-untrusted.log"))"
  else
    tap_not_ok "$name: without --turn-ca the relay's certificate is refused"
  fi
  lab_stop "$VIEWER_PID"
  lab_stop "$CAMERA_PID"
  VIEWER_PID='' CAMERA_PID=''

  # With it: the session plays over the TLS relay.
  lab_spawn "c$i" "$dir/camera.log" "$build/src/tools/icecam-camera" --server "$URL" \
    --id "cam$i" --source test --keyframe-interval 10 --verbose \
    --turn-ca "$LAB_TMP/coturn-tls/cert.pem"
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15 \
    || tap_not_ok "$name: camera registers"
  start_viewer "$i" "v$i" "$dir" 0
  tap_check "$name: the viewer decodes a camera that reaches only TLS on 443" \
    wait_steady "$dir/view.log" 30 3 30
  tap_check "$name: the camera's end of the pair is its relay" \
    grep -qE '^icecam-camera: session .* pair=relay/' "$dir/camera.log"
  tap_check "$name: the TLS coturn allocated for the camera" \
    grep -qE 'username=<[0-9]+:[0-9a-f]+:camera>' "$LAB_TMP/coturn-tls/turnserver.log"
  out=$(lab_exec "c${i}nat" nft list table ip tlsonly)
  echo "$out" | grep counter | sed "s/^ */# $name: nft: /"
  tap_check "$name: the camera's UDP was dropped at its NAT" \
    bash -c 'grep "udp counter" <<<"$1" | grep -qvE "packets 0 "' _ "$out"
  stop_case "$i" "$name" "$dir" "$before"
}

main() {
  local start=$SECONDS
  check_tools || exit 1
  command -v openssl >/dev/null || { echo "1..0 # SKIP openssl is not installed"; exit 77; }
  lab_init
  if ! setup_lab || ! start_tls_coturn; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  check_turns
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
