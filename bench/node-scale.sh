#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One rendezvous node from 1,000 to 19,000 connections (docs/benchmarks.md, 13): for each
# total T, bench-rendezvous-load with T - 2,000 idle cameras held by 4 other processes
# (--hold), 1,500 cameras and 500 viewers of its own (500 sessions; at T = 1,000: 500 held,
# 375 + 125), then relay windows at RATES. Prints the server's RSS and CPU per connection and
# the relay lines of each T. This machine caps a process at 20,000 descriptors: 19,000 is
# as far as one node goes here.
#
#   bench/node-scale.sh [RATES] [TOTALS] [RENDEZVOUS]
#   bench/node-scale.sh 5000,20000 "1000 5000 10000 19000"
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../build-bench}
rates=${1:-5000,20000}
totals=${2:-1000 5000 10000 19000}
server=${3:-$BUILD/src/server/icecam-rendezvous}
load=$BUILD/bench/bench-rendezvous-load

for t in $totals; do
  if [ "$t" -lt 5000 ]; then
    hold=$((t / 2)) cameras=$((t * 3 / 8)) viewers=$((t / 8))
  else
    hold=$((t - 2000)) cameras=1500 viewers=500
  fi
  echo "== $t connections: $hold held, $cameras cameras, $viewers viewers"
  "$load" --hold "$hold" --cameras "$cameras" --viewers "$viewers" --rates "$rates" \
    --window 5 --churn 0 --rendezvous "$server" | grep -v '^rendezvous-load: connect-churn\|holding'
done
