#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Congestion control and loss repair (issue 16), each side by side with control off in one run:
#   bench/congestion.sh lab [REPS]  (root: the NAT lab of tests/natlab with icecam-link-emulator)
#     1. a camera at --bitrate 2500 --pattern snow behind an 800 kbit/s uplink, 40 ms RTT, a
#        viewer for 30 s: fps, freezes, mean and worst-second delay, kbit/s; with control and
#        with --no-congestion-control;
#     2. the uplink drops from 5 Mbit/s to 800 kbit/s after 15 s: seconds until the link's
#        queue stops overflowing for good (the emulator's drop counter, polled every 250 ms);
#   CASES="uplink drop" (the default) picks the lab cases; BASE_BUILD=DIR adds a third run of
#   each case, with control, by another build's camera (its library and plugin), e.g. the
#   commit before a controller change, in the same run:
#     BASE_BUILD=/tmp/base/build CASES=drop bench/congestion.sh lab 3
#   MODES="yes no" (the default): with control, without (--no-congestion-control).
#   KEEP_LOGS=DIR keeps each run's camera, viewer and link logs there. RUN_SECONDS=N: the
#   800 kbit/s case's viewer watches N s (default 30; longer runs see more probes past the link).
#   bench/congestion.sh cpu [REPS]  (loopback)
#     3. camera CPU with 16 headless viewers (bench-viewers: icecamsrc ! fakesink, which send
#        receiver reports), with control on and with --no-congestion-control; the packet
#        history runs in both (it is what repairs losses).
# Results go to docs/benchmarks.md by hand.
set -u
MODE=${1:-lab}
RUN_SECONDS=${RUN_SECONDS:-30}
REPS=${2:-1}
. "$(dirname "$0")/common.sh"

lab_case () {
  # lab_case NAME CC(yes|no|base) SWITCH(yes|no): prints one result line
  local name=$1 cc=$2 switch=$3 i=0 dir="$LAB_TMP/$1-$2" first fps freezes delay worst kbps
  local opts=() emu=(--ba-rate 800 --ba-delay 20 --ab-delay 20) dropped adapt later
  local camera=("$CAMERA")
  # An id of its own: the last case's camera may still hold its id at the rendezvous (its lab
  # site went, and its close with it), and this one would wait out the id-in-use retries.
  local id="cam-$1-$2"
  mkdir -p "$dir"
  [ "$cc" = no ] && opts=(--no-congestion-control)
  [ "$cc" = base ] && camera=(env "GST_PLUGIN_PATH_1_0=$BASE_BUILD/plugins"
    "GST_REGISTRY_1_0=$BASE_BUILD/bench-registry.bin" "$BASE_BUILD/src/tools/icecam-camera")
  [ "$switch" = yes ] && emu=(--ba-rate 5000 --ba-delay 20 --ab-delay 20 --on-usr1 "ba rate 800")
  lab_site c $i port-restricted && lab_site v $i port-restricted &&
    lab_site_emulate c $i "${emu[@]}" || { echo "$name: lab failed"; return; }
  lab_spawn "c$i" "$dir/camera.log" "${camera[@]}" --verbose --server "$URL" --id "$id" --source test \
    --pattern snow --bitrate 2500 --keyframe-interval 2 "${opts[@]}"
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$dir/camera.log" 'registered with the rendezvous' 15
  lab_spawn "v$i" "$dir/view.log" stdbuf -oL "$VIEW" --server "$URL" --camera "$id" \
    --headless --frames 0 --timeout 30 --stats-interval 1
  VIEWER_PID=$LAB_LAST_PID
  wait_frames_above "$dir/view.log" 0 30 2>/dev/null
  first=$(last_elapsed "$dir/view.log")
  if [ "$switch" = yes ]; then
    sleep 15
    kill -USR1 "$LAB_EMULATOR_PID"
    for _ in $(seq 120); do kill -USR2 "$LAB_EMULATOR_PID"; sleep 0.25; done
  else
    sleep "$RUN_SECONDS"
    kill -USR2 "$LAB_EMULATOR_PID"
    sleep 0.2
  fi
  lab_stop "$VIEWER_PID"
  lab_stop "$CAMERA_PID"
  kill -TERM "$LAB_EMULATOR_PID"; lab_wait_pid_gone "$LAB_EMULATOR_PID" 5
  fps=$(fps_between "$dir/view.log" "$first" $((first + RUN_SECONDS * 1000)))
  freezes=$(summary_field "$dir/view.log" freezes)
  delay=$(summary_field "$dir/view.log" delay_ms)
  worst=$(summary_field "$dir/view.log" max_delay_ms)
  kbps=$(summary_field "$dir/view.log" kbps)
  if [ "$switch" = yes ]; then
    # Until no loss: from the rate switch (the first stats line after "ba rate 800") to the
    # first sample after which the link's queue does not overflow for 2 s; "later" counts the
    # overflows after that (the controller probing upwards again).
    read -r adapt later < <(awk '
      /ba rate 800/ { sw = 1; next }
      sw && /^link-emulator: ba / {
        split($0, f, /[ =]/)
        for (k in f) { if (f[k] == "overflowed") o = f[k + 1]; if (f[k] == "t_ms") t = f[k + 1] }
        n++; T[n] = t; O[n] = o
      }
      END {
        for (i = 1; i <= n; i++) {
          for (j = i; j <= n && T[j] < T[i] + 2000; j++) ;
          if (j <= n && O[j] == O[i]) { printf "%.1f %d\n", (T[i] - T[1]) / 1000, O[n] - O[j]; exit }
        }
        print "never", 0
      }' "$LAB_TMP/c${i}link.log")
    dropped=$(sed -nE 's/^link-emulator: ba .*overflowed=([0-9]+).*/\1/p' \
      "$LAB_TMP/c${i}link.log" | tail -1)
    echo "$name: control=$cc adapt_s=$adapt overflows_after=$later overflowed_total=$dropped fps=$fps freezes=$freezes delay_ms=$delay max_delay_ms=$worst kbps=$kbps"
  else
    dropped=$(sed -nE 's/^link-emulator: ba .*overflowed=([0-9]+).*/\1/p' \
      "$LAB_TMP/c${i}link.log" | tail -1)
    echo "$name: control=$cc fps=$fps freezes=$freezes delay_ms=$delay max_delay_ms=$worst kbps=$kbps overflowed_total=${dropped:-none}"
  fi
  cp "$LAB_TMP/c${i}link.log" "$dir/" 2>/dev/null
  [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp -r "$dir" "$KEEP_LOGS/"
  lab_site_remove c $i
  lab_site_remove v $i
}

run_lab () {
  [ "$(id -u)" = 0 ] || { echo "bench/congestion.sh lab needs root (network namespaces)"; exit 2; }
  export ICECAM_BUILD_DIR=$BUILD
  build=$BUILD
  TURN_SECRET="bench-$$"
  NATLAB_TEST=bench-congestion
  . "$(dirname "$0")/../tests/natlab/lab.sh"
  . "$(dirname "$0")/../tests/natlab/stream.sh"
  lab_init
  setup_lab >/dev/null || { echo "lab failed"; exit 1; }
  local modes
  read -r -a modes <<<"${MODES:-yes no}"
  [ -n "${BASE_BUILD:-}" ] && modes+=(base)
  for rep in $(seq "$REPS"); do
    case " ${CASES:-uplink drop} " in *" uplink "*)
      for cc in "${modes[@]}"; do lab_case "uplink800-$rep" "$cc" no; done ;;
    esac
    case " ${CASES:-uplink drop} " in *" drop "*)
      for cc in "${modes[@]}"; do lab_case "drop5000to800-$rep" "$cc" yes; done ;;
    esac
  done
}

run_cpu () {
  local viewers cpu0 cpu1
  bench_machine
  bench_start_rendezvous
  for rep in $(seq "$REPS"); do
    for mode in on off; do
      local opts=()
      [ "$mode" = off ] && opts=(--no-congestion-control)
      "$CAMERA" --server "$URL" --id "cc$rep$mode" --source test --max-viewers 64 \
        "${opts[@]}" >/dev/null 2>&1 &
      camera=$!
      bench_wait_health cameras 1 >/dev/null
      "$BUILD/bench/bench-viewers" --via icecam --server "$URL" --camera "cc$rep$mode" \
        --count 16 >"$WORK/viewers" 2>&1 &
      viewers=$!
      for _ in $(seq 400); do grep -q "^viewers: ready" "$WORK/viewers" && break; sleep 0.05; done
      sleep 2
      cpu0=$(bench_cpu "$camera"); sleep 5; cpu1=$(bench_cpu "$camera")
      echo "cpu rep $rep control=$mode: $(echo "($cpu1 - $cpu0) * 100 / 5" | bc -l | xargs printf %.1f)% of a core"
      echo "$cpu1 - $cpu0" | bc -l >>"$WORK/cpu-$mode"
      bench_stop "$viewers"
      bench_stop "$camera"
      for _ in $(seq 100); do [ "$(bench_health cameras)" = 0 ] && break; sleep 0.05; done
    done
  done
  read -r on _ <<<"$(bench_stats "$WORK/cpu-on" %.6f)"
  read -r off _ <<<"$(bench_stats "$WORK/cpu-off" %.6f)"
  echo "median over $REPS: control on $(echo "$on * 20" | bc -l | xargs printf %.1f)%," \
    "off $(echo "$off * 20" | bc -l | xargs printf %.1f)%, on/off $(echo "$on / $off" | bc -l | xargs printf %.3f)"
}

case $MODE in
  lab) run_lab ;;
  cpu) run_cpu ;;
  *) echo "usage: bench/congestion.sh lab|cpu [REPS]" >&2; exit 2 ;;
esac
