#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Relay cost per message, side by side (docs/benchmarks.md, 16b): each RENDEZVOUS in turn,
# ROUNDS times, through bench/node-scale.sh (TOTAL connections: TOTAL - 2,000 held idle by 4
# other processes, 1,500 cameras and 500 viewers in 500 sessions) at RATES; then, per build and
# rate, the median over the rounds of the relayed rate, p50, p99, the server's CPU and its CPU
# per relayed message (all windows' lines are printed first).
#
#   bench/relay-cost.sh ROUNDS RATES TOTAL RENDEZVOUS...
#   bench/relay-cost.sh 3 5000,20000 10000 /tmp/relay-base/build-bench/src/server/icecam-rendezvous \
#     build-bench/src/server/icecam-rendezvous
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 4 ]; then
  echo "usage: $0 ROUNDS RATES TOTAL RENDEZVOUS..." >&2
  exit 2
fi
rounds=$1 rates=$2 total=$3
shift 3
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for r in $(seq "$rounds"); do
  for server in "$@"; do
    echo "== round $r: $server (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$here/node-scale.sh" "$rates" "$total" "$server" | grep 'relay rate' |
      sed "s|^|$server |" | tee -a "$out"
  done
done

echo "== medians over $rounds rounds"
printf '%-60s %6s %9s %8s %8s %6s %10s\n' rendezvous rate relayed/s p50_ms p99_ms cpu us/msg
for server in "$@"; do
  for rate in $(echo "${rates//,/ }" | tr " " "\n" | awk '!seen[$0]++'); do
    awk -v s="$server" -v rate="$rate" '
      function med(a, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      $1 == s && $0 ~ ("rate=" rate " ") {
        n++
        for (f = 2; f <= NF; f++) {
          split($f, kv, "=")
          if (kv[1] == "relayed_per_s") rel[n] = kv[2]
          if (kv[1] == "p50_ms") p50[n] = kv[2]
          if (kv[1] == "p99_ms") p99[n] = kv[2]
          if (kv[1] == "server_cpu") { sub("%", "", kv[2]); cpu[n] = kv[2] }
          if (kv[1] == "server_us_per_msg") us[n] = kv[2]
        }
      }
      END {
        if (n == 0) exit
        printf "%-60s %6s %9.0f %8.2f %8.2f %5.0f%% %10.1f\n", s, rate, med(rel, n), med(p50, n),
               med(p99, n), med(cpu, n), med(us, n)
      }' "$out"
  done
done
