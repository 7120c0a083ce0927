#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The web viewer across NATs: headless Chromium (tests/browser/play-page.py, mDNS host
# candidates on) in a LAN behind a symmetric NAT watches icecam-camera behind a port-restricted
# one, through the rendezvous' page at http://203.0.113.2:PORT/view/CAMERA; coturn relays
# (lab.sh). Cases: the default policy must end on a relayed pair (NATLAB.md's oracle), and the
# page's relay-only policy (#relay=only) on a pair whose browser end is a relay. Asserts on the
# pair types getStats() reports and that the camera selected the same pair (its addresses).
# Then the browser's NAT reboots under the playing page, which must play again by itself.
# Last, the browser behind a lossy link: its NACKs answered by the camera (nack_case).
# Prints TAP.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
src=${ICECAM_SOURCE_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB_TEST=browser
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "1..0 # SKIP no chromium"; exit 77; }
check_tools || exit 1
lab_init
setup_lab || { echo "Bail out! the lab did not start"; exit 1; }
web=${URL/ws:/http:}

# One case: $1 name, $2 the page's fragment ("" or "#relay=only"), $3 regex the browser's
# local/remote candidate types must match.
browser_case() {
  local name=$1 fragment=$2 expect=$3 dir="$LAB_TMP/$1" before=$failures out pair camera_pair
  mkdir -p "$dir"
  lab_site c 0 port-restricted && lab_site v 0 symmetric || { tap_not_ok "$name: lab sites"; return; }
  start_camera 0 c0 "$dir" || { tap_not_ok "$name: camera cam0 registers"; stop_case 0 "$name" "$dir" "$before"; return; }
  lab_exec v0 /usr/bin/python3 "$src/tests/browser/play-page.py" "$web/view/cam0$fragment" \
    --seconds 6 --timeout 40 >"$dir/page.json" 2>"$dir/page.err"
  out=$(/usr/bin/python3 - "$dir/page.json" <<'PY'
import json, sys
try:
    s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
except Exception as e:
    print(f'none none - - 0 0 {e}')
    sys.exit()
w = s.get('watch') or {}
st = w.get('stats') or {}
p = st.get('pair') or {}
print(p.get('local'), p.get('remote'), p.get('localAddress', '-'), p.get('remoteAddress', '-'),
      st.get('framesDecoded', 0), st.get('keyFramesDecoded', 0), w.get('bundlePolicy'))
PY
)
  read -r local remote laddr raddr frames keyframes bundle <<<"$out"
  pair="$local/$remote"
  echo "# $name: browser pair $pair ($laddr <-> $raddr), $frames frames, $keyframes keyframes, $bundle"
  tap_check "$name: the browser plays (frames $frames)" test "${frames:-0}" -ge 60
  if [[ $pair =~ ^($expect)$ ]]; then tap_ok "$name: the browser's pair is $pair"
  else tap_not_ok "$name: the browser's pair is $pair, expected $expect"; fi
  # The camera's last selected pair, "LOCALTYPE LOCALADDR <-> REMOTETYPE REMOTEADDR".
  camera_pair=$(grep -oE 'selected [a-z]+ [0-9.]+:[0-9]+ <-> [a-z]+ [0-9.]+:[0-9]+' "$dir/camera.log" | tail -1)
  echo "# $name: camera $camera_pair"
  # (Chromium leaves out the address of a local peer-reflexive candidate: the port then.)
  if [[ $laddr != - && $raddr != - && $camera_pair == *" $raddr <-> "*"$laddr" ]]; then
    tap_ok "$name: the camera selected the same pair"
  else
    tap_not_ok "$name: the camera selected '$camera_pair', the browser $laddr <-> $raddr"
  fi
  [ "$failures" != "$before" ] && { sed 's/^/# page: /' "$dir/page.err" | tail -5; }
  stop_case 0 "$name" "$dir" "$before"
}

# NATLAB.md: port-restricted camera, symmetric viewer -> a relayed pair (either end's relay).
browser_case symmetric-browser "" 'relay/(srflx|prflx|relay)|(prflx|srflx|host)/relay'
browser_case relay-only "#relay=only" 'relay/(srflx|prflx|relay)'

# A NAT reboot under a playing page: the browser's port-restricted NAT forgets every mapping
# (lab.sh's lab_nat_reboot: new public ports, the WebSocket's TCP flow dies too). The page must
# find out by itself (no media: a ping, a new connection with its resume secret, restart
# requests) and play again.
reboot_case() {
  local name=nat-reboot dir="$LAB_TMP/nat-reboot" before=$failures at after deadline
  mkdir -p "$dir"
  lab_site c 0 port-restricted && lab_site v 0 port-restricted || { tap_not_ok "$name: lab sites"; return; }
  start_camera 0 c0 "$dir" || { tap_not_ok "$name: camera cam0 registers"; stop_case 0 "$name" "$dir" "$before"; return; }
  lab_spawn v0 "$dir/page.out" /usr/bin/python3 "$src/tests/browser/play-page.py" \
    "$web/view/cam0" --seconds 30 --timeout 40 --progress
  local page_pid=$LAB_LAST_PID
  deadline=$((SECONDS + 60))
  at=0
  while [ $SECONDS -lt $deadline ]; do
    at=$(sed -nE 's/^progress frames=([0-9]+).*/\1/p' "$dir/page.out" | tail -1)
    [ "${at:-0}" -ge 90 ] && break
    sleep 0.2
  done
  if [ "${at:-0}" -lt 90 ]; then
    tap_not_ok "$name: the page plays before the reboot (${at:-0} frames)"
    lab_stop "$page_pid"; stop_case 0 "$name" "$dir" "$before"; return
  fi
  lab_nat_reboot v0nat all 2>>"$dir/reboot.log" || tap_not_ok "$name: the reboot of v0nat"
  echo "# $name: rebooted the browser's NAT at $at frames"
  lab_wait_pid_gone "$page_pid" 60
  after=$(sed -nE 's/^progress frames=([0-9]+).*/\1/p' "$dir/page.out" | tail -1)
  grep -E '^progress' "$dir/page.out" | awk 'NR % 3 == 0' | sed "s/^/# $name: /"
  # 30 s of playing, the reboot after about 3 s: at least 10 s of video must follow it.
  tap_check "$name: the page plays again after its NAT rebooted ($at -> ${after:-0} frames)" \
    test "${after:-0}" -ge $((at + 300))
  stop_case 0 "$name" "$dir" "$before"
}
reboot_case

# Browsers' NACKs answered (issue 16): Chromium behind a link that loses 4 % of the packets on
# the way to it (icecam-link-emulator on its site's WAN link, 20 ms each way). Its getStats()
# must count NACKs sent and repairs received, its freezes stay few, and the camera's stats
# (--stats-interval) show the NACKs it got from the browser and the retransmissions (RTX)
# that answered them. The emulator's own count of what it dropped is the control.
nack_case() {
  local name=browser-nack dir="$LAB_TMP/browser-nack" before=$failures out stats dropped
  local frames nacks freezes repaired lost nacked retransmitted
  mkdir -p "$dir"
  if ! lab_site c 0 port-restricted || ! lab_site v 0 port-restricted ||
    ! lab_site_emulate v 0 --ab-loss 4 --ab-delay 20 --ba-delay 20; then
    tap_not_ok "$name: lab sites with the link emulator"
    return
  fi
  start_camera 0 c0 "$dir" --stats-interval 1 ||
    { tap_not_ok "$name: camera cam0 registers"; stop_case 0 "$name" "$dir" "$before"; return; }
  lab_exec v0 /usr/bin/python3 "$src/tests/browser/play-page.py" "$web/view/cam0" \
    --seconds 12 --timeout 40 >"$dir/page.json" 2>"$dir/page.err"
  sleep 1.2 # one more stats line from the camera
  out=$(/usr/bin/python3 - "$dir/page.json" <<'PY'
import json, sys
try:
    s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
except Exception:
    print('0 0 9 0 0')
    sys.exit()
st = (s.get('watch') or {}).get('stats') or {}
print(st.get('framesDecoded', 0), st.get('nackCount', 0), st.get('freezeCount', 9),
      st.get('retransmittedPacketsReceived', '-'), st.get('packetsLost', '-'))
PY
)
  read -r frames nacks freezes repaired lost <<<"$out"
  # The session that carried the stream: its latest line has the most packets (the page may
  # start another session as it closes, whose lines come last with none).
  stats=$(grep -E '^icecam-camera: stats session=' "$dir/camera.log" |
    awk '{ n = 0; if (match($0, / packets=[0-9]+/)) n = substr($0, RSTART + 9, RLENGTH - 9) + 0;
           if (n >= best) { best = n; line = $0 } } END { print line }')
  nacked=$(sed -nE 's/.* nacked=([0-9]+).*/\1/p' <<<"$stats")
  retransmitted=$(sed -nE 's/.* retransmitted=([0-9]+).*/\1/p' <<<"$stats")
  kill -TERM "$LAB_EMULATOR_PID" 2>/dev/null
  lab_wait_pid_gone "$LAB_EMULATOR_PID" 5
  dropped=$(sed -nE 's/^link-emulator: ab passed=[0-9]+ lost=([0-9]+).*/\1/p' \
    "$LAB_TMP/v0link.log" | tail -1)
  cp "$LAB_TMP/v0link.log" "$dir/" 2>/dev/null
  echo "# $name: browser frames=$frames nackCount=$nacks freezeCount=$freezes" \
    "retransmittedPacketsReceived=$repaired packetsLost=$lost; link dropped ${dropped:-?}"
  echo "# $name: camera ${stats#icecam-camera: }"
  tap_check "$name: the browser plays through the lossy link (frames $frames)" \
    test "${frames:-0}" -ge 200
  tap_check "$name: the link lost packets (${dropped:-none})" [ "${dropped:-0}" -gt 0 ]
  tap_check "$name: the browser sent NACKs (nackCount $nacks)" test "${nacks:-0}" -gt 0
  tap_check "$name: the camera got them (nacked=${nacked:-none})" test "${nacked:-0}" -gt 0
  tap_check "$name: the camera answered with retransmissions (retransmitted=${retransmitted:-none})" \
    test "${retransmitted:-0}" -gt 0
  if [ "$repaired" != - ]; then
    tap_check "$name: the browser received repairs (retransmittedPacketsReceived $repaired)" \
      test "${repaired:-0}" -gt 0
  fi
  # Chromium's freezeCount is far stricter than icecam-view's freezes= (a frame shown for over
  # three times the mean frame time or 150 ms more, not 500 ms): a repair in flight can count
  # one. Two were seen in one CI run with every NACK answered; more means repair is not working.
  tap_check "$name: at most 3 freezes by Chromium's count (freezeCount $freezes)" \
    test "${freezes:-9}" -le 3
  [ "$failures" != "$before" ] && { sed 's/^/# page: /' "$dir/page.err" | tail -5; }
  stop_case 0 "$name" "$dir" "$before"
}
nack_case

echo "1..$tests"
[ "$failures" -eq 0 ]
