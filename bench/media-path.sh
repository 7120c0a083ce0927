#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Media path: the same synthetic RTP stream (1200-byte packets in 30 bursts a second, no
# encoder) through icecamsink -> icecamsrc (ICE + DTLS-SRTP) and through udpsink -> udpsrc,
# taking turns in one run. CPU per packet of sender and receiver at one rate, then the highest
# loss-free rate. "null" (appsrc ! fakesink) is what generating the packets costs the sender.
# Usage: bench/media-path.sh [REPS] [CPU_RATE] [RATES...]
set -u
. "$(dirname "$0")/common.sh"
REPS=${1:-7}
CPU_RATE=${2:-2000}
shift $(($# < 2 ? $# : 2))
RATES=${*:-2000 5000 10000 20000 40000 80000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
SETTLE_MS=${SETTLE_MS:-500} # sender: after the pair, before the window (6000: after libnice's check timer stopped)
SWEEP_FPS=${SWEEP_FPS:-1000}  # bursts per second in the rate sweep: 1 ms apart, nearly smooth
MP=$BUILD/bench/bench-media-path

bench_machine
bench_start_rendezvous
PORT=$((20000 + RANDOM % 20000))
n=0

# run VIA RATE [FPS]: prints "sent received queue_dropped send_us_per_pkt recv_us_per_pkt"
run () {
  local via=$1 rate=$2 fps=${3:-30} cam="mp$((n += 1))"
  if [ "$via" = icecam ]; then
    "$MP" send --via icecam --server "$URL" --camera "$cam" --rate "$rate" --fps "$fps" \
      --seconds "$SECONDS_PER_RUN" --settle-ms "$SETTLE_MS" >"$WORK/send" 2>"$WORK/send.err" &
    local sender=$!
    bench_wait_health cameras 1 || return
    "$MP" recv --via icecam --server "$URL" --camera "$cam" >"$WORK/recv" 2>"$WORK/recv.err"
    wait "$sender"
  else
    "$MP" recv --via udp --port "$PORT" >"$WORK/recv" 2>"$WORK/recv.err" &
    local receiver=$!
    sleep 0.2
    "$MP" send --via udp --port "$PORT" --rate "$rate" --fps "$fps" --seconds "$SECONDS_PER_RUN" \
      --settle-ms "$SETTLE_MS" >"$WORK/send" 2>"$WORK/send.err"
    wait "$receiver"
  fi
  awk '/^media-path: send/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); s[kv[1]] = kv[2] } }
       /^media-path: recv/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] } }
       END { print s["sent"] + 0, r["received"] + 0, r["queue_dropped"] + 0,
                   s["cpu_us_per_pkt"] + 0, r["cpu_us_per_pkt"] + 0, s["achieved_pps"] + 0 }' \
    "$WORK/send" "$WORK/recv"
}

echo
echo "## CPU per packet at $CPU_RATE pkt/s in 30 bursts/s, ${SECONDS_PER_RUN} s windows, $REPS runs each (µs/packet)"
for rep in $(seq "$REPS"); do
  "$MP" send --via null --rate "$CPU_RATE" --seconds "$SECONDS_PER_RUN" |
    sed -n 's/.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' >>"$WORK/send-null"
  order="icecam udp"; [ $((rep % 2)) = 0 ] && order="udp icecam"
  for via in $order; do
    read -r sent recvd qdrop s_us r_us _ <<<"$(run "$via" "$CPU_RATE")"
    if [ "$sent" -eq 0 ] || [ "$recvd" -eq 0 ]; then
      echo "  run $rep $via: failed, not counted: $(cat "$WORK/send.err" "$WORK/recv.err" | tail -2)" >&2
      continue
    fi
    echo "$s_us" >>"$WORK/send-$via"; echo "$r_us" >>"$WORK/recv-$via"
    echo "$s_us + $r_us" | bc -l >>"$WORK/total-$via"
    echo "  run $rep $via: sent=$sent received=$recvd queue_dropped=$qdrop send=$s_us recv=$r_us" >&2
  done
done
echo "| path | sender median | receiver median | sender+receiver median | p90 |"
echo "|---|---|---|---|---|"
for via in icecam udp; do
  read -r s _ <<<"$(bench_stats "$WORK/send-$via" %.2f)"
  read -r r _ <<<"$(bench_stats "$WORK/recv-$via" %.2f)"
  read -r t t90 _ <<<"$(bench_stats "$WORK/total-$via" %.2f)"
  eval "total_$via=$t; send_$via=$s; recv_$via=$r"
  echo "| $via | $s | $r | $t | $t90 |"
done
read -r null _ <<<"$(bench_stats "$WORK/send-null" %.2f)"
echo "| generator alone (appsrc ! fakesink) | $null | | | |"
echo "| **ratio icecam/udp** | $(echo "scale=2; $send_icecam / $send_udp" | bc) |" \
     "$(echo "scale=2; $recv_icecam / $recv_udp" | bc) | $(echo "scale=2; $total_icecam / $total_udp" | bc) | |"
echo "| **ratio net of the generator** | $(echo "scale=2; ($send_icecam - $null) / ($send_udp - $null)" | bc) |" \
     "$(echo "scale=2; $recv_icecam / $recv_udp" | bc) |" \
     "$(echo "scale=2; ($total_icecam - $null) / ($total_udp - $null)" | bc) | |"

echo
echo "## loss by rate ($SWEEP_FPS bursts/s, ${SECONDS_PER_RUN} s per run; lost = sent - received)"
echo "| pkt/s | icecam sent | icecam lost | udp sent | udp lost |"
echo "|---|---|---|---|---|"
best_icecam=0 best_udp=0
for rate in $RATES; do
  row="| $rate |"
  for via in icecam udp; do
    read -r sent recvd _ _ _ achieved <<<"$(run "$via" "$rate" "$SWEEP_FPS")"
    if [ "$sent" -eq 0 ]; then
      # a run that did not happen is no loss figure (it printed "sent=0 lost=-N" before)
      echo "  $via at $rate pkt/s failed: $(cat "$WORK/send.err" "$WORK/recv.err" | tail -2)" >&2
      row="$row $sent | failed |"
      continue
    fi
    lost=$((sent - recvd))
    row="$row $sent | $lost |"
    # loss-free, and the sender kept up with the rate asked for
    if [ "$lost" -eq 0 ] && [ "$sent" -gt 0 ] && [ "${achieved%.*}" -ge $((rate * 95 / 100)) ]; then
      eval "best_$via=$rate"
    fi
  done
  echo "$row"
done
echo
echo "highest loss-free rate: icecam $best_icecam pkt/s, udp $best_udp pkt/s"
