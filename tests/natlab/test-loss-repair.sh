#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Loss repair across an emulated link (issue 16): the viewer's site reaches the internet
# through icecam-link-emulator (tests/natlab/link-emulator.c) with 5 % random loss on its
# downlink and 30 ms each way (60 ms round trip). The camera answers the viewer's NACKs with
# RTX from its history; the viewer's jitter buffer waits up to 200 ms for them. Checks: the
# link really lost packets, the viewer asked for them and got them back (recovered=), at most
# a few stayed lost after repair (lost=, "0 in most runs"), no freeze (no gap over 500 ms), and
# the camera's history answered (the viewer's recovered= counts the retransmissions it got).
# The control is the emulator's own count of what it dropped. Prints TAP.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB_TEST=loss-repair
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

FRAMES=${ICECAM_NATLAB_LOSS_FRAMES:-450}

# One viewer of 15 s through a lossy downlink; $1 slot, $2 case name, $3 loss %.
check_lossy_link() {
  local i=$1 name=$2 loss=$3 dir="$LAB_TMP/$2" before=$failures summary lost recovered gap
  local freezes dropped stats resent
  mkdir -p "$dir"
  if ! lab_site c "$i" port-restricted || ! lab_site v "$i" port-restricted ||
    ! lab_site_emulate v "$i" --ab-loss "$loss" --ab-delay 30 --ba-delay 30; then
    tap_not_ok "$name: lab sites with the link emulator"
    return
  fi
  start_camera "$i" "c$i" "$dir" --stats-interval 1 ||
    { tap_not_ok "$name: camera registers"; return; }
  start_viewer "$i" "v$i" "$dir" "$FRAMES"
  lab_wait_pid_gone "$VIEWER_PID" $((FRAMES / 10 + 60))
  wait "$VIEWER_PID" 2>/dev/null
  VIEWER_PID=''
  summary=$(grep -E '^icecam-view: result=' "$dir/view.log" | tail -1)
  echo "# $name: $summary"
  lost=$(summary_field "$dir/view.log" lost)
  recovered=$(summary_field "$dir/view.log" recovered)
  freezes=$(summary_field "$dir/view.log" freezes)
  gap=$(summary_field "$dir/view.log" max_gap_ms)
  kill -TERM "$LAB_EMULATOR_PID" 2>/dev/null
  lab_wait_pid_gone "$LAB_EMULATOR_PID" 5
  dropped=$(sed -nE 's/^link-emulator: ab passed=[0-9]+ lost=([0-9]+).*/\1/p' \
    "$LAB_TMP/v${i}link.log" | tail -1)
  cp "$LAB_TMP/v${i}link.log" "$dir/" 2>/dev/null
  echo "# $name: the link dropped ${dropped:-?} packets on the way to the viewer"
  stats=$(grep -E '^icecam-camera: stats session=' "$dir/camera.log" | tail -1)
  echo "# $name: camera ${stats#icecam-camera: }"
  tap_check "$name: the viewer decoded $FRAMES frames" grep -q 'result=ok' <<<"$summary"
  tap_check "$name: the link lost packets (${dropped:-none})" [ "${dropped:-0}" -gt 0 ]
  tap_check "$name: retransmissions repaired losses (recovered=$recovered)" \
    [ "${recovered:-0}" -gt 0 ]
  resent=$(sed -nE 's/.* retransmitted=([0-9]+).*/\1/p' <<<"$stats")
  tap_check "$name: the camera's stats show retransmissions (retransmitted=${resent:-none})" \
    [ "${resent:-0}" -gt 0 ]
  tap_check "$name: at most 2 packets still lost after repair (lost=$lost)" \
    [ -n "$lost" ] && [ "$lost" -le 2 ]
  tap_check "$name: no freeze (freezes=$freezes, max_gap_ms=$gap)" [ "${freezes:-1}" = 0 ]
  stop_case "$i" "$name" "$dir" "$before"
}

main() {
  local start=$SECONDS
  check_tools || exit 1
  [ -x "$build/tests/icecam-link-emulator" ] || { echo "Bail out! no icecam-link-emulator"; exit 1; }
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  check_lossy_link 0 loss5-rtt60 5
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
