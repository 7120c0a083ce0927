#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every NAT traversal path with the real binaries: icecam-rendezvous and coturn on a lab
# "internet", icecam-camera --source test in one LAN and icecam-view --headless in another,
# each LAN behind a NAT of a chosen type (lab.sh). First checks that each NAT really is of its
# type (turnutils_natdiscovery), then per case asserts the exit status, the frames decoded and
# the candidate types of the pair the viewer ended on, against the oracle below. Prints TAP.
# Writes the matrix to $ICECAM_BUILD_DIR/traversal.md (and docs/traversal.md with
# ICECAM_UPDATE_DOCS=1). ICECAM_NATLAB_CASES=REGEX runs only the cases whose name matches;
# ICECAM_NATLAB_KEEP_LOGS=1 keeps every case's logs (failed cases' are always kept) in
# $ICECAM_BUILD_DIR/natlab-logs.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
src=${ICECAM_SOURCE_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

FRAMES=30
TURN_SECRET="natlab-$$-$RANDOM$RANDOM"

# The oracle: the viewer summary's pair=LOCAL/REMOTE (candidate types as the viewer sees them).
# Where two pairs are listed, the first is where ICE settles and the second one it may still
# be on when 30 frames are done, measured in the lab (see docs/traversal.md):
#  - open-prc, fullcone-prc: the answer to the viewer's check from the camera (public, or
#    behind a full cone that lets it in) can arrive before its TURN allocation reports the same
#    mapping, and libnice then names that address prflx (open-prc 14 of 21 runs; fullcone-prc
#    1 of 4 full CI runs with regular nomination). Same address, same path.
#  - the camera nominates with regular nomination (RFC 8445; docs/design.md): libnice 0.1.21's
#    controlling agent nominates once, when a host-host pair is valid or as soon as two pairs
#    are, the better of those two, and both ends keep that pair. So where a direct pair needs
#    the symmetric side's check to arrive first (it is learned as prflx) a relayed pair may
#    already be one of the first two: restricted-symmetric settled on a relayed pair (through
#    either side's relay) in 6 of 7 runs (aggressive nomination switched to the direct pair
#    later; a browser did not follow such switches, which is why it went), prc-symmetric and
#    symmetric-symmetric on either of their pairs. These cases run without --nat-probe: with
#    it, the relay grace and port prediction make restricted-symmetric and prc-symseq direct
#    (tests/natlab/test-direct.sh).
# The symmetric-sequential rows (a NAT that counts ports up, lab.sh) behave for ICE as their
# random symmetric twins: a predictable port does not help a srflx candidate; they are the
# "before" of port prediction (docs/traversal.md, issue 18); symseq-symseq and
# symmetric-symmetric also settle on prflx/relay (the camera's relay, the viewer's check
# learned as prflx: relayed all the same; 1 of 4 runs, and 1 full CI run of 5).
# symmetric-udpblocked: the camera (controlling) nominated its own relay to the viewer's
# TURN-TCP relay (relay/relay) in 2 of 3 full runs at load average 8-9 on 2 CPUs (relay/prflx
# when run alone); both are TURN-TCP on the blocked side, which the counters check.
# flags: relay-policy (--ice-transport-policy relay on both ends), turn-tcp (the UDP-blocked
# side must carry the media over TURN-TCP), no-turn (a rendezvous without TURN), fails (the
# viewer must exit 1 naming the candidate types).
CASES=$(cat <<'EOF'
same-lan                 port-restricted  same-lan         host/host                -
open-open                open             open             host/host                -
prc-prc                  port-restricted  port-restricted  srflx/srflx              -
fullcone-symmetric       full-cone        symmetric        prflx/srflx              -
restricted-symmetric     restricted-cone  symmetric        prflx/srflx|relay/srflx|prflx/relay -
symmetric-fullcone       symmetric        full-cone        srflx/prflx              -
prc-symmetric            port-restricted  symmetric        prflx/relay|relay/srflx  -
symmetric-symmetric      symmetric        symmetric        relay/prflx|relay/relay|prflx/relay -
relay-policy-cone        restricted-cone  restricted-cone  relay/relay              relay-policy
udpblocked-prc           udp-blocked      port-restricted  srflx/relay              turn-tcp
prc-udpblocked           port-restricted  udp-blocked      relay/srflx              turn-tcp
symmetric-udpblocked     symmetric        udp-blocked      relay/prflx|relay/relay  turn-tcp
fullcone-prc             full-cone        port-restricted  srflx/srflx|prflx/srflx  -
restricted-restricted    restricted-cone  restricted-cone  srflx/srflx              -
open-symmetric           open             symmetric        prflx/host               -
open-prc                 open             port-restricted  srflx/host|prflx/host    -
udpblocked-both-no-turn  udp-blocked      udp-blocked      none                     no-turn,fails
restricted-symseq        restricted-cone  symmetric-sequential prflx/srflx|relay/srflx|prflx/relay -
prc-symseq               port-restricted  symmetric-sequential prflx/relay|relay/srflx -
symseq-symseq            symmetric-sequential symmetric-sequential relay/prflx|relay/relay|prflx/relay -
EOF
)

# What turnutils_natdiscovery must say of each NAT type (RFC 4787 mapping and filtering).
# UDP-blocked is proven by its cases instead (dropped-UDP and TURN-TCP counters).
NAT_VERDICTS=$(cat <<'EOF'
open             No NAT!
full-cone        Endpoint Independent Mapping!|Endpoint Independent Filtering!
restricted-cone  Endpoint Independent Mapping!|NAT with Address Dependent Filtering!
port-restricted  Endpoint Independent Mapping!|Address and Port Dependent Filtering!
symmetric        Address and Port Dependent Mapping!|Address and Port Dependent Filtering!
symmetric-sequential Address and Port Dependent Mapping!|Address and Port Dependent Filtering!
EOF
)

failures=0
tests=0
TABLE_ROWS=()

tap_ok() { tests=$((tests + 1)); echo "ok $tests - $*"; }
tap_not_ok() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $*"; }
tap_check() {
  local what=$1
  shift
  if "$@"; then tap_ok "$what"; else tap_not_ok "$what"; fi
}

# The value of key $2 in summary line $1 ("" when absent).
summary_field() { echo "$1" | grep -oE "(^| )$2=[^ ]*" | head -1 | sed -E "s/^ ?$2=//"; }

check_tools() {
  local t missing=
  for t in ip nft ss turnserver turnutils_natdiscovery stdbuf awk; do
    command -v "$t" >/dev/null || missing="$missing $t"
  done
  for t in server/icecam-rendezvous tools/icecam-camera tools/icecam-view; do
    [ -x "$build/src/$t" ] || missing="$missing $build/src/$t"
  done
  [ -z "$missing" ] && return 0
  echo "Bail out! missing:$missing"
  return 1
}

# The lab's fixed part: router, server host, coturn, a rendezvous handing out TURN over UDP
# and TCP, and one without TURN for the negative case.
setup_lab() {
  local secret_file="$LAB_TMP/turn-secret"
  lab_internet || return 1
  lab_coturn_start "$TURN_SECRET" || { cat "$LAB_TMP/coturn/turnserver.log"; return 1; }
  printf '%s\n' "$TURN_SECRET" >"$secret_file"
  lab_rendezvous_start "$LAB_TMP/rendezvous-turn.log" --verbose \
    --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" \
    --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=tcp" \
    --turn-secret-file "$secret_file" --turn-ttl 600 --allow-anonymous-relay || return 1
  URL_TURN=$LAB_RENDEZVOUS_URL
  lab_rendezvous_start "$LAB_TMP/rendezvous-plain.log" --verbose || return 1
  URL_PLAIN=$LAB_RENDEZVOUS_URL
  echo "# rendezvous with TURN at $URL_TURN, without at $URL_PLAIN; coturn at $LAB_TURN_IP1 and $LAB_TURN_IP2"
}

# Does turnutils_natdiscovery output $1 contain every "|"-separated verdict of $2, and "No NAT"
# only when $3 is open?
has_verdicts() {
  local verdict parts
  IFS='|' read -r -a parts <<<"$2"
  for verdict in "${parts[@]}"; do
    grep -qF "$verdict" <<<"$1" || return 1
  done
  [ "$3" = open ] || ! grep -qF "No NAT" <<<"$1"
}

# The lab itself: each NAT type classifies as what it claims, and the router has no way back
# into a private LAN.
check_lab() {
  local type verdicts out label
  while read -r -u 4 type verdicts; do
    lab_site c 0 "$type" || { tap_not_ok "lab: $type site"; continue; }
    out=$(lab_exec c0 timeout 30 turnutils_natdiscovery -m -f -L "$SITE_HOST_IP" "$LAB_TURN_IP1" 2>&1)
    label=${verdicts//!/}
    tap_check "lab: turnutils_natdiscovery finds the $type NAT: ${label//|/, }" \
      has_verdicts "$out" "$verdicts" "$type"
    lab_site_remove c 0
  done 4<<<"$NAT_VERDICTS"
  lab_site c 0 port-restricted
  tap_check "lab: the router has no route to a private LAN" \
    lab_no_route inet "$SITE_PRIV_HOST"
  lab_site_remove c 0
}

lab_no_route() { ! lab_exec "$1" ip route get "$2" >/dev/null 2>&1; }

# Builds the camera and viewer sites in slot $1; sets CAMERA_NS and VIEWER_NS.
setup_sites() {
  local i=$1 cam=$2 view=$3
  if [ "$view" = same-lan ]; then
    lab_site c "$i" "$cam" 2 || return 1
    CAMERA_NS=c$i VIEWER_NS=c${i}b
    return 0
  fi
  lab_site c "$i" "$cam" && lab_site v "$i" "$view" || return 1
  CAMERA_NS=c$i VIEWER_NS=v$i
}

# Starts camera "cam$1" in $CAMERA_NS; waits until it registered.
start_camera() {
  local i=$1 url=$2 dir=$3
  shift 3
  lab_spawn "$CAMERA_NS" "$dir/camera.log" "$build/src/tools/icecam-camera" --server "$url" \
    --id "cam$i" --source test --keyframe-interval 10 --verbose "$@"
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15
}

# Runs the viewer; sets VIEW_RC, SUMMARY and VIEW_WALL_MS (until it exited). icecamsrc's INFO
# log says when the pair was selected, stamped with GStreamer's clock, which starts as
# icecam-view starts.
run_viewer() {
  local i=$1 url=$2 dir=$3 t0
  shift 3
  t0=$(date +%s%N)
  lab_exec "$VIEWER_NS" env GST_DEBUG=icecamsrc:4 GST_DEBUG_NO_COLOR=1 timeout 60 \
    "$build/src/tools/icecam-view" --server "$url" --camera "cam$i" --headless \
    --frames "$FRAMES" --verbose "$@" >"$dir/view.log" 2>&1
  VIEW_RC=$?
  VIEW_WALL_MS=$((($(date +%s%N) - t0) / 1000000))
  SUMMARY=$(grep -E '^icecam-view: result=' "$dir/view.log" | tail -1)
}

# When the summary has no pair_ms: the GStreamer time stamp of icecamsrc's first
# "LOCAL/REMOTE pair" line, in ms.
pair_ms_from_log() {
  grep -m1 -E '^[0-9]+:[0-9]{2}:[0-9]{2}\.[0-9]+ .* icecamsrc .* [a-z]+/[a-z]+ pair ' "$1" |
    awk '{ split($1, t, ":"); printf "%.1f\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }'
}

# The $3 (packets or bytes) counted by rule "$2 counter" in the forward chain of UDP-blocked
# NAT namespace $1.
nft_counter() {
  lab_exec "$1" nft list chain ip lab forward 2>/dev/null | grep -F "$2 counter" |
    grep -oE "$3 [0-9]+" | awk '{ sum += $2 } END { print sum + 0 }'
}

assert_success() {
  local name=$1 expect=$2 got frames
  got=$(summary_field "$SUMMARY" pair)
  frames=$(summary_field "$SUMMARY" frames)
  tap_check "$name: icecam-view exits 0 (rc=$VIEW_RC)" [ "$VIEW_RC" = 0 ]
  tap_check "$name: $FRAMES frames decoded (frames=${frames:-none})" [ "${frames:-0}" -ge "$FRAMES" ]
  tap_check "$name: pair ${expect//|/ or } (got ${got:-none})" pair_matches "$got" "$expect"
}

pair_matches() { [ -n "$1" ] && [[ "|$2|" == *"|$1|"* ]]; }

assert_failure() {
  local name=$1 dir=$2 message types
  message=$(grep -E 'icecam-view: error:' "$dir/view.log" | head -1)
  types=$(grep -oE 'local=[a-z,]+ remote=[a-z,]+' <<<"$message")
  RESULT_NOTE="exit $VIEW_RC after $(summary_field "$SUMMARY" elapsed_ms) ms: $types"
  tap_check "$name: icecam-view exits 1 (rc=$VIEW_RC)" [ "$VIEW_RC" = 1 ]
  tap_check "$name: the error names the candidate types (${message:-no message})" \
    grep -qE 'error: .*local=[a-z,]+ remote=[a-z,]+' "$dir/view.log"
}

media_dominates() { [ "$1" -gt 10000 ] && [ "$1" -gt $((3 * $2)) ]; }

# The UDP-blocked side ($2 = camera or viewer, NAT namespace $3) tried UDP (dropped) and carried
# the media over TCP to coturn: the media direction carries several times what the other one
# does (checks, refreshes and RTCP alone are about even, ~3-4 kB each way).
assert_turn_tcp() {
  local name=$1 side=$2 nat=$3 to from media control dropped
  to=$(nft_counter "$nat" "tcp dport $LAB_TURN_PORT" bytes)
  from=$(nft_counter "$nat" "tcp sport $LAB_TURN_PORT" bytes)
  dropped=$(nft_counter "$nat" "meta l4proto udp" packets)
  if [ "$side" = camera ]; then media=$to control=$from; else media=$from control=$to; fi
  tap_check "$name: the $side's NAT dropped UDP ($dropped packets)" [ "$dropped" -gt 0 ]
  tap_check "$name: media over TURN-TCP on the $side's side ($media bytes media way, $control back)" \
    media_dominates "$media" "$control"
}

# One row of the matrix.
add_row() {
  local name=$1 cam=$2 view=$3 expect=$4 result=$5 dir=$6 got pair_ms ttff
  got=$(summary_field "$SUMMARY" pair)
  pair_ms=$(summary_field "$SUMMARY" pair_ms)
  [ -z "$pair_ms" ] && [ -f "$dir/view.log" ] && pair_ms=$(pair_ms_from_log "$dir/view.log")
  ttff=$(summary_field "$SUMMARY" ttff_ms)
  TABLE_ROWS+=("| $name | $cam | $view | ${expect//|/ or } | ${got:-none} | ${pair_ms:-none} \
| ${ttff:-none} | $result |")
}

keep_logs() {
  local name=$1 dir=$2 dest="$build/natlab-logs/$1"
  rm -rf "$dest"
  mkdir -p "$dest" && cp -r "$dir"/. "$dest"/
  cp "$LAB_TMP"/rendezvous-*.log "$LAB_TMP/coturn/turnserver.log" "$dest"/ 2>/dev/null
  echo "# $name: logs in $dest"
}

# Runs the camera and the viewer of one case and checks them.
run_endpoints() {
  local id=$1 i=$2 name=$3 cam=$4 expect=$5 flags=$6 dir=$7 url=$8
  shift 8
  if ! start_camera "$id" "$url" "$dir" "$@"; then
    tap_not_ok "$name: camera registers"
    return
  fi
  run_viewer "$id" "$url" "$dir" "$@"
  echo "# $name: $SUMMARY (exited after $VIEW_WALL_MS ms)"
  if [[ $flags == *fails* ]]; then assert_failure "$name" "$dir"
  else assert_success "$name" "$expect"; fi
  if [[ $flags == *turn-tcp* ]]; then
    if [ "$cam" = udp-blocked ]; then assert_turn_tcp "$name" camera "c${i}nat"
    else assert_turn_tcp "$name" viewer "v${i}nat"; fi
  fi
  lab_stop "$CAMERA_PID"
  grep -E '^icecam-camera: session .* pair=' "$dir/camera.log" | sed "s/^/# $name: /"
}

# Case $1 on address slot $2.
run_case() {
  local id=$1 i=$2 name=$3 cam=$4 view=$5 expect=$6 flags=$7 dir="$LAB_TMP/$3" url=$URL_TURN
  local before=$failures extra=() result=ok
  mkdir -p "$dir"
  SUMMARY='' VIEW_RC='' RESULT_NOTE=''
  [[ $flags == *no-turn* ]] && url=$URL_PLAIN
  [[ $flags == *relay-policy* ]] && extra=(--ice-transport-policy relay)
  if setup_sites "$i" "$cam" "$view"; then
    run_endpoints "$id" "$i" "$name" "$cam" "$expect" "$flags" "$dir" "$url" "${extra[@]}"
  else
    tap_not_ok "$name: lab sites $cam / $view"
  fi
  [ "$failures" = "$before" ] || result=FAIL
  [ -n "$RESULT_NOTE" ] && result="$result ($RESULT_NOTE)"
  if [ "$result" = FAIL ] || [ "${ICECAM_NATLAB_KEEP_LOGS:-0}" = 1 ]; then keep_logs "$name" "$dir"; fi
  add_row "$name" "$cam" "$view" "$expect" "$result" "$dir"
  lab_site_remove c "$i"
  lab_site_remove v "$i"
}

# Writes the matrix to $1 after header $2. Sections of $1 that follow the matrix (from its first
# "## " heading on, written by hand) are kept.
write_table() {
  local out=$1 header=$2 row trailer
  trailer=$(sed -n '/^## /,$p' "$out" 2>/dev/null)
  {
    printf '%s' "$header"
    echo -n "| combination | camera NAT | viewer NAT | expected pair "
    echo "| got pair (viewer's local/remote) | pair_ms | ttff_ms | result |"
    echo "|---|---|---|---|---|---|---|---|"
    for row in "${TABLE_ROWS[@]}"; do echo "$row"; done
    if [ -n "$trailer" ]; then printf '\n%s\n' "$trailer"; fi
  } >"$out"
}

docs_header() {
  cat <<EOF
# NAT traversal matrix

Real output of the natlab suite, produced as root on Debian 12 with

    ICECAM_UPDATE_DOCS=1 meson test -C $(basename "$build") --suite natlab

which runs tests/natlab/test-traversal.sh ($1 s for this run) on the lab of tests/natlab/lab.sh:
network namespaces on documentation addresses, NATs made with nftables, coturn and
icecam-rendezvous on the lab's "internet". Each row is one \`icecam-camera --source test\` in
the camera's LAN and one \`icecam-view --headless --frames $FRAMES\` in the viewer's.

- got pair: the viewer's summary, its LOCAL/REMOTE candidate types. Where two expected pairs
  are listed, the first is where ICE settles, the second one it may still be on after
  $FRAMES frames (measured; see the comment above CASES in the script).
- pair_ms: from starting icecam-view to its first selected pair (its summary's pair_ms, or
  else icecamsrc's GST_DEBUG time stamp); ttff_ms: to its first decoded frame. The camera
  (controlling) selects first, so media can beat the viewer's own selection by a few ms.
- turn-tcp cases (UDP blocked, TURN offered over UDP and TCP) also check with nftables
  counters that the blocked side's UDP was dropped and its media went over TCP to coturn.

Last run: $(date -u +%Y-%m-%d), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at its end
(times grow with the load: ttff_ms was ~180-300 on an idle machine).

EOF
}

run_cases() {
  local i=0 name cam view expect flags filter=${ICECAM_NATLAB_CASES:-.}
  while read -r -u 3 name cam view expect flags; do
    [ -z "$name" ] && continue
    # Sites are removed after each case, so case 16 may reuse case 0's addresses (lab.sh
    # has 16 address slots).
    if [[ $name =~ $filter ]]; then
      run_case "$i" $((i % 16)) "$name" "$cam" "$view" "$expect" "$flags"
    fi
    i=$((i + 1))
  done 3<<<"$CASES"
}

main() {
  local start=$SECONDS
  check_tools || exit 1
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  [ -z "${ICECAM_NATLAB_CASES:-}" ] && check_lab
  run_cases
  echo "1..$tests"
  write_table "$build/traversal.md" ""
  if [ "${ICECAM_UPDATE_DOCS:-0}" = 1 ] && [ "$failures" = 0 ] && [ -z "${ICECAM_NATLAB_CASES:-}" ]; then
    write_table "$src/docs/traversal.md" "$(docs_header $((SECONDS - start)))"$'\n\n'
  fi
  echo "# $failures failure(s) in $((SECONDS - start)) s; matrix in $build/traversal.md"
  [ "$failures" = 0 ]
}

main "$@"
