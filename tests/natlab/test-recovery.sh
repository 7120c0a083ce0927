#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Path recovery with the real binaries on the NAT lab (lab.sh): icecam-camera --source test
# behind one port-restricted NAT, icecam-view --headless --stats-interval 1 behind another
# (srflx/srflx path), and something in a NAT that a user's network does to a live stream:
#  1. nat-remap: the camera's NAT forgets the mapping and the next one gets another public
#     port (as a NAT reboot or a mapping timeout does); the old inbound path is dropped.
#     The camera notices (the viewer's reports stop), restarts ICE in the same session, the viewer
#     answers and its frame count must move again within RECOVERY_BOUND_S; the longest gap
#     between two decoded frames (the viewer's summary, max_gap_ms) must stay within
#     RECOVERY_MAX_GAP_MS.
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
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

NATLAB_TEST=recovery
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
# The camera notices that the viewer's receiver reports stopped (2 s), restarts ICE in the
# session, the viewer answers, checks and the keyframe follow: the frames move again well
# within this (consent freshness alone took 6-10 s before the reports).
RECOVERY_BOUND_S=40
# The same measured as the viewer's longest gap between decoded frames: the issue's goal.
RECOVERY_MAX_GAP_MS=${ICECAM_NATLAB_RECOVERY_MAX_GAP_MS:-3000}
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

# ---- 1. the camera NAT's mapping changes ----------------------------------------------------

case_nat_remap() {
  local i=0 name=nat-remap dir="$LAB_TMP/nat-remap" before=$failures
  local f0 t_last t_resume f_last recovery ports_before ports_after sessions gap restarts
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
    restarts=$(grep -cE '^icecam-camera: session .* path lost, restarting ICE' "$dir/camera.log")
    lab_exec "c${i}nat" conntrack -F 2>/dev/null
    echo "# $name: conntrack flushed at $f0 frames; public ports before: $ports_before"
    # The path broke: the viewer's frames stopped for a whole progress interval, or (a
    # recovery shorter than that can fall between two lines) the camera restarted ICE.
    if ! wait_stall_or_restart "$dir/view.log" "$dir/camera.log" "$restarts" 15; then
      tap_not_ok "$name: the new mapping broke the path (no stall, no ICE restart)"
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
    # The viewer's own measure of the freeze, in its summary (stopping it ends the session,
    # so after the checks above).
    lab_stop "$VIEWER_PID"
    VIEWER_PID=''
    gap=$(summary_field "$dir/view.log" max_gap_ms)
    echo "# $name: $(grep -E '^icecam-view: result=' "$dir/view.log")"
    tap_check "$name: longest gap between decoded frames ${gap:-none} ms <= $RECOVERY_MAX_GAP_MS ms" \
      eval '[ -n "$gap" ] && [ "$gap" != none ] && [ "$gap" -le "$RECOVERY_MAX_GAP_MS" ]'
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
