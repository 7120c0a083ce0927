#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak: one camera for a long time while viewers join and leave every few seconds; reports the
# camera's and the rendezvous's memory over time. Loopback only. (docs/benchmarks.md, 6. Soak)
# Usage: bench/soak.sh [SECONDS (default 1800)] [VIEWERS AT ONCE (default 3)]
#   SOAK_WRAPPER="valgrind --leak-check=full --error-exitcode=3" bench/soak.sh 300   (leaks)
#   ICECAM_BUILD_DIR=... to use another build tree (an ASan one, say; set ASAN_OPTIONS etc. as
#     scripts/sanitize.sh does, with LSAN_OPTIONS=...:print_suppressions=1 to see what the
#     suppressions matched; docs/benchmarks.md, 6. Soak, has the commands)
#   SOAK_LOG_DIR=DIR keeps the camera's and the rendezvous's logs (leak stacks) in DIR, and those
#     of the viewers that failed (DIR/viewers/N.log)
# At the end the camera, then the rendezvous, get SIGINT and stop cleanly, so that the wrapper or
# LeakSanitizer reports at exit; their summaries are printed as '#' lines.
# Exit status: 0 when the camera ran to the end and exited 0 (a wrapper's or LeakSanitizer's
# error status comes through), 1 otherwise. Viewer failures are counted, not fatal.
set -u
duration=${1:-1800}
parallel=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_BUILD_DIR:-$top/build}
if [ -n "${SOAK_LOG_DIR:-}" ]; then
  mkdir -p "$SOAK_LOG_DIR" && logs=$(cd "$SOAK_LOG_DIR" && pwd) || exit 1
  keep_logs=1
else
  logs=$(mktemp -d)
  keep_logs=0
fi
camera=""
rendezvous=""
viewers=()
cleanup() {
  for p in "${viewers[@]}" $camera $rendezvous; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "$keep_logs" = 1 ] || rm -rf "$logs"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Open file descriptors and threads: a leaked socket or agent shows here before it shows in RSS.
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
thread_count() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# Sends SIGINT to $1 and waits up to $2 s (a leak check at exit under valgrind takes a while),
# then SIGKILL. Sets stop_rc to the exit status, or "killed". Not in $(...): only this shell
# can wait for its children.
is_running() {
  kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
stop_process() {
  local pid=$1 limit=$2
  kill -INT "$pid" 2>/dev/null
  for _ in $(seq $((limit * 10))); do is_running "$pid" || break; sleep 0.1; done
  if is_running "$pid"; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    stop_rc=killed
  else
    wait "$pid"
    stop_rc=$?
  fi
}

# The summary lines of valgrind's and LeakSanitizer's reports in log $1, prefixed with $2, and
# LeakSanitizer's table of suppressed leaks (LSAN_OPTIONS=print_suppressions=1).
leak_summary() {
  awk -v who="$2" '
    /definitely lost|indirectly lost|possibly lost|ERROR SUMMARY/ ||
    /SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer|ERROR: (Address|Leak)Sanitizer/ ||
    /runtime error/ { print "# " who ": " $0; next }
    /^Suppressions used:/ { table = 1; next }
    table && /^ *[0-9]+ +[0-9]+ / { print "# " who ": suppressed: " $0; next }
    table && !/^ *count/ { table = 0 }' "$1"
}

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$logs/rendezvous.log" 2>&1 &
rendezvous=$!
for _ in $(seq 200); do grep -q 'listening on' "$logs/rendezvous.log" && break; sleep 0.05; done
url=$(grep -oE 'ws://[0-9.]+:[0-9]+/[^ ]*' "$logs/rendezvous.log" | head -1)
if [ -z "$url" ]; then
  echo "soak: the rendezvous did not start:" >&2
  cat "$logs/rendezvous.log" >&2
  exit 1
fi

# shellcheck disable=SC2086
${SOAK_WRAPPER:-} "$build/src/tools/icecam-camera" --server "$url" --id soak --source test \
  --keyframe-interval 10 >"$logs/camera.log" 2>&1 &
camera=$!
for _ in $(seq 600); do grep -q 'streaming' "$logs/camera.log" && break; sleep 0.1; done
if ! grep -q 'streaming' "$logs/camera.log"; then
  echo "soak: the camera did not start streaming within 60 s:" >&2
  tail -20 "$logs/camera.log" >&2
  exit 1
fi
# "streaming" is printed once the pipeline plays; the camera registers with the rendezvous after
# that (seconds later under valgrind), and a viewer that came first would be refused.
health=${url/ws:/http:}
health=${health%/ws}/healthz
for _ in $(seq 600); do
  curl -s "$health" | grep -qE '"cameras" *: *[1-9]' && break
  sleep 0.1
done
if ! curl -s "$health" | grep -qE '"cameras" *: *[1-9]'; then
  echo "soak: the camera did not register with the rendezvous within 60 s:" >&2
  tail -20 "$logs/camera.log" >&2
  exit 1
fi
# With a wrapper that forks, the camera is the wrapper's child: measure the real process.
cam_pid=$(pgrep -P "$camera" -f icecam-camera | head -1)
[ -n "$cam_pid" ] && [ -d "/proc/$cam_pid" ] || cam_pid=$camera

# A viewer's log is kept only when it failed (exit status other than 0).
mkdir -p "$logs/viewers"
declare -A viewer_log=()
reap_viewer() {
  if wait "$1"; then rm -f "${viewer_log[$1]}"
  else failed=$((failed + 1)); fi
  unset "viewer_log[$1]"
}

# Growth per hour from two samples: $1 KiB more over $2 seconds.
per_hour() { [ "$2" -gt 0 ] && echo $(( $1 * 3600 / $2 )) || echo n/a; }

start=$SECONDS
joined=0
failed=0
camera_died=0
echo "time_s camera_rss_kib rendezvous_rss_kib viewers_joined viewer_failures" \
     "camera_fds camera_threads rendezvous_fds"
warm_rss="" warm_rv_rss="" warm_t="" warm_fds="" warm_threads="" warm_rv_fds=""
rss="" rv_rss="" t=0
next_sample=0
samples=$logs/samples.txt
: >"$samples"
while :; do
  t=$((SECONDS - start))
  if ! is_running "$camera"; then
    camera_died=1
    echo "soak: the camera exited after ${t} s" >&2
    break
  fi
  # Keep $parallel viewers, each watching 2-6 s worth of frames, then leaving.
  alive=()
  for v in "${viewers[@]}"; do
    if kill -0 "$v" 2>/dev/null; then alive+=("$v")
    else reap_viewer "$v"; fi
  done
  viewers=("${alive[@]}")
  while [ ${#viewers[@]} -lt "$parallel" ]; do
    joined=$((joined + 1))
    "$build/src/tools/icecam-view" --server "$url" --camera soak --headless \
      --frames $((60 + RANDOM % 120)) --timeout 20 >"$logs/viewers/$joined.log" 2>&1 &
    viewers+=($!)
    viewer_log[$!]=$logs/viewers/$joined.log
  done
  # The last sample is taken as the others are, just after the viewers were topped up.
  [ "$t" -ge "$duration" ] && next_sample=$t
  if [ "$t" -ge "$next_sample" ]; then
    rss=$(rss_kib "$cam_pid")
    rv_rss=$(rss_kib "$rendezvous")
    fds=$(fd_count "$cam_pid") threads=$(thread_count "$cam_pid") rv_fds=$(fd_count "$rendezvous")
    # The first sample after 30 s of joins and leaves is the baseline: caches, the encoder
    # and GStreamer's pools are warm by then.
    if [ -z "$warm_rss" ] && [ "$t" -ge 30 ]; then
      warm_rss=$rss warm_rv_rss=$rv_rss warm_t=$t
      warm_fds=$fds warm_threads=$threads warm_rv_fds=$rv_fds
    fi
    echo "$t $rss $rv_rss $joined $failed $fds $threads $rv_fds"
    [ -n "$warm_t" ] && echo "$t $rss $rv_rss" >>"$samples"
    next_sample=$((next_sample + 30))
  fi
  [ "$t" -ge "$duration" ] && break
  sleep 0.5
done
for v in "${viewers[@]}"; do reap_viewer "$v"; done
viewers=()
idle_rss=$(rss_kib "$cam_pid")
stop_process "$camera" 600
camera_rc=$stop_rc
camera=""
stop_process "$rendezvous" 120
rv_rc=$stop_rc
rendezvous=""

# Least-squares slope of RSS over the samples after warm-up, in KiB per hour: less sensitive
# to where the last sample fell in the allocator's cycle than end minus warm-up.
slope() {
  awk -v col="$1" '{ n++; sx += $1; sy += $col; sxx += $1 * $1; sxy += $1 * $col }
    END { d = n * sxx - sx * sx; if (n < 3 || d == 0) print "n/a";
          else printf "%.0f\n", (n * sxy - sx * sy) / d * 3600 }' "$samples"
}
elapsed=$(( t - ${warm_t:-$t} ))
# The camera's own count of sessions started, to check viewers_joined against.
sessions=$(sed -n 's/.*stopped sessions=\([0-9]*\).*/\1/p' "$logs/camera.log")
echo "# duration_s=$t viewers_at_once=$parallel viewers_joined=$joined viewer_failures=$failed" \
     "camera_sessions=${sessions:-n/a} camera_exit=$camera_rc rendezvous_exit=$rv_rc${SOAK_WRAPPER:+ wrapper=\"$SOAK_WRAPPER\"}"
echo "# camera: rss_after_warmup_kib=${warm_rss:-n/a} (t=${warm_t:-n/a}) rss_end_kib=$rss" \
     "rss_idle_end_kib=$idle_rss growth_kib=$(( rss - ${warm_rss:-$rss} ))" \
     "growth_kib_per_h=$(per_hour $(( rss - ${warm_rss:-$rss} )) "$elapsed")" \
     "slope_kib_per_h=$(slope 2)" \
     "fds=${warm_fds:-n/a}->$fds threads=${warm_threads:-n/a}->$threads"
echo "# rendezvous: rss_after_warmup_kib=${warm_rv_rss:-n/a} rss_end_kib=$rv_rss" \
     "growth_kib=$(( rv_rss - ${warm_rv_rss:-$rv_rss} ))" \
     "growth_kib_per_h=$(per_hour $(( rv_rss - ${warm_rv_rss:-$rv_rss} )) "$elapsed")" \
     "slope_kib_per_h=$(slope 3) fds=${warm_rv_fds:-n/a}->$rv_fds"
leak_summary "$logs/camera.log" camera
leak_summary "$logs/rendezvous.log" rendezvous
[ "$keep_logs" = 1 ] && echo "# logs: $logs"
[ "$camera_died" = 0 ] && [ "$camera_rc" = 0 ]
