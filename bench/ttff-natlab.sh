#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Time to first frame per pair type, in the NAT lab (tests/natlab/lab.sh: network namespaces on
# documentation addresses, NATs made with nftables, coturn and icecam-rendezvous on the lab's
# "internet"). Per case one icecam-camera (10 s GOP) behind one NAT and RUNS icecam-view
# --headless --frames 1 behind another, one after the other; medians of ttff_ms and pair_ms
# (from the viewer's start) and the pairs the viewer ended on. Needs root.
# Usage: bench/ttff-natlab.sh [RUNS [RTT_MS]]   (default 10); BUILD as for the other benchmarks.
#   RTT_MS: only the srflx case, with RTT_MS of round trip added on the camera's side (the link
#     emulator of tests/natlab/link-emulator.c, half each way), and the phases of each run
#     from the viewer's logs (bench/ttff-phases.awk), in ms and in round trips.
#   OTHER=BUILD: that build's camera (beside this one's, behind the same NAT) and viewer too,
#     taking turns, for a before/after in one run.
#   KEEP=DIR: keep every viewer's log (G_MESSAGES_DEBUG=icecam) and the cameras' logs there.
set -u
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-bench}
RUNS=${1:-10}
RTT_MS=${2:-}
OTHER=${OTHER:-}
PAUSE=${PAUSE:-0.6}   # between viewers: more than the camera's 200 ms keyframe-request merge
export ICECAM_BUILD_DIR=$BUILD
if [ "$(id -u)" != 0 ]; then
  echo "bench/ttff-natlab.sh: network namespaces need root" >&2
  exit 1
fi
. "$(dirname "$0")/common.sh"
# shellcheck source=../tests/natlab/lab.sh
. "$(dirname "$0")/../tests/natlab/lab.sh"

# name, camera NAT, viewer NAT, extra options of both ends (tests/natlab/test-traversal.sh has
# the full matrix; these are one case per pair type)
CASES=$(cat <<'EOF'
host     open             open             -
srflx    port-restricted  port-restricted  -
prflx    full-cone        symmetric        -
relay    restricted-cone  restricted-cone  --ice-transport-policy=relay
EOF
)
[ -n "$RTT_MS" ] && CASES=$(grep '^srflx ' <<<"$CASES")

lab_init
trap 'lab_cleanup; bench_cleanup' EXIT
secret="bench-$$-$RANDOM"
lab_internet || exit 1
lab_coturn_start "$secret" || exit 1
printf '%s\n' "$secret" >"$LAB_TMP/secret"
lab_rendezvous_start "$LAB_TMP/rendezvous.log" \
  --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" \
  --turn-secret-file "$LAB_TMP/secret" --turn-ttl 600 --allow-anonymous-relay || exit 1
url=$LAB_RENDEZVOUS_URL

bench_machine
BUILDS=("$BUILD")
[ -n "$OTHER" ] && BUILDS+=("$(cd "$OTHER" && pwd)")

# One viewer of build $1 (index $2) for case $3 with options $4, run $5, logged: its summary,
# pair and phases.
view_once () {
  local build=$1 b=$2 name=$3 extra=$4 log="$LAB_TMP/view.log" summary
  # shellcheck disable=SC2086
  lab_exec v0 env GST_PLUGIN_PATH_1_0="$build/plugins" GST_REGISTRY_1_0="$build/bench-registry.bin" \
    G_MESSAGES_DEBUG=icecam GST_DEBUG_NO_COLOR=1 \
    GST_DEBUG=icecamsrc:4,basesrc:4,videodecoder:4,GST_STATES:4 timeout 30 \
    "$build/src/tools/icecam-view" --server "$url" --camera "cam-$name-$b" --headless --frames 1 \
    $extra >"$log" 2>&1
  [ -n "${KEEP:-}" ] && cp "$log" "$KEEP/view-$name-$b-$5.log"
  summary=$(grep '^icecam-view: result=ok' "$log")
  if [ -z "$summary" ]; then echo 1 >>"$LAB_TMP/failed-$b"; return; fi
  sed -n 's/.* ttff_ms=\([0-9.]*\).*/\1/p' <<<"$summary" >>"$LAB_TMP/ttff-$b"
  sed -n 's/.* pair=\([a-z]*\/[a-z]*\).*/\1/p' <<<"$summary" >>"$LAB_TMP/pairs-$b"
  awk -f "$(dirname "$0")/ttff-phases.awk" "$log" >>"$LAB_TMP/phases-$b" || cp "$log" "$LAB_TMP/bad.log"
}

# Duration of a phase over the logged runs of build index $1: end column $2, start column $3
# (0: the viewer's start); "median p90" in ms and the median in round trips.
phase_of () {
  awk -v e="$2" -v s="$3" '$1 != "incomplete" && $e >= 0 && (s == 0 || $s >= 0) { print $e - (s ? $s : 0) }' \
    "$LAB_TMP/phases-$1" >"$LAB_TMP/dur"
  read -r med p90 _ <<<"$(bench_stats "$LAB_TMP/dur")"
  printf '%s | %s | %s' "$med" "$p90" "$(awk -v m="$med" -v r="${RTT_MS:-0}" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "-" }')"
}

echo
added=
[ -n "$RTT_MS" ] && added=", $RTT_MS ms of round trip added on the camera side"
echo "## time to first frame in the NAT lab, $RUNS runs each$added (ms from icecam-view's start)"
echo "| case | build | camera NAT | viewer NAT | pairs (viewer's local/remote: runs) | ttff median | p90 | min | max | pair selected, median | failed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
while read -r -u 3 name cam view extra; do
  [ "$extra" = - ] && extra=
  lab_site c 0 "$cam" && lab_site v 0 "$view" || exit 1
  if [ -n "$RTT_MS" ]; then
    half=$(awk -v r="$RTT_MS" 'BEGIN { printf "%g", r / 2 }')
    lab_site_emulate c 0 --ab-delay "$half" --ba-delay "$half" || exit 1
  fi
  cameras=()
  for b in "${!BUILDS[@]}"; do
    # shellcheck disable=SC2086
    lab_spawn c0 "$LAB_TMP/camera-$name-$b.log" env GST_PLUGIN_PATH_1_0="${BUILDS[$b]}/plugins" \
      GST_REGISTRY_1_0="${BUILDS[$b]}/bench-registry.bin" "${BUILDS[$b]}/src/tools/icecam-camera" \
      --server "$url" --id "cam-$name-$b" --source test --keyframe-interval 10 --verbose $extra
    cameras+=("$LAB_LAST_PID")
    lab_wait_line "$LAB_TMP/camera-$name-$b.log" 'registered with the rendezvous' 15 || exit 1
    : >"$LAB_TMP/ttff-$b" && : >"$LAB_TMP/pairs-$b" && : >"$LAB_TMP/phases-$b" && : >"$LAB_TMP/failed-$b"
  done
  sleep 1
  for i in $(seq "$RUNS"); do
    for b in "${!BUILDS[@]}"; do   # taking turns, the order swapped every run
      [ $((i % 2)) = 0 ] && b=$(( ${#BUILDS[@]} - 1 - b ))
      view_once "${BUILDS[$b]}" "$b" "$name" "$extra" "$i"
      sleep "$PAUSE"
    done
  done
  for pid in "${cameras[@]}"; do lab_stop "$pid"; done
  [ -n "${KEEP:-}" ] && cp "$LAB_TMP"/camera-"$name"-*.log "$KEEP/"
  for b in "${!BUILDS[@]}"; do
    read -r med p90 min max _ <<<"$(bench_stats "$LAB_TMP/ttff-$b")"
    awk '$1 != "incomplete" { print $7 }' "$LAB_TMP/phases-$b" >"$LAB_TMP/pair-ms"
    read -r pmed _ <<<"$(bench_stats "$LAB_TMP/pair-ms")"
    pairs=$(sort "$LAB_TMP/pairs-$b" | uniq -c | awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
    echo "| $name | ${BUILDS[$b]} | $cam | $view | $pairs | $med | $p90 | $min | $max | $pmed | $(wc -l <"$LAB_TMP/failed-$b") |"
  done
  if [ -n "$RTT_MS" ]; then
    echo
    echo "### phases of case $name (viewer's logs; duration median | p90 ms | median in round trips of $RTT_MS ms)"
    printf '| phase |'; for b in "${!BUILDS[@]}"; do printf ' %s: median | p90 | RTT |' "${BUILDS[$b]}"; done; echo
    printf '|---|'; for _ in "${BUILDS[@]}"; do printf -- '---|---|---|'; done; echo
    while IFS=';' read -r label e s; do
      printf '| %s |' "$label"
      for b in "${!BUILDS[@]}"; do printf ' %s |' "$(phase_of "$b" "$e" "$s")"; done
      echo
    done <<'PHASES'
start: process start, GStreamer, plugin -> signalling connect starts;3;0
signalling connected (welcome);4;3
offer received (watch -> camera -> offer);5;4
pair selected (from the offer);7;5
DTLS connected (from the pair);8;7
first RTP packet (from DTLS: keyframe request, encoder, path);9;8
first decoded frame (from the first packet);10;9
total: time to first frame;11;0
PHASES
  fi
  lab_site_remove c 0
  lab_site_remove v 0
done 3<<<"$CASES"
[ -f "$LAB_TMP/bad.log" ] && echo "(some logged runs were incomplete: no phases for them)"
exit 0
