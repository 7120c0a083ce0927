#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Session rate: how many sessions a second the rendezvous and ONE camera (icecam-camera --source
# test) can start, with K viewers at a time that join, get a pair and leave (bench-session-rate:
# libicecam viewer endpoints in one process). Baseline in the same run: bare libnice agent pairs
# with icecam's settings in one process (bench-ice-pair --rate), no signalling, no camera.
# Usage: bench/session-rate.sh [SECONDS] [K...]
set -u
. "$(dirname "$0")/common.sh"
SECS=${1:-8}
shift 2>/dev/null
KS=${*:-1 4 16}

bench_machine
bench_start_rendezvous
bench_start_camera rate1 --max-viewers 64
sleep 1

echo
echo "## sessions per second (join -> pair selected -> leave), ${SECS} s per run"
echo "| K in flight | sessions/s | setup p50 ms | setup p99 ms | failed | CPU ms per session: viewers / camera / rendezvous | camera RSS MiB before -> after | libnice pairs/s (baseline) | icecam / libnice |"
echo "|---|---|---|---|---|---|---|---|---|"
for k in $KS; do
  base=$("$BUILD/bench/bench-ice-pair" --rate "$SECS" --in-flight "$k" | sed -n 's/.*pairs_per_s=\([0-9.]*\).*/\1/p')
  cam0=$(bench_cpu_ticks "$CAM_PID"); rv0=$(bench_cpu_ticks "$RV_PID"); rss0=$(bench_rss_kib "$CAM_PID")
  line=$("$BUILD/bench/bench-session-rate" --server "$URL" --camera rate1 --seconds "$SECS" --in-flight "$k")
  cam1=$(bench_cpu_ticks "$CAM_PID"); rv1=$(bench_cpu_ticks "$RV_PID"); rss1=$(bench_rss_kib "$CAM_PID")
  get () { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
  n=$(get sessions)
  printf "| %s | %s | %s | %s | %s | %.2f / %.2f / %.2f | %.1f -> %.1f | %s | %.2f |\n" "$k" \
    "$(get sessions_per_s)" "$(get setup_p50_ms)" "$(get setup_p99_ms)" "$(get failed)" \
    "$(get viewer_cpu_ms_per_session)" "$(echo "($cam1 - $cam0) * 1000 / $n" | bc -l)" \
    "$(echo "($rv1 - $rv0) * 1000 / $n" | bc -l)" "$(echo "$rss0 / 1024" | bc -l)" \
    "$(echo "$rss1 / 1024" | bc -l)" "$base" "$(echo "$(get sessions_per_s) / $base" | bc -l)"
done
