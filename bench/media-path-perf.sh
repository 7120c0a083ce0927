#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Media path under perf: the stream of bench/media-path.sh through icecam and through udp, with
# `perf stat` on the receiver and the sender over a steady window (futex calls, recvmsg calls and
# context switches per packet), and optionally `perf record -e cpu-clock -g` of one side.
# Usage: bench/media-path-perf.sh [RATE] [WINDOW_S] [FPS]
#        RECORD=recv|send bench/media-path-perf.sh ...   (also writes $OUT/perf-VIA-SIDE.data,
#        recorded with $PERF_RECORD, e.g. "-F 199 -e cpu-clock --call-graph dwarf,16384" for callers)
set -u
. "$(dirname "$0")/common.sh"
RATE=${1:-2000}
WINDOW=${2:-2}
FPS=${3:-30}
RECORD=${RECORD:-}
PERF_RECORD=${PERF_RECORD:--F 999 -e cpu-clock -g}
OUT=${OUT:-$PWD}
MP=$BUILD/bench/bench-media-path
EVENTS=syscalls:sys_enter_futex,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmmsg,context-switches,cpu-clock

bench_machine
bench_start_rendezvous
PORT=$((20000 + RANDOM % 20000))

# measure VIA SIDE PID: perf stat of the whole process over the window, divided by the packets
# the sender is paced to send in it (RATE x WINDOW)
measure () {
  local via=$1 side=$2 pid=$3
  if [ "$RECORD" = "$side" ]; then
    # shellcheck disable=SC2086
    perf record $PERF_RECORD -p "$pid" -o "$OUT/perf-$via-$side.data" \
      -- sleep "$WINDOW" 2>/dev/null >/dev/null
  fi
  perf stat -x, -e "$EVENTS" -p "$pid" -- sleep "$WINDOW" 2>&1 >/dev/null |
    awk -F, -v via="$via" -v side="$side" -v pkts=$((RATE * WINDOW)) '
      $3 ~ /futex/ { f = $1 } $3 ~ /recvmsg/ { r = $1 } $3 ~ /sendmmsg/ { s = $1 }
      $3 ~ /context-switches/ { c = $1 } $3 ~ /cpu-clock/ { t = $1 }
      END { printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", via, side, f / pkts,
                   c / pkts, r / pkts, s / pkts, t * 1000 / pkts }'
}

echo "| path | side | futex/pkt | context switches/pkt | recvmsg/pkt | sendmmsg/pkt | µs CPU/pkt |"
echo "|---|---|---|---|---|---|---|"
for via in icecam udp; do
  seconds=$((WINDOW * 3 + 4))
  if [ "$via" = icecam ]; then
    cam=perf-$RANDOM
    "$MP" send --via icecam --server "$URL" --camera "$cam" --rate "$RATE" --fps "$FPS" \
      --seconds "$seconds" >"$WORK/send" 2>&1 &
    sender=$!
    bench_wait_health cameras 1 || exit 1
    "$MP" recv --via icecam --server "$URL" --camera "$cam" >"$WORK/recv" 2>&1 &
    receiver=$!
  else
    "$MP" recv --via udp --port "$PORT" >"$WORK/recv" 2>&1 &
    receiver=$!
    sleep 0.2
    "$MP" send --via udp --port "$PORT" --rate "$RATE" --fps "$FPS" --seconds "$seconds" \
      >"$WORK/send" 2>&1 &
    sender=$!
  fi
  sleep 2  # ICE, DTLS and the sender's settling time; then a steady stream
  measure "$via" recv "$receiver"
  measure "$via" send "$sender"
  wait "$sender" "$receiver"
  grep -h '^media-path' "$WORK/send" "$WORK/recv" | sed 's/^/    /' >&2
done
