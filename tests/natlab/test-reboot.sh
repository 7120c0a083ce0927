#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A NAT box reboots under a live stream (lab.sh's lab_nat_reboot: every mapping forgotten, new
# public ports for TCP and UDP alike, the old TCP flows dead). icecam-camera --source test and
# icecam-view --headless --frames REBOOT_FRAMES behind port-restricted NATs (srflx/srflx); once
# the viewer decodes steadily, one NAT reboots. Cases:
#  camera-reboot        the camera's NAT; old TCP segments are dropped (neither end is told).
#                       During the outage an impostor (ws-hello.py, from the viewer's LAN) says
#                       hello with the camera's id and no proof: it must be refused (id-in-use
#                       or unauthorized), get no welcome, and learn nothing about sessions.
#  camera-reboot-loose  the camera's NAT, as a Linux NAT at its defaults: the camera's next
#                       segment of its old signalling connection leaves on a new port and the
#                       rendezvous resets it, so the camera learns at once (what the issue
#                       "a camera whose router reboots is back in seconds" saw).
#  viewer-reboot        the viewer's NAT; old TCP segments dropped.
#  udp-control          the camera's NAT remaps and forgets UDP only; signalling survives. A
#                       control for the recipe and the measurements: an ICE restart alone
#                       recovers from this today.
# Each case asserts what a user sees: the viewer decodes again, the longest gap between two
# decoded frames (its summary's max_gap_ms) is at most REBOOT_MAX_GAP_MS (CONTROL_MAX_GAP_MS
# for the control), and it decoded all it asked for (result=ok). A camera whose NAT rebooted
# must be listed by the rendezvous again (its log says "camera 'ID' (peer N): ... from ADDR"
# with a new ADDR; else the camera's "registered with the rendezvous") within
# LISTED_MAX_MS of its reconnect (its NAT's first new TCP connection to the rendezvous, from
# conntrack events). Each also checks the recipe: the rendezvous's socket of the old signalling
# connection receives nothing after a reboot (and, in the control, carries on).
# Figures are printed as "# ..." lines. Prints TAP. ICECAM_NATLAB_CASES=REGEX runs only the
# matching cases; ICECAM_NATLAB_KEEP_LOGS=1 keeps every case's logs (failed cases' are always
# kept) in $ICECAM_BUILD_DIR/natlab-logs/reboot-CASE.
# shellcheck disable=SC2016,SC2015  # tap_check conditions are eval'd late; A && B || C on purpose
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

NATLAB_TEST=reboot
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
FPS=30
# 20 s of video: the reboot comes ~4 s in, so the viewer must keep decoding ~16 s past it
# (~11 s after a 5 s freeze).
REBOOT_FRAMES=$((FPS * 20))
# The goal: a reboot costs the viewer at most 5 s of video.
REBOOT_MAX_GAP_MS=${ICECAM_NATLAB_REBOOT_MAX_GAP_MS:-5000}
# The control recovers by an ICE restart once the camera's consent check fails: 5.9-10.0 s
# measured (5.5 s in test-recovery's nat-remap, where the remap came later in the session);
# room for a loaded machine.
CONTROL_MAX_GAP_MS=${ICECAM_NATLAB_CONTROL_MAX_GAP_MS:-20000}
LISTED_MAX_MS=2000
# After the frames left at the reboot should have arrived (plus the gap allowed), the viewer
# gets this much more before it is stopped.
SLACK_S=3

# ---- times ----------------------------------------------------------------------------------

# GLib log lines carry local wall-clock "HH:MM:SS.mmm"; these compare them as milliseconds since
# local midnight (a run across midnight adds a day).
ms_of_day() { awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }' <<<"$1"; }
now_ms_of_day() { ms_of_day "$(date +%H:%M:%S.%3N)"; }

# The ms of day of the first line of GLib log $1 stamped at or after ms of day $2 that matches
# ERE $3; empty if none.
first_log_ms() {
  awk -v after="$2" -v re="$3" '
    match($0, / [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]: /) {
      split(substr($0, RSTART + 1, 12), t, /[:.]/)
      ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]
      if (ms < after - 43200000) ms += 86400000
      if (ms >= after && $0 ~ re) { print ms; exit }
    }' "$1" 2>/dev/null
}

# How many lines of GLib log $1 stamped at or after ms of day $2 match ERE $3.
count_log_lines() {
  awk -v after="$2" -v re="$3" '
    match($0, / [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]: /) {
      split(substr($0, RSTART + 1, 12), t, /[:.]/)
      ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]
      if (ms < after - 43200000) ms += 86400000
      if (ms >= after && $0 ~ re) n++
    }
    END { print n + 0 }' "$1" 2>/dev/null
}

# The ms of day of the first new TCP connection (SYN_SENT) in conntrack event log $1.
first_syn_ms() {
  local epoch
  epoch=$(grep -m1 'SYN_SENT' "$1" 2>/dev/null | sed -nE 's/^\[([0-9]+\.[0-9]{3}).*/\1/p')
  [ -n "$epoch" ] && ms_of_day "$(date -d "@$epoch" +%H:%M:%S.%3N)"
}

# In viewer log $1, from elapsed_ms $2 on: the elapsed_ms of the first progress line with new
# frames after one without (the stream stalled and came back); empty if it never did.
resumed_elapsed() {
  progress "$1" | awk -v from="$2" '
    $2 < from { prev = $1; next }
    stalled && $1 > prev { print $2; exit }
    $1 == prev { stalled = 1 }
    { prev = $1 }'
}

# "N ms after the reboot" for ms of day $1 (empty: "never"), the reboot at ms of day $2.
since_reboot() {
  if [ -n "$1" ]; then echo "$(($1 - $2)) ms after the reboot"; else echo never; fi
}

# ---- what the lab shows ---------------------------------------------------------------------

# The public port NAT namespace $1 maps the signalling connection to the rendezvous to.
signalling_public_port() {
  lab_exec "$1" conntrack -L -p tcp --dport "$RV_PORT" 2>/dev/null |
    awk '/ESTABLISHED/ {
      n = 0
      for (i = 1; i <= NF; i++) if ($i ~ /^dport=/ && ++n == 2) { print substr($i, 7); exit }
    }'
}

# Bytes the rendezvous's socket from $1 (ADDR:PORT) received so far; "gone" if it is closed.
rendezvous_bytes_from() {
  local info
  info=$(lab_exec srv ss -Htin state established dst "$1" 2>/dev/null)
  [ -n "$info" ] || { echo gone; return; }
  grep -oE 'bytes_received:[0-9]+' <<<"$info" | cut -d: -f2 | head -1 | awk '{ print $1 + 0 }'
}

# Packets of old TCP flows NAT namespace $1 dropped since it rebooted.
old_flow_drops() {
  lab_exec "$1" nft list chain ip lab rebooted 2>/dev/null | grep -oE 'packets [0-9]+' |
    awk '{ print $2 }'
}

healthz() {
  lab_exec srv python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://$LAB_SERVER_IP:$RV_PORT/healthz" 2>&1 | tr -d '\n '
}

# ---- the impostor ---------------------------------------------------------------------------

# Says hello as camera "cam$1" from namespace $2, no proof; output in $3. Then checks what it got.
impostor() {
  local i=$1 ns=$2 out=$3 dir=$4 sessions pattern leak
  lab_exec "$ns" python3 "$here/ws-hello.py" "$URL" camera "cam$i" --wait 3 >"$out" 2>&1
  sed 's/^/# impostor: /' "$out"
  tap_check "impostor: refused with id-in-use or unauthorized" \
    grep -qE '"type": *"error".*"code": *"(id-in-use|unauthorized)"' "$out"
  tap_check "impostor: no welcome, connection closed by the rendezvous" \
    eval '! grep -q "\"welcome\"" "$out" && grep -qE "^close(d)? " "$out"'
  # Session ids, the word "session", viewer names, the lab's public and private addresses.
  sessions=$(session_ids "$dir/camera.log" | paste -sd'|' -)
  pattern="session|viewer|198\.51\.100\.|(^|[^0-9])10\.[0-9]+\.[0-9]+\.[0-9]|172\.16\."
  leak=$(grep -iE "$pattern${sessions:+|$sessions}" "$out")
  tap_check "impostor: nothing about sessions, viewers or addresses in its answer${leak:+: $leak}" \
    [ -z "$leak" ]
}

# ---- one case -------------------------------------------------------------------------------

# What reboot_mid_stream saw: the reboot's time (ms of day, and elapsed_ms on the viewer's
# clock), the frames decoded by then, the rebooting side's signalling connection as the
# rendezvous sees it (ADDR:PORT) and the bytes the rendezvous had received on it at the
# reboot, 1 and 3 s later and at the end ("gone" once closed), /healthz while the viewer
# still ran.
R_T0='' R_T0_ELAPSED='' R_F0='' R_OLD_ADDR='' R_BYTES0='' R_BYTES1='' R_BYTES3='' R_BYTES_END=''
R_HEALTH=''

# Case $1 in slot $2: once the viewer decodes steadily, reboots NAT namespace $3 in mode $4,
# sends the impostor in if $5 is "impostor", then gives the viewer until its frames are due
# (plus $6 ms of freeze and SLACK_S) and stops it. Returns 1 if the case did not start.
reboot_mid_stream() {
  local name=$1 i=$2 nat=$3 mode=$4 with_impostor=$5 bound=$6 dir="$LAB_TMP/$1"
  local viewer_start events_pid wait_s deadline
  viewer_start=$(date +%s%3N)
  start_case "$i" "$dir" "$REBOOT_FRAMES" || return 1
  R_OLD_ADDR="$(lab_exec "$nat" ip -4 -o addr show dev wan0 |
    awk '{ sub(/\/.*/, "", $4); print $4 }'):$(signalling_public_port "$nat")"
  R_BYTES0=$(rendezvous_bytes_from "$R_OLD_ADDR")
  lab_spawn "$nat" "$dir/conntrack-events.log" stdbuf -oL conntrack -E -e NEW -p tcp \
    --dport "$RV_PORT" -o timestamp
  events_pid=$LAB_LAST_PID
  R_F0=$(last_frames "$dir/view.log")
  R_T0=$(now_ms_of_day)
  R_T0_ELAPSED=$(($(date +%s%3N) - viewer_start))
  lab_nat_reboot "$nat" "$mode" 2>>"$dir/reboot.log" || tap_not_ok "$name: the reboot of $nat"
  echo "# $name: rebooted $nat at $(date +%T.%3N) ($R_F0 frames decoded); its signalling" \
    "was $R_OLD_ADDR ($R_BYTES0 bytes received by the rendezvous)"
  if [ "$with_impostor" = impostor ]; then
    sleep 0.5
    impostor "$i" "v$i" "$dir/impostor.log" "$dir"
    sleep 0.5
  else
    sleep 1
  fi
  # A segment already past the NAT when it rebooted (a keepalive ping, a pong) may still land
  # in the first moments: count what the old connection carries from 1 s after the reboot.
  R_BYTES1=$(rendezvous_bytes_from "$R_OLD_ADDR")
  sleep 2
  R_BYTES3=$(rendezvous_bytes_from "$R_OLD_ADDR")
  wait_s=$(((REBOOT_FRAMES - R_F0) / FPS + bound / 1000 + SLACK_S))
  deadline=$((SECONDS + wait_s - 3))
  while [ $SECONDS -lt $deadline ] && [ -d "/proc/$VIEWER_PID" ]; do sleep 0.2; done
  if [ -d "/proc/$VIEWER_PID" ]; then
    echo "# $name: the viewer is at $(last_frames "$dir/view.log") frames $wait_s s after the" \
      "reboot: stopped"
  fi
  R_HEALTH=$(healthz)
  lab_stop "$VIEWER_PID"
  VIEWER_PID=''
  lab_stop "$events_pid"
  R_BYTES_END=$(rendezvous_bytes_from "$R_OLD_ADDR")
}

# What the user sees: the viewer (of case $1) decodes again, freezes at most $2 ms, gets all
# its frames.
check_viewer() {
  local name=$1 bound=$2 log="$LAB_TMP/$1/view.log" resumed gap result frames what
  result=$(summary_field "$log" result)
  frames=$(summary_field "$log" frames)
  gap=$(summary_field "$log" max_gap_ms)
  resumed=$(resumed_elapsed "$log" "$R_T0_ELAPSED")
  echo "# $name: $(grep -E '^icecam-view: result=' "$log" | tail -1)"
  grep -E '^icecam-view: (incomplete|error|lost|retrying|watching)' "$log" | sed "s/^/# $name: /"
  if [ -n "$resumed" ]; then
    echo "# $name: the viewer decoded again $((resumed - R_T0_ELAPSED)) ms after the reboot" \
      "(progress lines, 1 s resolution)"
  else
    echo "# $name: the viewer's progress lines show no stall, then new frames, after the reboot"
  fi
  tap_check "$name: the viewer decodes again after the reboot" \
    eval '[ -n "$resumed" ] || [ "${frames:-0}" -gt "$((R_F0 + FPS))" ]'
  tap_check "$name: longest gap between decoded frames ${gap:-none} ms <= $bound ms" \
    eval '[ -n "$gap" ] && [ "$gap" != none ] && [ "$gap" -le "$bound" ]'
  what="result=${result:-none} frames=${frames:-none}"
  tap_check "$name: the viewer decoded the $REBOOT_FRAMES frames it asked for ($what)" \
    [ "${result:-}" = ok ]
}

# The recipe did what it says to the signalling connection of case $1 through NAT $2 (mode $3):
# a reboot kills it without a word to the rendezvous; the control leaves it working.
check_old_signalling() {
  local name=$1 nat=$2 mode=$3 ok=false what
  if [ "$mode" = udp ]; then
    [ -z "$(first_syn_ms "$LAB_TMP/$1/conntrack-events.log")" ] && [ "$R_BYTES_END" != gone ] &&
      [ "$R_BYTES_END" -gt "$R_BYTES0" ] && ok=true
    what="signalling survived: no new TCP connection to the rendezvous, the old one carried on"
    tap_check "$name: $what ($R_BYTES0 -> $R_BYTES_END bytes)" $ok
    return
  fi
  what="$R_BYTES0 bytes at the reboot, $R_BYTES1 1 s later, $R_BYTES3 3 s later, $R_BYTES_END"
  what="$what at the end"
  tap_check "$name: the rendezvous heard nothing on the old signalling connection ($what)" \
    eval '[ "$R_BYTES3" = "$R_BYTES1" ] &&
      { [ "$R_BYTES_END" = "$R_BYTES1" ] || [ "$R_BYTES_END" = gone ]; }'
  if [ "$mode" = all ]; then
    echo "# $name: $nat dropped $(old_flow_drops "$nat") packet(s) of old TCP flows"
  fi
}

# A camera (cam$2, case $1) whose NAT rebooted is listed by the rendezvous again soon after it
# reconnects.
check_camera_listed() {
  local name=$1 i=$2 dir="$LAB_TMP/$1" reconnect listed refusals what
  reconnect=$(first_syn_ms "$dir/conntrack-events.log")
  refusals=$(count_log_lines "$dir/camera.log" "$R_T0" "signalling: .*(already online|id-in-use)")
  listed=$(first_log_ms <(grep -vF "from $R_OLD_ADDR" "$LAB_TMP/rendezvous.log") "$R_T0" \
    "camera 'cam$i' \(peer [0-9]+\): [^:]* from [0-9.]+:[0-9]+")
  [ -n "$listed" ] ||
    listed=$(first_log_ms "$dir/camera.log" "$R_T0" "registered with the rendezvous")
  echo "# $name: the camera was refused $refusals time(s) (id-in-use) after the reboot"
  what="reconnect: $(since_reboot "$reconnect" "$R_T0"); listed: $(since_reboot "$listed" "$R_T0")"
  tap_check "$name: the camera is listed again within $LISTED_MAX_MS ms of its reconnect ($what)" \
    eval '[ -n "$reconnect" ] && [ -n "$listed" ] &&
      [ $((listed - reconnect)) -le "$LISTED_MAX_MS" ]'
}

# case_reboot NAME SLOT SIDE(c|v) MODE(all|loose|udp) [impostor]
case_reboot() {
  local name=$1 i=$2 side=$3 mode=$4 dir="$LAB_TMP/$1" before=$failures
  local nat="$3$2nat" bound=$REBOOT_MAX_GAP_MS who=camera
  [ "$mode" = udp ] && bound=$CONTROL_MAX_GAP_MS
  [ "$side" = v ] && who=viewer
  mkdir -p "$dir"
  echo "# $name: the $who's NAT reboots ($mode) mid-stream;" \
    "the viewer asks for $REBOOT_FRAMES frames"
  if reboot_mid_stream "$name" "$i" "$nat" "$mode" "${5:-}" "$bound"; then
    check_old_signalling "$name" "$nat" "$mode"
    check_viewer "$name" "$bound"
    echo "# $name: the $who's first new TCP connection to the rendezvous:" \
      "$(since_reboot "$(first_syn_ms "$dir/conntrack-events.log")" "$R_T0")"
    if [ "$side" = c ] && [ "$mode" != udp ]; then check_camera_listed "$name" "$i"; fi
    echo "# $name: rendezvous /healthz before the viewer stopped: $R_HEALTH"
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
  RV_PORT=${URL##*:}
  for c in camera-reboot camera-reboot-loose viewer-reboot udp-control; do
    [[ $c =~ $filter ]] || continue
    case $c in
      camera-reboot) case_reboot "$c" 0 c all impostor ;;
      camera-reboot-loose) case_reboot "$c" 1 c loose ;;
      viewer-reboot) case_reboot "$c" 2 v all ;;
      udp-control) case_reboot "$c" 3 c udp ;;
    esac
  done
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
