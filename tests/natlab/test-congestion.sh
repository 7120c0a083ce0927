#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Congestion control across emulated links (issue 16), with icecam-link-emulator
# (tests/natlab/link-emulator.c) on the sites' WAN links:
#  1. a camera at --bitrate 2500 --pattern snow behind an 800 kbit/s uplink, 40 ms round trip:
#     the viewer decodes >= 25 fps over 30 s with at most 1 freeze (the issue's target; held in
#     12 of 12 runs of this controller: docs/benchmarks.md 12.1), and the mean delay of every
#     progress line (packets' delay from the camera, by its sender reports: camera and viewer
#     share this host's clock) stays under 500 ms after the first 5 s;
#  2. two viewers of one camera at --bitrate 2500 --pattern snow, one behind a 300 kbit/s
#     downlink, one behind 5 Mbit/s: the fast one keeps >= 25 fps at >= 1500 kbit/s, the
#     camera put the slow one on the reduced stream, and from then on the slow one's keyframe
#     requests made at most one keyframe a second (the camera's debug log).
# The same links without control (--no-congestion-control) are measured by
# bench/congestion.sh, side by side, for docs/benchmarks.md. Prints TAP. ICECAM_NATLAB_CASES=REGEX
# runs only the cases whose name (uplink800, two-viewers) matches.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB_TEST=congestion
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"
# shellcheck source-path=SCRIPTDIR source=stream.sh
. "$here/stream.sh"

SECONDS_PER_CASE=${ICECAM_NATLAB_CC_SECONDS:-30}

# Field $2 of progress lines of viewer log $1 whose elapsed_ms is at least $3: one per line.
progress_field() {
  sed -nE "s/^icecam-view: progress .*elapsed_ms=([0-9]+) .* $2=([0-9.a-z]+).*/\1 \2/p" "$1" |
    awk -v from="$3" '$1 >= from { print $2 }'
}

# Camera "cam$1" in namespace $2, log in dir $3, with extra options "${@:4}".
start_snow_camera() {
  local i=$1 ns=$2 dir=$3
  shift 3
  lab_spawn "$ns" "$dir/camera.log" env GST_DEBUG=icecamsink:4 GST_DEBUG_NO_COLOR=1 \
    "$build/src/tools/icecam-camera" --server "$URL" --id "cam$i" --source test \
    --pattern snow --bitrate 2500 --keyframe-interval 2 --verbose "$@"
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15
}

# Viewer of "cam$1" in namespace $2, log $3 (until stopped).
start_plain_viewer() {
  lab_spawn "$2" "$3" stdbuf -oL "$build/src/tools/icecam-view" --server "$URL" \
    --camera "cam$1" --headless --frames 0 --timeout 30 --stats-interval 1
  LAB_LAST_VIEWER=$LAB_LAST_PID
}

check_uplink() {
  local i=0 name=uplink800 dir="$LAB_TMP/uplink800" before=$failures summary first fps
  local freezes worst
  mkdir -p "$dir"
  if ! lab_site c "$i" port-restricted || ! lab_site v "$i" port-restricted ||
    ! lab_site_emulate c "$i" --ba-rate 800 --ba-delay 20 --ab-delay 20; then
    tap_not_ok "$name: lab sites with the link emulator"
    return
  fi
  start_snow_camera "$i" "c$i" "$dir" || { tap_not_ok "$name: camera registers"; return; }
  start_plain_viewer "$i" "v$i" "$dir/view.log"
  VIEWER_PID=$LAB_LAST_VIEWER
  if ! wait_frames_above "$dir/view.log" 0 30; then
    tap_not_ok "$name: the viewer decodes"
    stop_case "$i" "$name" "$dir" "$before"
    return
  fi
  first=$(last_elapsed "$dir/view.log")
  sleep "$SECONDS_PER_CASE"
  lab_stop "$VIEWER_PID"
  VIEWER_PID=''
  summary=$(grep -E '^icecam-view: result=' "$dir/view.log" | tail -1)
  echo "# $name: $summary"
  progress "$dir/view.log" >/dev/null
  fps=$(fps_between "$dir/view.log" "$first" $((first + SECONDS_PER_CASE * 1000)))
  freezes=$(summary_field "$dir/view.log" freezes)
  worst=$(progress_field "$dir/view.log" delay_ms $((first + 5000)) | grep -v none |
    sort -n | tail -1)
  grep -E "target bitrate|far below|full stream" "$dir/camera.log" | tail -5 | sed "s/^/# $name: /"
  tap_check "$name: >= 25 fps over ${SECONDS_PER_CASE} s ($fps)" \
    awk -v f="$fps" 'BEGIN { exit !(f >= 25) }'
  # The issue's target; since the start-up probe ends at the first round trip 40 ms over, it held
  # in 12 of 12 runs (docs/benchmarks.md 12.1; before, 13 of 15, and the test allowed 2). It
  # failed about one CI run in six when a later probe crossed the link (section 22); section 24
  # has what was changed for that, and what the side-by-side runs could and could not show.
  tap_check "$name: at most 1 freeze (freezes=$freezes)" [ "${freezes:-9}" -le 1 ]
  tap_check "$name: delay under 500 ms after the first 5 s (worst second: ${worst:-none} ms)" \
    awk -v d="${worst:-99999}" 'BEGIN { exit !(d < 500) }'
  stop_case "$i" "$name" "$dir" "$before"
}

check_two_viewers() {
  local i=1 name=two-viewers dir="$LAB_TMP/two-viewers" before=$failures fast_pid slow_pid
  local first fps kbps requests
  mkdir -p "$dir"
  if ! lab_site c "$i" port-restricted || ! lab_site v "$i" port-restricted 2 ||
    ! lab_site v $((i + 1)) port-restricted ||
    ! lab_site_emulate v "$i" --ab-rate 300 --ab-delay 20 --ba-delay 20 ||
    ! lab_site_emulate v $((i + 1)) --ab-rate 5000 --ab-delay 20 --ba-delay 20; then
    tap_not_ok "$name: lab sites with the link emulators"
    return
  fi
  start_snow_camera "$i" "c$i" "$dir" || { tap_not_ok "$name: camera registers"; return; }
  start_plain_viewer "$i" "v$((i + 1))" "$dir/fast.log"
  fast_pid=$LAB_LAST_VIEWER
  start_plain_viewer "$i" "v$i" "$dir/slow.log"
  slow_pid=$LAB_LAST_VIEWER
  VIEWER_PID=$fast_pid
  if ! wait_frames_above "$dir/fast.log" 0 30; then
    tap_not_ok "$name: the fast viewer decodes"
  fi
  first=$(last_elapsed "$dir/fast.log")
  sleep "$SECONDS_PER_CASE"
  lab_stop "$slow_pid"
  lab_stop "$fast_pid"
  VIEWER_PID=''
  echo "# $name fast: $(grep -E '^icecam-view: result=' "$dir/fast.log" | tail -1)"
  echo "# $name slow: $(grep -E '^icecam-view: result=' "$dir/slow.log" | tail -1)"
  grep -E 'far below|full stream' "$dir/camera.log" | tail -5 | sed "s/^/# $name: /"
  # after 10 s for the estimates to part
  fps=$(fps_between "$dir/fast.log" $((first + 10000)) $((first + SECONDS_PER_CASE * 1000)))
  kbps=$(progress_field "$dir/fast.log" kbps $((first + 10000)) |
    awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print 0 }')
  tap_check "$name: the fast viewer keeps >= 25 fps ($fps)" \
    awk -v f="$fps" 'BEGIN { exit !(f >= 25) }'
  tap_check "$name: the fast viewer gets >= 1500 kbit/s ($kbps)" [ "${kbps:-0}" -ge 1500 ]
  tap_check "$name: the slow viewer was put on the reduced stream" \
    grep -q 'far below the others' "$dir/camera.log"
  # Each keyframe the slow viewer asks for is one every viewer gets: once on the reduced
  # stream, at most one a second (it asked for five a second, which the encoder made).
  requests=$(awk '/far below the others/ { on = 1; next } on && /keyframe requested/ { n++ }
    END { print n + 0 }' "$dir/camera.log")
  tap_check "$name: keyframes asked for after that: $requests in about $SECONDS_PER_CASE s" \
    [ "$requests" -le "$SECONDS_PER_CASE" ]
  stop_case "$i" "$name" "$dir" "$before"
  lab_site_remove v $((i + 1))
}

main() {
  local start=$SECONDS filter=${ICECAM_NATLAB_CASES:-.}
  check_tools || exit 1
  [ -x "$build/tests/icecam-link-emulator" ] || { echo "Bail out! no icecam-link-emulator"; exit 1; }
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  if [[ uplink800 =~ $filter ]]; then check_uplink; fi
  if [[ two-viewers =~ $filter ]]; then check_two_viewers; fi
  echo "1..$tests"
  echo "# $failures failure(s) in $((SECONDS - start)) s"
  [ "$failures" = 0 ]
}

main "$@"
