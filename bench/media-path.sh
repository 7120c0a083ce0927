#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Media path: the same synthetic RTP stream (1200-byte packets in 30 bursts a second, no
# encoder) through icecamsink -> icecamsrc (ICE + DTLS-SRTP) and through udpsink -> udpsrc,
# taking turns in one run. CPU per packet of sender and receiver at one rate, then the highest
# loss-free rate. "null" (appsrc ! fakesink) is what generating the packets costs the sender;
# bench-srtp-cost what SRTP alone costs a packet (both ends), so raw + that is the floor.
# Usage: bench/media-path.sh [REPS] [CPU_RATE] [RATES...]
#        PATHS="icecam icecam-libsrtp udp" bench/media-path.sh ...   (icecam-libsrtp: both ends
#        with ICECAM_SRTP=libsrtp, RTP through libsrtp instead of OpenSSL, for comparison)
#        OTHER=../before/build-bench PATHS="icecam other udp" ...   (other: icecamsink and
#        icecamsrc of another build, driven by this build's bench-media-path)
set -u
# shellcheck disable=SC2154 # send_udp, total_VIA ... are set with eval per path
. "$(dirname "$0")/common.sh"
REPS=${1:-7}
CPU_RATE=${2:-2000}
shift $(($# < 2 ? $# : 2))
RATES=${*:-2000 5000 10000 20000 40000 80000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
SETTLE_MS=${SETTLE_MS:-500} # sender: after the pair, before the window (6000: after libnice's check timer stopped)
SWEEP_FPS=${SWEEP_FPS:-1000}  # bursts per second in the rate sweep: 1 ms apart, nearly smooth
MP=$BUILD/bench/bench-media-path
PATHS=${PATHS:-icecam udp}

bench_machine
bench_start_rendezvous
PORT=$((20000 + RANDOM % 20000))

# run VIA RATE [FPS]: prints "sent received queue_dropped send_us_per_pkt recv_us_per_pkt"
run () {
  local via=$1 rate=$2 fps=${3:-30} cam="mp$RANDOM$RANDOM" srtp= plugin=$BUILD
  [ "$via" = icecam-libsrtp ] && srtp=libsrtp
  [ "$via" = other ] && plugin=${OTHER:?OTHER=build directory for the path other}
  if [ "$via" != udp ]; then
    ICECAM_SRTP=$srtp bench_in_build "$plugin" "$MP" send --via icecam --server "$URL" --camera "$cam" --rate "$rate" --fps "$fps" \
      --seconds "$SECONDS_PER_RUN" --settle-ms "$SETTLE_MS" >"$WORK/send" 2>"$WORK/send.err" &
    local sender=$!
    bench_wait_health cameras 1 || return
    # /healthz may still count the previous run's camera: ask again until this one is there
    local try
    for try in $(seq 50); do
      ICECAM_SRTP=$srtp bench_in_build "$plugin" "$MP" recv --via icecam --server "$URL" --camera "$cam" \
        >"$WORK/recv" 2>"$WORK/recv.err" && break
      grep -q unknown-camera "$WORK/recv.err" || break
      sleep 0.1
    done
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
  # SRTP alone (protect + unprotect of the same packets), in the same round
  "$BUILD/bench/bench-srtp-cost" 100000 |
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); c[kv[1]] = kv[2] } }
         END { print c["protect_us"] + c["unprotect_us"] }' >>"$WORK/srtp"
  order=$PATHS; [ $((rep % 2)) = 0 ] && order=$(echo "$PATHS" | tr ' ' '\n' | tac | tr '\n' ' ')
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
for via in $PATHS; do
  v=${via//-/_}
  read -r s _ <<<"$(bench_stats "$WORK/send-$via" %.2f)"
  read -r r _ <<<"$(bench_stats "$WORK/recv-$via" %.2f)"
  read -r t t90 _ <<<"$(bench_stats "$WORK/total-$via" %.2f)"
  eval "total_$v=$t; send_$v=$s; recv_$v=$r"
  echo "| $via | $s | $r | $t | $t90 |"
done
read -r null _ <<<"$(bench_stats "$WORK/send-null" %.2f)"
echo "| generator alone (appsrc ! fakesink) | $null | | | |"
read -r srtp _ <<<"$(bench_stats "$WORK/srtp" %.2f)"
echo "| SRTP alone (bench-srtp-cost: protect + unprotect) | | | $srtp | |"
# the ratios are to raw UDP: only when it ran
[ -n "${total_udp:-}" ] &&
  echo "| **floor: raw + SRTP alone, ratio to raw** | | | $(echo "scale=2; ($total_udp + $srtp) / $total_udp" | bc) | |"
for via in $PATHS; do
  { [ "$via" = udp ] || [ -z "${total_udp:-}" ]; } && continue
  v=${via//-/_}
  eval "ts=\$send_$v tr=\$recv_$v tt=\$total_$v"
  echo "| **ratio $via/udp** | $(echo "scale=2; $ts / $send_udp" | bc) |" \
       "$(echo "scale=2; $tr / $recv_udp" | bc) | $(echo "scale=2; $tt / $total_udp" | bc) | |"
  echo "| ratio $via/udp net of the generator | $(echo "scale=2; ($ts - $null) / ($send_udp - $null)" | bc) |" \
       "$(echo "scale=2; $tr / $recv_udp" | bc) |" \
       "$(echo "scale=2; ($tt - $null) / ($total_udp - $null)" | bc) | |"
done

echo
echo "## loss by rate ($SWEEP_FPS bursts/s, ${SECONDS_PER_RUN} s per run; lost = sent - received)"
head="| pkt/s |"; sep="|---|"
for via in $PATHS; do head="$head $via sent | $via lost |"; sep="$sep---|---|"; done
echo "$head"; echo "$sep"
for via in $PATHS; do eval "best_${via//-/_}=0"; done
for rate in $RATES; do
  row="| $rate |"
  for via in $PATHS; do
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
      eval "best_${via//-/_}=$rate"
    fi
  done
  echo "$row"
done
echo
line="highest loss-free rate:"
for via in $PATHS; do eval "line=\"\$line $via \$best_${via//-/_} pkt/s\""; done
echo "$line"
