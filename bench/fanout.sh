#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fan-out: one camera, 1/4/16/32 headless viewers on loopback, all viewers in ONE other process
# (bench-viewers: icecamsrc ! fakesink each, no decoding). Camera process CPU (all its threads,
# over a fixed window) and RSS per count, relative to one viewer. Two cameras, each against its
# raw baseline (same pipeline into multiudpsink, udpsrc viewers), in the same run:
#   camera: icecam-camera --source test (x264 640x480 30 fps) | gst-launch ... ! multiudpsink
#   synth:  bench-media-path send, SYNTH_PPS packets/s of 1200 bytes in 30 bursts/s, no
#           encoder: what the fan-out itself costs.
# Usage: bench/fanout.sh [REPS] [COUNTS...]
#        VIAS="icecam icecam-libsrtp udp" bench/fanout.sh ...   (icecam-libsrtp: camera and
#        viewers with ICECAM_SRTP=libsrtp, RTP and RTCP through libsrtp instead of OpenSSL)
#        OTHER=/tmp/before/build-bench VIAS="icecam other udp" bench/fanout.sh ...   (other: the
#        camera, icecam-camera or bench-media-path's icecamsink, of another build; the viewers
#        are this build's in every row)
#        KINDS=camera WINDOW=5 bench/fanout.sh ...   (the camera rows only, 5 s windows)
# Each table also gives the CPU of the camera's icecamsink thread (the element's worker: every
# viewer's ICE, DTLS and RTCP; the media goes out from the streaming thread).
set -u
. "$(dirname "$0")/common.sh"
REPS=${1:-2}
shift 2>/dev/null
COUNTS=${*:-1 4 16 32}
WINDOW=${WINDOW:-3}
SYNTH_PPS=${SYNTH_PPS:-300}
MP=$BUILD/bench/bench-media-path
VIAS=${VIAS:-icecam udp}
KINDS=${KINDS:-camera synth}
# icecam-camera's own pipeline (src/tools/icecam-camera.c), up to the sink
ENCODE="videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1
  ! queue max-size-buffers=2 leaky=downstream ! videoconvert
  ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max=300
  ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au
  ! rtph264pay pt=96 mtu=1200 aggregate-mode=zero-latency"

bench_machine
bench_start_rendezvous
n=0

wait_ready () {
  local i
  for i in $(seq 400); do grep -q "^viewers: ready" "$WORK/viewers" && return 0; sleep 0.05; done
  echo "viewers not ready" >&2; return 1
}

# start_camera KIND VIA COUNT PORT: sets camera
start_camera () {
  local kind=$1 via=$2 count=$3 port=$4 clients="" i
  local camera_build=$BUILD   # env, not a function, in the background: $! is the camera itself
  [ "$via" = other ] && camera_build=${OTHER:?OTHER=build directory for the via other}
  if [ "$via" != udp ] && [ "$kind" = camera ]; then
    env GST_PLUGIN_PATH_1_0="$camera_build/plugins" \
      GST_REGISTRY_1_0="$camera_build/bench-registry.bin" \
      "$camera_build/src/tools/icecam-camera" --server "$URL" --id "fan$n" --source test \
      --max-viewers 64 >/dev/null 2>&1 &
  elif [ "$via" != udp ]; then
    env GST_PLUGIN_PATH_1_0="$camera_build/plugins" \
      GST_REGISTRY_1_0="$camera_build/bench-registry.bin" \
      "$MP" send --via icecam --server "$URL" --camera "fan$n" --rate "$SYNTH_PPS" \
      --seconds 600 >/dev/null 2>&1 &
  elif [ "$kind" = camera ]; then
    for i in $(seq 0 $((count - 1))); do clients="$clients,127.0.0.1:$((port + i))"; done
    # shellcheck disable=SC2086
    gst-launch-1.0 -q $ENCODE ! multiudpsink clients="${clients#,}" sync=false >/dev/null 2>&1 &
  else
    "$MP" send --via udp --port "$port" --clients "$count" --rate "$SYNTH_PPS" --seconds 600 \
      >/dev/null 2>&1 &
  fi
  camera=$!
}

# CPU seconds of the threads of process $1 named $2 (icecamsink's worker: every viewer's ICE,
# DTLS and RTCP), 0 if it has none
thread_cpu () {
  local t
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && cut -d' ' -f1 "$t/schedstat" 2>/dev/null
  done | awk '{ ns += $1 } END { printf "%.6f\n", ns / 1e9 }'
}

# measure KIND VIA COUNT: prints "cpu_seconds_in_window rss_kib pkt/s_per_viewer
# worker_cpu_seconds_in_window"
measure () {
  local kind=$1 via=$2 count=$3 port=$((20000 + RANDOM % 30000)) viewers c0 c1 w0 w1 rss
  n=$((n + 1))
  if [ "$via" != udp ]; then
    [ "$via" = icecam-libsrtp ] && export ICECAM_SRTP=libsrtp
    start_camera "$kind" "$via" "$count" 0
    bench_wait_health cameras 1 >/dev/null
    "$BUILD/bench/bench-viewers" --via icecam --server "$URL" --camera "fan$n" --count "$count" \
      >"$WORK/viewers" 2>&1 &
    viewers=$!
    unset ICECAM_SRTP
  else
    "$BUILD/bench/bench-viewers" --via udp --base-port "$port" --count "$count" \
      >"$WORK/viewers" 2>&1 &
    viewers=$!
    sleep 0.3
    start_camera "$kind" udp "$count" "$port"
  fi
  wait_ready
  sleep 1   # joins are over: keyframes asked for by joining viewers are encoded
  w0=$(thread_cpu "$camera" icecamsink); c0=$(bench_cpu "$camera")
  sleep "$WINDOW"
  c1=$(bench_cpu "$camera"); w1=$(thread_cpu "$camera" icecamsink)
  rss=$(bench_rss_kib "$camera")
  bench_stop "$viewers"
  bench_stop "$camera"
  bench_wait_gone
  echo "$(echo "$c1 - $c0" | bc -l) $rss" \
       "$(sed -n 's/.*pps_per_viewer=\([0-9]*\).*/\1/p' "$WORK/viewers")" \
       "$(echo "$w1 - $w0" | bc -l)"
}

# The rendezvous forgets a camera when its WebSocket closes: wait for that before the next one.
bench_wait_gone () {
  local i
  for i in $(seq 100); do [ "$(bench_health cameras)" = 0 ] && return; sleep 0.05; done
}

for rep in $(seq "$REPS"); do
  order=$COUNTS; [ $((rep % 2)) = 0 ] && order=$(echo "$COUNTS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for count in $order; do
    for kind in $KINDS; do
      for via in $VIAS; do
        read -r cpu rss pps worker <<<"$(measure "$kind" "$via" "$count")"
        echo "$cpu" >>"$WORK/cpu-$kind-$via-$count"; echo "$rss" >>"$WORK/rss-$kind-$via-$count"
        echo "$pps" >>"$WORK/pps-$kind-$via-$count"
        echo "$worker" >>"$WORK/worker-$kind-$via-$count"
        echo "  rep $rep $kind $via $count viewers: cpu ${cpu}s in ${WINDOW}s" \
             "(icecamsink worker ${worker}s), rss $rss KiB, ${pps:-?} pkt/s per viewer" >&2
      done
    done
  done
done

for kind in $KINDS; do
  for icecam in $VIAS; do
    [ "$icecam" = udp ] && continue
    echo
    echo "## $kind, $icecam: sender process CPU over ${WINDOW} s windows and RSS, medians of $REPS"
    echo "| viewers | pkt/s per viewer | $icecam CPU % of a core | vs 1 viewer | $icecam RSS MiB | raw CPU % | vs 1 viewer | raw RSS MiB | $icecam/raw CPU | $icecam worker thread % |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    first=${COUNTS%% *}
    read -r one_i _ <<<"$(bench_stats "$WORK/cpu-$kind-$icecam-$first" %.6f)"
    read -r one_u _ <<<"$(bench_stats "$WORK/cpu-$kind-udp-$first" %.6f)"
    for count in $COUNTS; do
      read -r ci _ <<<"$(bench_stats "$WORK/cpu-$kind-$icecam-$count" %.6f)"
      read -r cu _ <<<"$(bench_stats "$WORK/cpu-$kind-udp-$count" %.6f)"
      read -r ri _ <<<"$(bench_stats "$WORK/rss-$kind-$icecam-$count")"
      read -r ru _ <<<"$(bench_stats "$WORK/rss-$kind-udp-$count")"
      read -r pp _ <<<"$(bench_stats "$WORK/pps-$kind-$icecam-$count" %.0f)"
      read -r wi _ <<<"$(bench_stats "$WORK/worker-$kind-$icecam-$count" %.6f)"
      printf "| %s | %s | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f |\n" "$count" "$pp" \
        "$(echo "$ci * 100 / $WINDOW" | bc -l)" "$(echo "$ci / $one_i" | bc -l)" \
        "$(echo "$ri / 1024" | bc -l)" "$(echo "$cu * 100 / $WINDOW" | bc -l)" \
        "$(echo "$cu / $one_u" | bc -l)" "$(echo "$ru / 1024" | bc -l)" "$(echo "$ci / $cu" | bc -l)" \
        "$(echo "$wi * 100 / $WINDOW" | bc -l)"
    done
  done
done
