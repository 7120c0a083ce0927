#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Path recovery with the real binaries on the NAT lab (lab.sh): icecam-camera --source test
# behind one port-restricted NAT, icecam-view --headless --stats-interval 1 behind another
# (srflx/srflx path), and something in a NAT that a user's network does to a live stream:
#  1. nat-remap: the camera's NAT forgets the mapping and the next one gets another public
#     port (as a NAT reboot or a mapping timeout does); the old inbound path is dropped.
#     The camera's consent check notices, restarts ICE in the same session, the viewer
#     answers and its frame count must move again within RECOVERY_BOUND_S.
#  2. short-timeout: both NATs forget idle UDP mappings after 10 s; the stream must not
#     stall (> STALL_MAX_S without a new frame) for STREAM_S seconds.
#  3. loss: 5 % random UDP loss (both ways) in the viewer's NAT; the frame rate under loss
#     must stay >= LOSS_FPS_RATIO_PCT % of the clean rate measured just before in the same run.
# Each case prints its figures as "# ..." lines. Prints TAP. ICECAM_NATLAB_CASES=REGEX runs
# only the matching cases; ICECAM_NATLAB_KEEP_LOGS=1 keeps every case's logs (failed cases'
# are always kept) in $ICECAM_BUILD_DIR/natlab-logs.
# shellcheck disable=SC2016,SC2015  # tap_check conditions are eval'd late; A && B || fail on purpose
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
# Consent freshness fails a dead path after ~10 s, then gathering, the offer through the
# rendezvous, checks and the keyframe: the viewer's frames stopped for 6-10 s in the lab.
RECOVERY_BOUND_S=40
STREAM_S=${ICECAM_NATLAB_STREAM_S:-60}
STALL_MAX_S=3
SHORT_TIMEOUT_S=10
LOSS_PCT=5
LOSS_WINDOW_S=15
# Measured: the rate under 5 % loss was ~93 % of the clean one (the test pattern encodes to
# ~1 packet a frame; a lost packet costs the frames until the keyframe its PLI brings,
# ~1-2 frames at 30 fps, instead of up to 10 s of GOP); 50 % leaves room for a
# loaded machine while still failing when the stream freezes until the next scheduled
# keyframe (10 s GOP: a freeze of most of a window).
LOSS_FPS_RATIO_PCT=50

failures=0
tests=0

tap_ok() { tests=$((tests + 1)); echo "ok $tests - $*"; }
tap_not_ok() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $*"; }
tap_check() {
  local what=$1
  shift
  if "$@"; then tap_ok "$what"; else tap_not_ok "$what"; fi
}

check_tools() {
  local t missing=
  for t in ip nft ss conntrack sysctl turnserver stdbuf awk; do
    command -v "$t" >/dev/null || missing="$missing $t"
  done
  for t in server/icecam-rendezvous tools/icecam-camera tools/icecam-view; do
    [ -x "$build/src/$t" ] || missing="$missing $build/src/$t"
  done
  [ -z "$missing" ] && return 0
  echo "Bail out! missing:$missing"
  return 1
}

setup_lab() {
  local secret_file="$LAB_TMP/turn-secret"
  lab_internet || return 1
  lab_coturn_start "$TURN_SECRET" || { cat "$LAB_TMP/coturn/turnserver.log"; return 1; }
  printf '%s\n' "$TURN_SECRET" >"$secret_file"
  lab_rendezvous_start "$LAB_TMP/rendezvous.log" --verbose \
    --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" \
    --turn-secret-file "$secret_file" --turn-ttl 600 || return 1
  URL=$LAB_RENDEZVOUS_URL
  echo "# rendezvous at $URL, coturn at $LAB_TURN_IP1"
}

# ---- the viewer's progress lines ------------------------------------------------------------

# "FRAMES ELAPSED_MS" per progress line of the viewer log $1.
progress() {
  sed -nE 's/^icecam-view: progress frames=([0-9]+) elapsed_ms=([0-9]+).*/\1 \2/p' "$1"
}

last_frames() { progress "$1" | tail -1 | awk '{ print $1 + 0 }'; }
last_elapsed() { progress "$1" | tail -1 | awk '{ print $2 + 0 }'; }

# Waits until the viewer (log $1) decoded at least $2 frames and its last $3 progress lines
# all increased; at most $4 s.
wait_steady() {
  local log=$1 min=$2 n=$3 deadline=$((SECONDS + $4))
  while [ $SECONDS -lt $deadline ]; do
    if progress "$log" | tail -$((n + 1)) | awk -v min="$min" -v n="$n" '
        NR > 1 && $1 > prev { up++ } { prev = $1; rows++ }
        END { exit !(rows == n + 1 && up == n && prev >= min) }'; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Waits until the viewer (log $1) shows more than $2 frames; at most $3 s.
wait_frames_above() {
  local log=$1 n=$2 deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(last_frames "$log")" -gt "$n" ] && return 0
    sleep 0.2
  done
  return 1
}

# Waits until the viewer's (log $1) progress lines show no new frame; at most $2 s.
wait_stall() {
  local log=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    progress "$log" | tail -2 | awk '{ f[NR] = $1 } END { exit !(NR == 2 && f[1] == f[2]) }' &&
      return 0
    sleep 0.2
  done
  return 1
}

# The longest time (ms) between two progress lines with new frames, among progress lines whose
# elapsed_ms lies in [$2, $3] of viewer log $1.
longest_stall_ms() {
  progress "$1" | awk -v from="$2" -v to="$3" '
    $2 < from || $2 > to { next }
    !seen { seen = 1; last_t = $2; last_f = $1; next }
    $1 > last_f { if ($2 - last_t > worst) worst = $2 - last_t; last_t = $2; last_f = $1; next }
    { if ($2 - last_t > worst) worst = $2 - last_t }
    END { print worst + 0 }'
}

# Frames per second in viewer log $1 between the progress lines nearest elapsed_ms $2 and $3.
fps_between() {
  progress "$1" | awk -v from="$2" -v to="$3" '
    $2 >= from && !a { a = 1; f0 = $1; t0 = $2 }
    $2 <= to { f1 = $1; t1 = $2 }
    END { if (a && t1 > t0) printf "%.1f\n", (f1 - f0) * 1000 / (t1 - t0); else print 0 }'
}

# ---- one case's endpoints -------------------------------------------------------------------

# Camera "cam$1" in namespace $2, log in dir $3; waits until it registered.
start_camera() {
  lab_spawn "$2" "$3/camera.log" "$build/src/tools/icecam-camera" --server "$URL" \
    --id "cam$1" --source test --keyframe-interval 10 --verbose
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$3/camera.log" 'registered with the rendezvous' 15
}

# Viewer of "cam$1" in namespace $2, log in dir $3, until it is stopped.
start_viewer() {
  lab_spawn "$2" "$3/view.log" env GST_DEBUG=icecamsrc:4 GST_DEBUG_NO_COLOR=1 \
    stdbuf -oL "$build/src/tools/icecam-view" --server "$URL" --camera "cam$1" --headless \
    --frames 0 --timeout 30 --stats-interval 1 --verbose
  VIEWER_PID=$LAB_LAST_PID
}

# Sets up slot $1 (port-restricted camera and viewer NATs), starts both ends and waits until
# the viewer decodes steadily. $2 is the case's directory.
start_case() {
  local i=$1 dir=$2
  lab_site c "$i" port-restricted && lab_site v "$i" port-restricted || {
    tap_not_ok "lab sites for slot $i"
    return 1
  }
  start_camera "$i" "c$i" "$dir" || { tap_not_ok "camera cam$i registers"; return 1; }
  start_viewer "$i" "v$i" "$dir"
  if ! wait_steady "$dir/view.log" 30 3 30; then
    tap_not_ok "cam$i: the viewer decodes steadily ($(last_frames "$dir/view.log") frames)"
    return 1
  fi
  return 0
}

stop_case() {
  local i=$1 name=$2 dir=$3 before=$4
  [ -n "${VIEWER_PID:-}" ] && lab_stop "$VIEWER_PID"
  [ -n "${CAMERA_PID:-}" ] && lab_stop "$CAMERA_PID"
  VIEWER_PID='' CAMERA_PID=''
  grep -E '^icecam-camera: session ' "$dir/camera.log" 2>/dev/null | sed "s/^/# $name: /"
  if [ "$failures" != "$before" ] || [ "${ICECAM_NATLAB_KEEP_LOGS:-0}" = 1 ]; then
    local dest="$build/natlab-logs/recovery-$name"
    rm -rf "$dest"
    mkdir -p "$dest" && cp -r "$dir"/. "$dest"/
    cp "$LAB_TMP/rendezvous.log" "$dest"/ 2>/dev/null
    echo "# $name: logs in $dest"
  fi
  lab_site_remove c "$i"
  lab_site_remove v "$i"
}

# The public UDP ports the NAT namespace $1 currently maps for its LAN (conntrack's reply
# destination ports), space-separated.
mapped_ports() {
  lab_exec "$1" conntrack -L -p udp 2>/dev/null |
    awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { n++; if (n == 2) print substr($i, 7) } }' |
    sort -un | tr '\n' ' '
}

session_ids() {
  sed -nE 's/^icecam-camera: session ([^ ]+) for .*/\1/p' "$1" | sort -u
}

# ---- 1. the camera NAT's mapping changes ----------------------------------------------------

case_nat_remap() {
  local i=0 name=nat-remap dir="$LAB_TMP/nat-remap" before=$failures
  local f0 t_last t_resume f_last recovery ports_before ports_after sessions
  mkdir -p "$dir"
  echo "# $name: camera and viewer behind port-restricted NATs; the camera NAT's mapping changes"
  if start_case "$i" "$dir"; then
    ports_before=$(mapped_ports "c${i}nat")
    # conntrack -F alone does not break the path (measured: the camera's next media packet
    # re-creates the mapping on the same public port, since Linux keeps the source port when
    # it can; no stall at all). So first make the NAT pick new ports, as a rebooted NAT or
    # one that allocates ports at random does, then make it forget the mapping.
    if ! lab_exec "c${i}nat" nft -f - <<EOF; then
flush chain ip lab postrouting
add rule ip lab postrouting oifname "wan0" meta l4proto udp masquerade to :20000-29999 random
add rule ip lab postrouting oifname "wan0" masquerade
EOF
      tap_not_ok "$name: new masquerade rules in the camera's NAT"
    fi
    f0=$(last_frames "$dir/view.log")
    lab_exec "c${i}nat" conntrack -F 2>/dev/null
    echo "# $name: conntrack flushed at $f0 frames; public ports before: $ports_before"
    if ! wait_stall "$dir/view.log" 15; then
      tap_not_ok "$name: the new mapping broke the path (the viewer never stalled)"
    else
      ports_after=$(mapped_ports "c${i}nat")
      echo "# $name: the viewer stalled; public ports now: $ports_after"
      f_last=$(last_frames "$dir/view.log")
      t_last=$(progress "$dir/view.log" | awk -v f="$f_last" '$1 == f { print $2; exit }')
      # t_last: the first progress line showing the frozen count, i.e. the last one with new
      # frames before the freeze.
      tap_check "$name: the viewer decodes again within $RECOVERY_BOUND_S s" \
        wait_frames_above "$dir/view.log" "$f_last" "$RECOVERY_BOUND_S"
      t_resume=$(progress "$dir/view.log" | awk -v f="$f_last" '$1 > f { print $2; exit }')
      if [ -n "$t_resume" ]; then
        recovery=$(awk -v a="$t_last" -v b="$t_resume" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
        echo "# $name: recovery time ${recovery} s (last new frame at ${t_last} ms, frames again at ${t_resume} ms, 1 s resolution)"
        # Keeps decoding afterwards, on the new pair.
        sleep 3
        tap_check "$name: the viewer keeps decoding after the restart ($(last_frames "$dir/view.log") frames)" \
          wait_frames_above "$dir/view.log" "$(last_frames "$dir/view.log")" 5
      fi
    fi
    tap_check "$name: the camera logged 'restarting ICE'" \
      grep -qE '^icecam-camera: session .* path lost, restarting ICE' "$dir/camera.log"
    sessions=$(session_ids "$dir/camera.log" | wc -l)
    tap_check "$name: same session, none ended ($sessions session(s), $(grep -c ' ended: ' "$dir/camera.log") ended)" \
      eval '[ "$sessions" = 1 ] && ! grep -qE "^icecam-camera: session .* ended" "$dir/camera.log"'
    tap_check "$name: a new pair was selected after the restart" \
      eval '[ "$(grep -cE "^icecam-camera: session .* pair=" "$dir/camera.log")" -ge 2 ]'
  fi
  stop_case "$i" "$name" "$dir" "$before"
}

# ---- 2. NATs with a 10 s UDP timeout --------------------------------------------------------

case_short_timeout() {
  local i=1 name=short-timeout dir="$LAB_TMP/short-timeout" before=$failures nat t0 t1 stall f0 f1 ok
  mkdir -p "$dir"
  echo "# $name: both NATs forget UDP mappings after $SHORT_TIMEOUT_S s; stream for $STREAM_S s"
  lab_site c "$i" port-restricted && lab_site v "$i" port-restricted || {
    tap_not_ok "$name: lab sites"
    return
  }
  # The camera's media refreshes the camera NAT's mapping 30 times a second and the viewer
  # NAT's too (conntrack refreshes on either direction); what must hold without traffic is the
  # viewer's own return path (RTCP, consent) and the TURN allocation's mapping, which does
  # expire here (it is idle between refreshes): the pair must not depend on it.
  # The conntrack timeouts are per network namespace (checked: setting them in one NAT
  # namespace leaves the others and the root namespace at 30/120 s). Set them before any flow
  # exists, so every mapping of the session gets them.
  ok=true
  for nat in "c${i}nat" "v${i}nat"; do
    lab_exec "$nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=$SHORT_TIMEOUT_S \
      net.netfilter.nf_conntrack_udp_timeout_stream=$SHORT_TIMEOUT_S || ok=false
    [ "$(lab_exec "$nat" sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)" = "$SHORT_TIMEOUT_S" ] || ok=false
  done
  [ "$(sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)" != "$SHORT_TIMEOUT_S" ] || ok=false
  tap_check "$name: UDP conntrack timeouts $SHORT_TIMEOUT_S s in both NAT namespaces only" $ok
  if start_camera "$i" "c$i" "$dir"; then
    start_viewer "$i" "v$i" "$dir"
    if wait_steady "$dir/view.log" 30 3 30; then
      t0=$(last_elapsed "$dir/view.log")
      f0=$(last_frames "$dir/view.log")
      sleep "$STREAM_S"
      t1=$(last_elapsed "$dir/view.log")
      f1=$(last_frames "$dir/view.log")
      # The mappings really carry the short timeout (what is left of it is <= 10 s).
      echo "# $name: camera NAT conntrack: $(lab_exec "c${i}nat" conntrack -L -p udp 2>/dev/null |
        awk '{ printf "%s%s %s %s ttl=%ss", sep, $4, $5, $6, $3; sep = "; " }')"
      stall=$(longest_stall_ms "$dir/view.log" "$t0" "$t1")
      echo "# $name: $((f1 - f0)) frames in $(((t1 - t0) / 1000)) s ($(fps_between "$dir/view.log" "$t0" "$t1") fps), longest gap between new frames ${stall} ms"
      tap_check "$name: frames kept increasing for $(((t1 - t0) / 1000)) s (longest stall ${stall} ms <= ${STALL_MAX_S} s)" \
        eval '[ $((t1 - t0)) -ge $(((STREAM_S - 2) * 1000)) ] && [ "$stall" -le $((STALL_MAX_S * 1000)) ]'
      tap_check "$name: no ICE restart and no ended session" \
        eval '! grep -qE "restarting ICE| ended: " "$dir/camera.log"'
    else
      tap_not_ok "$name: the viewer decodes steadily ($(last_frames "$dir/view.log") frames)"
    fi
  else
    tap_not_ok "$name: camera registers"
  fi
  stop_case "$i" "$name" "$dir" "$before"
}

# ---- 3. random loss in the viewer's NAT -----------------------------------------------------

case_loss() {
  local i=2 name=loss dir="$LAB_TMP/loss" before=$failures t0 t1 t2 clean lossy dropped passed
  mkdir -p "$dir"
  echo "# $name: $LOSS_PCT % random UDP loss in the viewer's NAT (both ways), 10 s GOP"
  if start_case "$i" "$dir"; then
    t0=$(last_elapsed "$dir/view.log")
    sleep "$LOSS_WINDOW_S"
    t1=$(last_elapsed "$dir/view.log")
    lab_exec "v${i}nat" nft -f - <<EOF
table ip lab {
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto udp numgen random mod 100 < $LOSS_PCT counter drop
    meta l4proto udp counter accept
  }
}
EOF
    sleep "$LOSS_WINDOW_S"
    t2=$(last_elapsed "$dir/view.log")
    clean=$(fps_between "$dir/view.log" "$t0" "$t1")
    lossy=$(fps_between "$dir/view.log" "$t1" "$t2")
    dropped=$(lab_exec "v${i}nat" nft list chain ip lab forward | grep -F drop | grep -oE 'packets [0-9]+' | awk '{ print $2 }')
    passed=$(lab_exec "v${i}nat" nft list chain ip lab forward | grep -F accept | grep -oE 'packets [0-9]+' | awk '{ print $2 }')
    echo "# $name: clean ${clean} fps over $(((t1 - t0) / 1000)) s; under ${LOSS_PCT} % loss ${lossy} fps over $(((t2 - t1) / 1000)) s (dropped ${dropped:-0} of $((${dropped:-0} + ${passed:-0})) UDP packets)"
    echo "# $name: longest gap between new frames under loss $(longest_stall_ms "$dir/view.log" "$t1" "$t2") ms"
    tap_check "$name: the NAT dropped packets (${dropped:-0})" [ "${dropped:-0}" -gt 0 ]
    tap_check "$name: under loss ${lossy} fps >= ${LOSS_FPS_RATIO_PCT} % of clean ${clean} fps" \
      awk -v a="$lossy" -v b="$clean" -v p="$LOSS_FPS_RATIO_PCT" 'BEGIN { exit !(b > 0 && a * 100 >= b * p) }'
    tap_check "$name: the session survived the loss (no 'ended')" \
      eval '! grep -qE "^icecam-camera: session .* ended" "$dir/camera.log"'
  fi
  stop_case "$i" "$name" "$dir" "$before"
}

main() {
  local start=$SECONDS filter=${ICECAM_NATLAB_CASES:-.} c
  check_tools || exit 1
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  for c in nat-remap short-timeout loss; do
    [[ $c =~ $filter ]] || continue
    case $c in
      nat-remap) case_nat_remap ;;
      short-timeout) case_short_timeout ;;
      loss) case_loss ;;
    esac
  done
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
