# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the bench scripts: where the build is, starting/stopping the rendezvous and a
# camera, and order statistics. Everything runs on 127.0.0.1.

BUILD=${BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build-bench}
export GST_PLUGIN_PATH_1_0=$BUILD/plugins
export GST_REGISTRY_1_0=$BUILD/bench-registry.bin
RENDEZVOUS=$BUILD/src/server/icecam-rendezvous
CAMERA=$BUILD/src/tools/icecam-camera
VIEW=$BUILD/src/tools/icecam-view
WORK=$(mktemp -d /tmp/icecam-bench.XXXXXX)
PIDS=()

bench_cleanup () {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# Starts icecam-rendezvous on a free port; sets URL, HTTP and RV_PID. Every client comes from
# 127.0.0.1 and a benchmark's camera may start sessions faster than any real one: no per-client
# limits.
bench_start_rendezvous () {
  "$RENDEZVOUS" --listen 127.0.0.1:0 --max-connections-per-address 0 --message-rate 0 \
    --max-sessions-per-camera 1000 "$@" >"$WORK/rendezvous.out" 2>"$WORK/rendezvous.err" &
  RV_PID=$!
  PIDS+=("$RV_PID")
  local i
  for i in $(seq 100); do
    URL=$(sed -n 's/.*listening on \(ws:[^ ]*\) .*/\1/p' "$WORK/rendezvous.out")
    [ -n "$URL" ] && break
    sleep 0.05
  done
  HTTP=${URL/ws:/http:}
  HTTP=${HTTP%/ws}
}

# A counter from /healthz, e.g. bench_health cameras
bench_health () {
  curl -s "$HTTP/healthz" | jq -r ".$1"
}

# Waits until the rendezvous counts at least $2 of $1 (cameras, viewers, sessions...).
bench_wait_health () {
  local i
  for i in $(seq 200); do
    [ "$(bench_health "$1")" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for $1 >= $2" >&2
  return 1
}

# bench_start_camera ID [icecam-camera options]: sets CAM_PID once the camera is online.
bench_start_camera () {
  local id=$1 before
  shift
  before=$(bench_health cameras)
  "$CAMERA" --server "$URL" --id "$id" --source test "$@" >"$WORK/camera-$id.out" 2>&1 &
  CAM_PID=$!
  PIDS+=("$CAM_PID")
  bench_wait_health cameras $((before + 1))
}

# bench_in_build BUILD COMMAND...: runs COMMAND (a program or a function of these scripts) with
# BUILD's plugin, e.g. to run another build's programs beside this one's in one run.
bench_in_build () {
  local build=$1
  shift
  GST_PLUGIN_PATH_1_0=$build/plugins GST_REGISTRY_1_0=$build/bench-registry.bin "$@"
}

bench_stop () {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# "median p90 min max n" of the numbers in file $1, nearest rank, printed with format $2
# (default %.1f).
bench_stats () {
  sort -g "$1" | awk -v f="${2:-%.1f}" '{ v[NR] = $1 }
    function rank(p,  r) { r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; return v[r] }
    END { if (NR == 0) { print "nan nan nan nan 0"; exit }
          printf f " " f " " f " " f " %d\n", rank(50), rank(90), v[1], v[NR], NR }'
}

# CPU time of a process's live threads, in seconds, to the nanosecond (the first field of
# /proc/PID/task/*/schedstat; utime+stime in /proc/PID/stat only counts 10 ms ticks). Use it over
# windows in which threads are not created and ended; else bench_cpu_ticks.
bench_cpu () {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.6f\n", ns / 1e9 }'
}

# utime+stime of a process (ended threads included), in seconds
bench_cpu_ticks () {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

bench_rss_kib () {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

bench_machine () {
  echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
       "$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
}
