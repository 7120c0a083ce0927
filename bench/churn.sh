#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Memory of a rendezvous under connection churn (docs/benchmarks.md, 13): PROCS processes of
# bench-connect-churn connect, upgrade, say hello as a camera and go (every 16th asks /healthz;
# four ways to go: close, close frame, reset, no hello), TOTAL connections in 10 rounds. The
# rendezvous's RSS after a warm-up of PROCS x 2,000 connections is the baseline; after each
# round it prints the RSS, descriptors and connections so far, and at the end the growth.
# Each RENDEZVOUS given (default: this build's) is measured in turn, in one run.
#
#   bench/churn.sh TOTAL PROCS [RENDEZVOUS...]
#   bench/churn.sh 1000000 4
#   bench/churn.sh 100000 4 build-bench/src/server/icecam-rendezvous /tmp/rdv-before
set -u
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

total=${1:?usage: bench/churn.sh TOTAL PROCS [RENDEZVOUS...]}
procs=${2:?usage: bench/churn.sh TOTAL PROCS [RENDEZVOUS...]}
shift 2
servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=("$RENDEZVOUS")
CHURN=$BUILD/bench/bench-connect-churn
rounds=10

rss_kib () { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds () { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# churn_round N: N connections over $procs processes; fails if any connection failed.
churn_round () {
  local n=$1 i pids=() rc=0
  for i in $(seq "$procs"); do
    "$CHURN" --port "$port" --connections $((n / procs)) --threads 4 \
      --tag "c$RANDOM-$i" >>"$WORK/churn.out" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return $rc
}

for server in "${servers[@]}"; do
  RENDEZVOUS=$server bench_start_rendezvous --stun-listen none
  port=${URL##*:}
  port=${port%%/*}
  echo "== $server (pid $RV_PID, port $port), $total connections, $procs processes"
  start_rss=$(rss_kib "$RV_PID")
  churn_round $((procs * 2000)) || echo "warm-up: failures, see below"
  base=$(rss_kib "$RV_PID")
  cpu0=$(awk '{ print $14 + $15 }' "/proc/$RV_PID/stat")
  t0=$(date +%s.%N)
  echo "started $start_rss KiB, after warm-up $base KiB"
  echo "connections rss_kib fds"
  done_n=0
  failed=0
  for _ in $(seq "$rounds"); do
    churn_round $((total / rounds)) || failed=1
    done_n=$((done_n + total / rounds))
    echo "$done_n $(rss_kib "$RV_PID") $(fds "$RV_PID")"
  done
  end=$(rss_kib "$RV_PID")
  cpu1=$(awk '{ print $14 + $15 }' "/proc/$RV_PID/stat")
  t1=$(date +%s.%N)
  awk -v b="$base" -v e="$end" -v n="$done_n" -v c=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" \
      -v t="$(echo "$t1 - $t0" | bc)" 'BEGIN {
    printf "growth %+d KiB (%.3f KiB per 1,000 connections), %.0f connections/s, server CPU %.0f us each\n",
           e - b, (e - b) * 1000 / n, n / t, c / hz * 1e6 / n }'
  grep -h 'failed' "$WORK/churn.out" | grep -v ' 0 failed' | head -5
  [ "$failed" = 0 ] || echo "some connections failed (above)"
  rm -f "$WORK/churn.out"
  bench_stop "$RV_PID"
done
