#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak: one camera for a long time while viewers join and leave every few seconds; reports the
# camera's memory over time. Loopback only.
# Usage: bench/soak.sh [SECONDS (default 1800)] [VIEWERS AT ONCE (default 3)]
#   SOAK_WRAPPER="valgrind --leak-check=full --error-exitcode=3" bench/soak.sh 300   (leaks)
#   ICECAM_BUILD_DIR=... to use another build tree (an ASan one, say)
set -u
duration=${1:-1800}
parallel=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_BUILD_DIR:-$top/build}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

"$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rv.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q 'listening on' "$tmp/rv.log" && break; sleep 0.05; done
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv.log" | head -1)

# shellcheck disable=SC2086
${SOAK_WRAPPER:-} "$build/src/tools/icecam-camera" --server "$url" --id soak --source test \
  --keyframe-interval 10 >"$tmp/cam.log" 2>&1 &
camera=$!
for _ in $(seq 600); do grep -q 'streaming' "$tmp/cam.log" && break; sleep 0.1; done
# With a wrapper the camera is the wrapper's child: measure the real process.
cam_pid=$(pgrep -P "$camera" -f icecam-camera || echo "$camera")
[ -d "/proc/$cam_pid" ] || cam_pid=$camera

start=$SECONDS
joined=0
failed=0
declare -a viewers=()
echo "time_s camera_rss_kib viewers_joined viewer_failures"
warm_rss=""
next_sample=0
while [ $((SECONDS - start)) -lt "$duration" ]; do
  # Keep $parallel viewers, each watching 2-6 s worth of frames, then leaving.
  alive=()
  for v in "${viewers[@]}"; do
    if kill -0 "$v" 2>/dev/null; then alive+=("$v")
    else wait "$v" || failed=$((failed + 1)); fi
  done
  viewers=("${alive[@]}")
  while [ ${#viewers[@]} -lt "$parallel" ]; do
    "$build/src/tools/icecam-view" --server "$url" --camera soak --headless \
      --frames $((60 + RANDOM % 120)) --timeout 20 >/dev/null 2>&1 &
    viewers+=($!)
    joined=$((joined + 1))
  done
  if [ $((SECONDS - start)) -ge $next_sample ]; then
    rss=$(rss_kib "$cam_pid")
    # The first sample after 30 s of joins and leaves is the baseline: caches, the encoder
    # and GStreamer's pools are warm by then.
    [ -z "$warm_rss" ] && [ $((SECONDS - start)) -ge 30 ] && warm_rss=$rss
    echo "$((SECONDS - start)) $rss $joined $failed"
    next_sample=$((next_sample + 30))
  fi
  sleep 0.5
done
for v in "${viewers[@]}"; do wait "$v" || failed=$((failed + 1)); done
end_rss=$(rss_kib "$cam_pid")
kill -INT "$camera"; wait "$camera"; camera_rc=$?
echo "# duration_s=$duration viewers_joined=$joined viewer_failures=$failed" \
     "rss_after_warmup_kib=${warm_rss:-n/a} rss_end_kib=$end_rss" \
     "growth_kib=$(( end_rss - ${warm_rss:-$end_rss} )) camera_exit=$camera_rc"
if [ -n "${SOAK_WRAPPER:-}" ]; then
  grep -E "definitely lost|indirectly lost|ERROR SUMMARY" "$tmp/cam.log" | sed 's/^/# /'
fi
