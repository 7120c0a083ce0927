#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Time to first frame per pair type, in the NAT lab (tests/natlab/lab.sh: network namespaces on
# documentation addresses, NATs made with nftables, coturn and icecam-rendezvous on the lab's
# "internet"). Per case one icecam-camera (10 s GOP) behind one NAT and RUNS icecam-view
# --headless --frames 1 behind another, one after the other; medians of ttff_ms and pair_ms
# (from the viewer's start) and the pairs the viewer ended on. Needs root.
# Usage: bench/ttff-natlab.sh [RUNS]   (default 10); BUILD as for the other benchmarks.
set -u
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-bench}
RUNS=${1:-10}
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

lab_init
trap 'lab_cleanup; bench_cleanup' EXIT
secret="bench-$$-$RANDOM"
lab_internet || exit 1
lab_coturn_start "$secret" || exit 1
printf '%s\n' "$secret" >"$LAB_TMP/secret"
lab_rendezvous_start "$LAB_TMP/rendezvous.log" \
  --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" \
  --turn-secret-file "$LAB_TMP/secret" --turn-ttl 600 || exit 1
url=$LAB_RENDEZVOUS_URL

bench_machine
echo
echo "## time to first frame per pair type in the NAT lab, $RUNS runs each (ms from icecam-view's start)"
echo "| case | camera NAT | viewer NAT | pairs (viewer's local/remote: runs) | ttff median | p90 | min | max | pair selected, median | failed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
while read -r -u 3 name cam view extra; do
  [ "$extra" = - ] && extra=
  lab_site c 0 "$cam" && lab_site v 0 "$view" || exit 1
  # shellcheck disable=SC2086
  lab_spawn c0 "$LAB_TMP/camera-$name.log" "$BUILD/src/tools/icecam-camera" --server "$url" \
    --id "cam-$name" --source test --keyframe-interval 10 --verbose $extra
  camera=$LAB_LAST_PID
  lab_wait_line "$LAB_TMP/camera-$name.log" 'registered with the rendezvous' 15 || exit 1
  : >"$LAB_TMP/ttff" && : >"$LAB_TMP/pair-ms" && : >"$LAB_TMP/pairs"
  failed=0
  for _ in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    summary=$(lab_exec v0 env GST_DEBUG=icecamsrc:4 GST_DEBUG_NO_COLOR=1 timeout 30 \
      "$BUILD/src/tools/icecam-view" --server "$url" --camera "cam-$name" --headless --frames 1 \
      $extra 2>"$LAB_TMP/view.err" | grep '^icecam-view: result=ok')
    if [ -z "$summary" ]; then failed=$((failed + 1)); sleep "$PAUSE"; continue; fi
    sed -n 's/.* ttff_ms=\([0-9.]*\).*/\1/p' <<<"$summary" >>"$LAB_TMP/ttff"
    sed -n 's/.* pair=\([a-z]*\/[a-z]*\).*/\1/p' <<<"$summary" >>"$LAB_TMP/pairs"
    # icecamsrc's INFO line "LOCAL/REMOTE pair ..." on GStreamer's clock, which starts with the
    # viewer: the first selected pair
    grep -m1 -E ' icecamsrc .* [a-z]+/[a-z]+ pair ' "$LAB_TMP/view.err" |
      awk '{ split($1, t, ":"); printf "%.1f\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }' \
      >>"$LAB_TMP/pair-ms"
    sleep "$PAUSE"
  done
  lab_stop "$camera"
  read -r med p90 min max _ <<<"$(bench_stats "$LAB_TMP/ttff")"
  read -r pmed _ <<<"$(bench_stats "$LAB_TMP/pair-ms")"
  pairs=$(sort "$LAB_TMP/pairs" | uniq -c | awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
  echo "| $name | $cam | $view | $pairs | $med | $p90 | $min | $max | $pmed | $failed |"
  lab_site_remove c 0
  lab_site_remove v 0
done 3<<<"$CASES"
