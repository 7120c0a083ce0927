# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034,SC2016,SC2015,SC2154  # variables of the sourcing script
# What the streaming NAT lab tests (test-recovery.sh, test-reboot.sh) share, sourced after
# lab.sh: TAP counters, the lab with coturn and the rendezvous, one camera and one viewer per
# case in a slot of port-restricted sites, and the viewer's progress lines. The sourcing
# script sets build (the build directory), NATLAB_TEST (its name, for the kept logs) and
# TURN_SECRET; setup_lab sets URL. ICECAM_NATLAB_RENDEZVOUS_ARGS adds options to the rendezvous
# (e.g. "--keepalive-interval 1 --silence-limit 3" to see a ghost connection go sooner).

failures=0
tests=0

tap_ok() { tests=$((tests + 1)); echo "ok $tests - $*"; }
tap_not_ok() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $*"; }
tap_check() {
  local what=$1
  shift
  if "$@"; then tap_ok "$what"; else tap_not_ok "$what"; fi
}

check_tools() {
  local t missing=
  for t in ip nft ss conntrack sysctl turnserver stdbuf awk python3; do
    command -v "$t" >/dev/null || missing="$missing $t"
  done
  for t in server/icecam-rendezvous tools/icecam-camera tools/icecam-view; do
    [ -x "$build/src/$t" ] || missing="$missing $build/src/$t"
  done
  [ -z "$missing" ] && return 0
  echo "Bail out! missing:$missing"
  return 1
}

setup_lab() {
  local secret_file="$LAB_TMP/turn-secret"
  lab_internet || return 1
  lab_coturn_start "$TURN_SECRET" || { cat "$LAB_TMP/coturn/turnserver.log"; return 1; }
  printf '%s\n' "$TURN_SECRET" >"$secret_file"
  # shellcheck disable=SC2086  # ICECAM_NATLAB_RENDEZVOUS_ARGS: extra options, split on spaces
  lab_rendezvous_start "$LAB_TMP/rendezvous.log" --verbose \
    --turn-server "turn:$LAB_TURN_IP1:$LAB_TURN_PORT?transport=udp" \
    --turn-secret-file "$secret_file" --turn-ttl 600 --allow-anonymous-relay ${ICECAM_NATLAB_RENDEZVOUS_ARGS:-} || return 1
  URL=$LAB_RENDEZVOUS_URL
  echo "# rendezvous at $URL, coturn at $LAB_TURN_IP1${ICECAM_NATLAB_RENDEZVOUS_ARGS:+ (with $ICECAM_NATLAB_RENDEZVOUS_ARGS)}"
}

# ---- the viewer's progress lines ------------------------------------------------------------

# "FRAMES ELAPSED_MS" per progress line of the viewer log $1.
progress() {
  [ -f "$1" ] || return 0
  sed -nE 's/^icecam-view: progress frames=([0-9]+) elapsed_ms=([0-9]+).*/\1 \2/p' "$1"
}

# Field $2 (e.g. max_gap_ms) of the viewer's summary line in log $1; empty if there is none.
summary_field() {
  grep -E '^icecam-view: result=' "$1" 2>/dev/null | tail -1 | grep -oE " $2=[^ ]+" | cut -d= -f2
}

# (0 before the first progress line)
last_frames() { progress "$1" | tail -1 | awk '{ n = $1 } END { print n + 0 }'; }
last_elapsed() { progress "$1" | tail -1 | awk '{ n = $2 } END { print n + 0 }'; }

# Waits until the viewer (log $1) decoded at least $2 frames and its last $3 progress lines
# all increased; at most $4 s.
wait_steady() {
  local log=$1 min=$2 n=$3 deadline=$((SECONDS + $4))
  while [ $SECONDS -lt $deadline ]; do
    if progress "$log" | tail -$((n + 1)) | awk -v min="$min" -v n="$n" '
        NR > 1 && $1 > prev { up++ } { prev = $1; rows++ }
        END { exit !(rows == n + 1 && up == n && prev >= min) }'; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Waits until the viewer (log $1) shows more than $2 frames; at most $3 s.
wait_frames_above() {
  local log=$1 n=$2 deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(last_frames "$log")" -gt "$n" ] && return 0
    sleep 0.2
  done
  return 1
}

# Waits until the viewer (log $1) stalls (two progress lines in a row with the same frame
# count) or the camera (log $2) has logged more than $3 ICE restarts; at most $4 s.
wait_stall_or_restart() {
  local deadline=$((SECONDS + $4))
  while [ $SECONDS -lt $deadline ]; do
    progress "$1" | tail -2 | awk '{ f[NR] = $1 } END { exit !(NR == 2 && f[1] == f[2]) }' &&
      return 0
    [ "$(grep -cE '^icecam-camera: session .* path lost, restarting ICE' "$2")" -gt "$3" ] &&
      return 0
    sleep 0.2
  done
  return 1
}

# The longest time (ms) between two progress lines with new frames, among progress lines whose
# elapsed_ms lies in [$2, $3] of viewer log $1.
longest_stall_ms() {
  progress "$1" | awk -v from="$2" -v to="$3" '
    $2 < from || $2 > to { next }
    !seen { seen = 1; last_t = $2; last_f = $1; next }
    $1 > last_f { if ($2 - last_t > worst) worst = $2 - last_t; last_t = $2; last_f = $1; next }
    { if ($2 - last_t > worst) worst = $2 - last_t }
    END { print worst + 0 }'
}

# Frames per second in viewer log $1 between the progress lines nearest elapsed_ms $2 and $3.
fps_between() {
  progress "$1" | awk -v from="$2" -v to="$3" '
    $2 >= from && !a { a = 1; f0 = $1; t0 = $2 }
    $2 <= to { f1 = $1; t1 = $2 }
    END { if (a && t1 > t0) printf "%.1f\n", (f1 - f0) * 1000 / (t1 - t0); else print 0 }'
}

# ---- one case's endpoints -------------------------------------------------------------------

# Camera "cam$1" in namespace $2, log in dir $3, extra options "${@:4}"; waits until it
# registered.
start_camera() {
  lab_spawn "$2" "$3/camera.log" "$build/src/tools/icecam-camera" --server "$URL" \
    --id "cam$1" --source test --keyframe-interval 10 --verbose "${@:4}"
  CAMERA_PID=$LAB_LAST_PID
  lab_wait_line "$3/camera.log" 'registered with the rendezvous' 15
}

# Viewer of "cam$1" in namespace $2, log in dir $3, until it decoded $4 frames (default 0:
# until it is stopped).
start_viewer() {
  lab_spawn "$2" "$3/view.log" env GST_DEBUG=icecamsrc:4 GST_DEBUG_NO_COLOR=1 \
    stdbuf -oL "$build/src/tools/icecam-view" --server "$URL" --camera "cam$1" --headless \
    --frames "${4:-0}" --timeout 30 --stats-interval 1 --verbose
  VIEWER_PID=$LAB_LAST_PID
}

# Sets up slot $1 (port-restricted camera and viewer NATs), starts both ends and waits until
# the viewer decodes steadily. $2 is the case's directory, $3 the frames the viewer asks for
# (default 0: until stopped).
start_case() {
  local i=$1 dir=$2 frames=${3:-0}
  lab_site c "$i" port-restricted && lab_site v "$i" port-restricted || {
    tap_not_ok "lab sites for slot $i"
    return 1
  }
  start_camera "$i" "c$i" "$dir" || { tap_not_ok "camera cam$i registers"; return 1; }
  start_viewer "$i" "v$i" "$dir" "$frames"
  if ! wait_steady "$dir/view.log" 30 3 30; then
    tap_not_ok "cam$i: the viewer decodes steadily ($(last_frames "$dir/view.log") frames)"
    return 1
  fi
  return 0
}

stop_case() {
  local i=$1 name=$2 dir=$3 before=$4
  [ -n "${VIEWER_PID:-}" ] && lab_stop "$VIEWER_PID"
  [ -n "${CAMERA_PID:-}" ] && lab_stop "$CAMERA_PID"
  VIEWER_PID='' CAMERA_PID=''
  grep -E '^icecam-camera: session ' "$dir/camera.log" 2>/dev/null | sed "s/^/# $name: /"
  if [ "$failures" != "$before" ] || [ "${ICECAM_NATLAB_KEEP_LOGS:-0}" = 1 ]; then
    local dest="$build/natlab-logs/$NATLAB_TEST-$name"
    rm -rf "$dest"
    mkdir -p "$dest" && cp -r "$dir"/. "$dest"/
    cp "$LAB_TMP/rendezvous.log" "$dest"/ 2>/dev/null
    echo "# $name: logs in $dest"
  fi
  lab_site_remove c "$i"
  lab_site_remove v "$i"
}

# The public UDP ports the NAT namespace $1 currently maps for its LAN (conntrack's reply
# destination ports), space-separated.
mapped_ports() {
  lab_exec "$1" conntrack -L -p udp 2>/dev/null |
    awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { n++; if (n == 2) print substr($i, 7) } }' |
    sort -un | tr '\n' ' '
}

session_ids() {
  sed -nE 's/^icecam-camera: session ([^ ]+) for .*/\1/p' "$1" | sort -u
}
