#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# How long icecam-view takes to fail, and what it says, given a wss:// URL for a rendezvous that
# speaks plain ws://, for two builds taking turns in one run (this build's rendezvous).
# Usage: bench/wss-plain.sh OTHER_BUILD [RUNS]   (default 5; BUILD as in common.sh)
set -u
. "$(dirname "$0")/common.sh"
OTHER=$(cd "${1:?usage: bench/wss-plain.sh OTHER_BUILD [RUNS]}" && pwd)
RUNS=${2:-5}

bench_machine
echo "this build: $BUILD; other build: $OTHER; $RUNS runs"
bench_start_rendezvous
WSS=${URL/ws:/wss:}
: >"$WORK/this.ms"; : >"$WORK/other.ms"
for i in $(seq "$RUNS"); do
  for b in this other; do
    [ $b = this ] && build=$BUILD || build=$OTHER
    start=$(date +%s%3N)
    bench_in_build "$build" "$build/src/tools/icecam-view" --server "$WSS" --camera x --headless \
      --frames 1 >"$WORK/$b.out" 2>&1
    echo $(( $(date +%s%3N) - start )) >>"$WORK/$b.ms"
  done
done
for b in this other; do
  echo "$b: median p90 min max n (ms): $(bench_stats "$WORK/$b.ms" %.0f)"
  echo "  $(grep 'error:' "$WORK/$b.out")"
done
