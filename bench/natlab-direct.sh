#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Direct paths in real sessions, many runs per layout (issue 18, docs/benchmarks.md section 18).
# In the NAT lab (tests/natlab/lab.sh, root only): coturn and one icecam-rendezvous serving
# RFC 5780 (--stun-alternate) and TURN over UDP; per run fresh camera and viewer sites of the
# layout's NAT types, `icecam-camera --source test --nat-probe` and
# `icecam-view --headless --frames FRAMES --nat-probe`. RUNS runs per layout, the layouts
# interleaved (run 1 of every layout, then run 2, ...) so that all see the same load, PARALLEL
# runs at a time (each on its own lab slot: its own namespaces and NATs). Prints per layout:
#  - direct: runs whose viewer's final pair has no relayed end and where > 10 kB of UDP (or
#    TCP) crossed from the camera's NAT to the viewer's (nftables counter in the viewer's NAT);
#  - time to direct (median, p90 over the direct runs): from the viewer's session start (its
#    log line "viewer ID: idle -> connecting", after its NAT probe) to the first time its path
#    had no relayed end ("ice-session ...: selected L ... <-> R ..." with neither end relay, or
#    "media on the punched path"), from the GLib timestamps of the viewer's own log lines;
#    and the median from launching icecam-view (the probe included: ~3 s when its filtering
#    tests go unanswered);
#  - probes: both ends' "punched a direct path ... (N probes and answers sent)", per success
#    (median), in the runs that punched;
#  - relay bytes: UDP and TCP between either NAT and coturn (both directions, both NATs: relayed
#    media counts twice), per run (median), and how much of it came after the direct path
#    (from 1 s after the direct moment to the end: consent checks and refreshes only when the
#    relay carries no media);
#  - ttff: the viewer's ttff_ms (median).
# One line per run goes to RESULTS (default: results.txt in the lab's temporary directory,
# removed at the end unless set) for the record.
#   sudo bench/natlab-direct.sh                            (RUNS=50, FRAMES=150, PARALLEL=2)
#   sudo RUNS=5 LAYOUTS="port-restricted:symmetric symmetric:symmetric" bench/natlab-direct.sh
# A layout with a udp-blocked end also offers TURN over TCP (the only relay such an end
# reaches), for every layout of the run; --nat-probe there finds UDP blocked and sets
# --punch-tcp (a TCP punch, docs/design.md "TCP simultaneous open"); NOPUNCH_TCP=1 runs both
# ends without --nat-probe (no punching of any kind: the before).
# KEEP=DIR copies the logs of each run that did not end direct to DIR/<layout>-<run>/
# (KEEP_ALL=1: of every run).
set -u
if [ "$(id -u)" != 0 ]; then echo "needs root (network namespaces)"; exit 77; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ICECAM_BUILD_DIR=${ICECAM_BUILD_DIR:-$here/../build}
# shellcheck source-path=SCRIPTDIR source=../tests/natlab/lab.sh
. "$here/../tests/natlab/lab.sh"
build=$ICECAM_BUILD_DIR
RUNS=${RUNS:-50}
FRAMES=${FRAMES:-150}
PARALLEL=${PARALLEL:-2}
LAYOUTS=${LAYOUTS:-"port-restricted:symmetric port-restricted:symmetric-sequential \
symmetric-sequential:port-restricted restricted-cone:symmetric \
restricted-cone:symmetric-sequential port-restricted:port-restricted symmetric:symmetric"}
read -r -a layouts <<<"$LAYOUTS"
turn_tcp=()
[[ $LAYOUTS == *udp-blocked* ]] &&
  turn_tcp=(--turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=tcp")
probe=(--nat-probe)
[ "${NOPUNCH_TCP:-0}" = 1 ] && probe=()
STUN_ALTERNATE_IP=203.0.113.5
TURN_SECRET="bench-$$-$RANDOM$RANDOM"

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
p90() { sort -n | awk '{ a[NR] = $1 } END { if (NR) { i = int(NR * 0.9 + 0.999); print a[i] } else print "-" }'; }

# Bytes counted by the rules of chain "tally" with comment $2 in NAT namespace $1.
tally() {
  lab_exec "$1" nft list chain ip lab tally 2>/dev/null | grep -F "comment \"$2\"" |
    grep -oE 'bytes [0-9]+' | awk '{ sum += $2 } END { print sum + 0 }'
}

# Counters in NAT namespace $1: UDP and TCP to and from coturn; $2 (optional): UDP and TCP
# from that address (the other site's NAT).
tally_rules() {
  local t="{ $LAB_TURN_IP1, $LAB_TURN_IP2 }"
  lab_exec "$1" nft add chain ip lab tally '{ type filter hook forward priority filter; }' &&
    lab_exec "$1" nft add rule ip lab tally ip daddr "$t" meta l4proto '{ udp, tcp }' counter comment '"turn"' &&
    lab_exec "$1" nft add rule ip lab tally ip saddr "$t" meta l4proto '{ udp, tcp }' counter comment '"turn"' ||
    return 1
  [ -z "${2:-}" ] ||
    lab_exec "$1" nft add rule ip lab tally ip saddr "$2" meta l4proto '{ udp, tcp }' counter comment '"peer"'
}

# Milliseconds since midnight of a GLib log line's "HH:MM:SS.mmm" stamp (stdin: lines).
log_ms() {
  grep -oE ': [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}: ' | head -1 |
    awk -F'[:. ]+' '{ print (($2 * 60 + $3) * 60 + $4) * 1000 + $5 }'
}

now_ms_of_day() { date +%H:%M:%S.%N | awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + int($4 / 1000000) }'; }

# One run: layout $2 (index) run $3 on lab slot $1. Appends a line to RESULTS:
# layout run rc frames pair direct ms_to_direct probes relay_bytes relay_after_bytes peer_bytes ttff
# ms_from_launch
one_run() {
  local slot=$1 k=$2 r=$3 cam_type view_type cam_nat dir id rc=none frames=0 pair=none
  local direct=0 t0 t_start=- t_direct=- ms=- ms_launch=- probes=- relay=0 relay_after=- peer=0 ttff=- summary cam_pid sampler line
  IFS=: read -r cam_type view_type <<<"${layouts[$k]}"
  dir="$LAB_TMP/run-$k-$r" id="b$k-$r"
  mkdir -p "$dir"
  if lab_site c "$slot" "$cam_type" && cam_nat=$SITE_NAT_IP && lab_site v "$slot" "$view_type" &&
    tally_rules "c${slot}nat" && tally_rules "v${slot}nat" "$cam_nat"; then
    ip netns exec "$(lab_ns_name "c$slot")" "$build/src/tools/icecam-camera" --server "$URL" \
      --id "$id" --source test --keyframe-interval 10 --verbose "${probe[@]}" >"$dir/camera.log" 2>&1 &
    cam_pid=$!
    if lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15; then
      # The relay's counters every 200 ms while the viewer runs: "ms-of-day bytes".
      (while [ ! -e "$dir/done" ]; do
        echo "$(now_ms_of_day) $(($(tally "c${slot}nat" turn) + $(tally "v${slot}nat" turn)))"
        sleep 0.2
      done >"$dir/relay.samples") &
      sampler=$!
      t0=$(now_ms_of_day)
      lab_exec "v$slot" timeout 30 "$build/src/tools/icecam-view" --server "$URL" --camera "$id" \
        --headless --frames "$FRAMES" --verbose "${probe[@]}" >"$dir/view.log" 2>&1
      rc=$?
      touch "$dir/done"
      wait "$sampler"
      relay=$(($(tally "c${slot}nat" turn) + $(tally "v${slot}nat" turn)))
      peer=$(tally "v${slot}nat" peer)
      summary=$(grep -E '^icecam-view: result=' "$dir/view.log" | tail -1)
      pair=$(grep -oE ' pair=[^ ]+' <<<"$summary" | cut -d= -f2)
      frames=$(grep -oE ' frames=[0-9]+' <<<"$summary" | cut -d= -f2)
      ttff=$(grep -oE ' ttff_ms=[0-9.]+' <<<"$summary" | cut -d= -f2)
      [[ ${pair:-none} =~ ^(host|srflx|prflx|punched)/(host|srflx|prflx|punched)$ ]] &&
        [ "$peer" -gt 10000 ] && direct=1
      # The first moment the viewer's path had no relayed end.
      line=$(grep -E 'ice-session .*: (selected (host|srflx|prflx) .* <-> (host|srflx|prflx) |media on the punched path)' \
        "$dir/view.log" | head -1)
      [ -n "$line" ] && t_direct=$(log_ms <<<"$line")
      line=$(grep -E "viewer $id: idle -> connecting" "$dir/view.log" | head -1)
      [ -n "$line" ] && t_start=$(log_ms <<<"$line")
      if [ "$direct" = 1 ] && [ "$t_direct" != - ] && [ "$t_start" != - ]; then
        ms=$((t_direct - t_start)) ms_launch=$((t_direct - t0))
        relay_after=$(awk -v t=$((t_direct + 1000)) -v end="$relay" \
          '$1 >= t { print end - $2; found = 1; exit } END { if (!found) print "-" }' "$dir/relay.samples")
      fi
      if grep -q 'punched a direct path' "$dir/view.log"; then
        probes=$(cat "$dir/camera.log" "$dir/view.log" | grep -oE '\(([0-9]+) probes and answers sent\)' |
          grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
      fi
    fi
    lab_stop "$cam_pid"
  fi
  [ -n "${KEEP:-}" ] && { [ "$direct" = 0 ] || [ "${KEEP_ALL:-0}" = 1 ]; } && mkdir -p "$KEEP/$k-$r" && cp "$dir"/*.log "$dir"/relay.samples "$KEEP/$k-$r/" 2>/dev/null
  lab_site_remove c "$slot"
  lab_site_remove v "$slot"
  rm -rf "$dir"
  echo "$k $r $rc ${frames:-0} ${pair:-none} $direct $ms $probes $relay $relay_after $peer ${ttff:--} $ms_launch" >>"$RESULTS"
}

# Worker $1 of PARALLEL on lab slot $1: every PARALLEL-th run of the interleaved list.
worker() {
  local w=$1 j=0 r k
  for ((r = 1; r <= RUNS; r++)); do
    for k in "${!layouts[@]}"; do
      [ $((j % PARALLEL)) = "$w" ] && one_run "$w" "$k" "$r"
      j=$((j + 1))
    done
  done
}

table() {
  local k cam view rows runs ok
  echo "| camera NAT | viewer NAT | direct | final pairs | ms session start → direct: median / p90 | ms launch → direct: median | probes per success: median | relay kB per run: median | relay B after direct: median | ttff_ms median |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for k in "${!layouts[@]}"; do
    IFS=: read -r cam view <<<"${layouts[$k]}"
    rows=$(awk -v k="$k" '$1 == k' "$RESULTS")
    runs=$(grep -c . <<<"$rows")
    ok=$(awk '$6 == 1' <<<"$rows" | grep -c .)
    printf '| %s | %s | %d/%d | %s | %s / %s | %s | %s | %s | %s | %s |\n' "$cam" "$view" "$ok" "$runs" \
      "$(awk '{ print $5 }' <<<"$rows" | sort | uniq -c | sort -rn | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')" \
      "$(awk '$6 == 1 && $7 != "-" { print $7 }' <<<"$rows" | median)" \
      "$(awk '$6 == 1 && $7 != "-" { print $7 }' <<<"$rows" | p90)" \
      "$(awk '$6 == 1 && $13 != "-" { print $13 }' <<<"$rows" | median)" \
      "$(awk '$6 == 1 && $8 != "-" { print $8 }' <<<"$rows" | median)" \
      "$(awk '{ printf "%.1f\n", $9 / 1000 }' <<<"$rows" | median)" \
      "$(awk '$6 == 1 && $10 != "-" { print $10 }' <<<"$rows" | median)" \
      "$(awk '$12 != "-" { print $12 }' <<<"$rows" | median)"
  done
}

lab_init

RESULTS=${RESULTS:-$LAB_TMP/results.txt}
: >"$RESULTS"
printf '%s\n' "$TURN_SECRET" >"$LAB_TMP/turn-secret"
if ! { lab_internet && lab_coturn_start "$TURN_SECRET" && lab_addr srv up0 "$STUN_ALTERNATE_IP/24" &&
  lab_rendezvous_start "$LAB_TMP/rendezvous.log" --stun-alternate "$STUN_ALTERNATE_IP" \
    --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" "${turn_tcp[@]}" \
    --turn-secret-file "$LAB_TMP/turn-secret" --turn-ttl 600 --allow-anonymous-relay; }; then
  echo "the lab did not come up"
  exit 1
fi
URL=$LAB_RENDEZVOUS_URL
echo "# $(date -u '+%F %H:%M UTC'), RUNS=$RUNS FRAMES=$FRAMES PARALLEL=$PARALLEL, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$SECONDS
pids=()
for ((w = 0; w < PARALLEL; w++)); do
  worker "$w" &
  pids+=($!)
done
wait "${pids[@]}"
table
echo "# $(( (SECONDS - start) / 60 )) min, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

