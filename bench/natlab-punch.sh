#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hole punching where ICE relays (issue 18), as an experiment outside icecam's ICE: in the NAT
# lab (tests/natlab/lab.sh, root only), a port-restricted cone side and a symmetric side each
# run tests/natlab/punch.py. Per layout, RUNS attempts (default 20), each with fresh sockets and
# both NATs' conntrack flushed. Side by side in one run: the baseline (probes to the
# STUN-mapped port only, what a srflx candidate gives) and the punch (port prediction against
# a sequential symmetric NAT, birthday against a random one), and the birthday punch of
# src/lib/icecam-punch.c (tests/natlab/punch-peer.c). Prints per layout: successes,
# median ms from both addresses known to
# the first two-way exchange, median probes sent per success (both sides).
#   sudo RUNS=50 bench/natlab-punch.sh        (ICECAM_BUILD_DIR defaults to ./build)
#   ONLY="icecam birthday" RUNS=10 bench/natlab-punch.sh  (only those sprays: none predict birthday icecam)
set -u
if [ "$(id -u)" != 0 ]; then echo "needs root (network namespaces)"; exit 77; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ICECAM_BUILD_DIR=${ICECAM_BUILD_DIR:-$here/../build}
# shellcheck source-path=SCRIPTDIR source=../tests/natlab/lab.sh
. "$here/../tests/natlab/lab.sh"
RUNS=${RUNS:-20}
# The baselines fail by timing out (5 s each): fewer of them.
RUNS_BASELINE=${RUNS_BASELINE:-10}
PUNCH=$here/../tests/natlab/punch.py
PUNCH_C=$ICECAM_BUILD_DIR/tests/icecam-punch-peer

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

# One attempt: cone side c0 with $1 (spray), symmetric side v0 with $2 sockets. Prints
# "ok MS SENT" or "fail". Spray "icecam" is the birthday punch of src/lib/icecam-punch.c
# (tests/natlab/punch-peer.c) instead of punch.py's.
attempt() {
  local spray=$1 sockets=$2 dir="$LAB_TMP/run" nonce cone sym
  if [ "$spray" = icecam ]; then attempt_c "$sockets"; return; fi
  rm -rf "$dir" && mkdir -p "$dir"
  lab_exec c0nat conntrack -F 2>/dev/null
  lab_exec v0nat conntrack -F 2>/dev/null
  nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  lab_exec c0 python3 "$PUNCH" cone --stun "$STUN" --out "$dir/cone" --peer "$dir/sym" \
    --nonce "$nonce" --spray "$spray" >"$dir/cone.out" 2>&1 &
  cone=$!
  lab_exec v0 python3 "$PUNCH" symmetric --stun "$STUN" --out "$dir/sym" --peer "$dir/cone" \
    --nonce "$nonce" --sockets "$sockets" >"$dir/sym.out" 2>&1 &
  sym=$!
  wait "$cone" "$sym"
  if grep -q result=ok "$dir/cone.out" && grep -q result=ok "$dir/sym.out"; then
    echo "ok $(grep -oE 'ms=[0-9]+' "$dir/cone.out" | cut -d= -f2) \
$(( $(grep -oE 'sent=[0-9]+' "$dir/cone.out" | cut -d= -f2) + $(grep -oE 'sent=[0-9]+' "$dir/sym.out" | cut -d= -f2) ))"
  else
    echo "fail"
    [ -n "${PUNCH_DEBUG:-}" ] && cat "$dir/cone.out" "$dir/sym.out" >&2
  fi
}

attempt_c() {
  local sockets=$1 dir="$LAB_TMP/run" token cone sym
  rm -rf "$dir" && mkdir -p "$dir"
  lab_exec c0nat conntrack -F 2>/dev/null
  lab_exec v0nat conntrack -F 2>/dev/null
  token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  lab_exec c0 "$PUNCH_C" cone --stun "$STUN" --out "$dir/cone" --peer "$dir/sym" \
    --token "$token" >"$dir/cone.out" 2>&1 &
  cone=$!
  lab_exec v0 "$PUNCH_C" symmetric --stun "$STUN" --out "$dir/sym" --peer "$dir/cone" \
    --token "$token" --sockets "$sockets" >"$dir/sym.out" 2>&1 &
  sym=$!
  wait "$cone" "$sym"
  if grep -q result=ok "$dir/cone.out" && grep -q result=ok "$dir/sym.out"; then
    echo "ok $(grep -oE 'ms=[0-9]+' "$dir/cone.out" | cut -d= -f2) \
$(( $(grep -oE 'sent=[0-9]+' "$dir/cone.out" | cut -d= -f2) + $(grep -oE 'sent=[0-9]+' "$dir/sym.out" | cut -d= -f2) ))"
  else
    echo "fail"
    [ -n "${PUNCH_DEBUG:-}" ] && cat "$dir/cone.out" "$dir/sym.out" >&2
  fi
}

layout() {
  local label=$1 symtype=$2 spray=$3 sockets=$4 runs=$5 i ok=0 times=() sent=() r
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $spray "* ]]; then return; fi
  if ! { lab_site c 0 port-restricted && lab_site v 0 "$symtype"; }; then echo "lab failed"; exit 1; fi
  for i in $(seq 1 "$runs"); do
    r=$(attempt "$spray" "$sockets")
    if [ "${r%% *}" = ok ]; then
      ok=$((ok + 1))
      read -r _ t s <<<"$r"
      times+=("$t") sent+=("$s")
    fi
  done
  printf '| %s | %s | %s | %d/%d | %s | %s |\n' "$label" "$symtype" "$spray, $sockets socket(s)" \
    "$ok" "$runs" "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${sent[@]}" | median)"
  lab_site_remove c 0
  lab_site_remove v 0
}

lab_init
lab_internet || exit 1
lab_rendezvous_start "$LAB_TMP/rendezvous.log" || exit 1
STUN=$(grep -oE 'stun udp [0-9.]+:[0-9]+' "$LAB_TMP/rendezvous.log" | awk '{print $3}')
echo "| layout | symmetric side | cone side sprays | two-way | median ms | median probes |"
echo "|---|---|---|---|---|---|"
layout "baseline: srflx port only" symmetric-sequential none 1 "$RUNS_BASELINE"
layout "port prediction (window 16)" symmetric-sequential predict 1 "$RUNS"
layout "baseline: srflx port only" symmetric none 1 "$RUNS_BASELINE"
layout "birthday: 256 mappings x <=1000 probes" symmetric birthday 256 "$RUNS"
layout "birthday, src/lib/icecam-punch.c" symmetric icecam 256 "$RUNS"
