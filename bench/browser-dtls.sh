#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The DTLS phase with a receiver that speaks first: headless Chromium (bench/browser-ttff.py)
# watches this build's icecam-camera and OTHER_BUILD's on one rendezvous, taking turns. A
# browser sends its ClientHello as soon as its own ICE check succeeds, before the camera (the
# controlling agent) has selected a pair; a camera that drops its reply waits for a DTLS
# retransmission. Prints, per build, ICE connected -> DTLS connected and page start -> first
# frame in the browser, and pair selected -> DTLS connected in the camera's log.
# Usage: bench/browser-dtls.sh OTHER_BUILD [RUNS]   (default 15; BUILD as in common.sh)
#   e.g. bench/browser-dtls.sh ../before/build-bench 15   (a build made as in ttff-compare.sh)
# Needs chromium and python3-websockets (scripts/setup.sh bench). Runs 1 warm-up page per camera
# first; PAUSE (s) between pages, HOLD (s) of playing before the browser's counters are read,
# KEEP=DIR keeps the runs (runs.json: every page's log and counters), the cameras' logs and
# chromium's stderr in DIR.
set -u
. "$(dirname "$0")/common.sh"
OTHER=$(cd "${1:?usage: bench/browser-dtls.sh OTHER_BUILD [RUNS]}" && pwd)
RUNS=${2:-15}
PAUSE=${PAUSE:-0.6}   # between pages: more than the camera's 200 ms keyframe-request merge
HOLD=${HOLD:-1}

bench_machine
echo "this build: $BUILD; other build: $OTHER"
bench_start_rendezvous
# Logged: the camera's pair selection and DTLS state (and, in builds that have it, the DTLS
# datagrams that waited for the pair).
G_MESSAGES_DEBUG=icecam bench_start_camera this --keyframe-interval 10 \
  --certificate "$WORK/this.pem"
G_MESSAGES_DEBUG=icecam CAMERA=$OTHER/src/tools/icecam-camera bench_in_build "$OTHER" \
  bench_start_camera other --keyframe-interval 10 --certificate "$WORK/other.pem"
sleep 1

"$(dirname "$0")/browser-ttff.py" --rendezvous "$URL" --camera this --camera other \
  --runs "$RUNS" --pause "$PAUSE" --hold "$HOLD" --json "$WORK/runs.json" \
  --chromium-log "$WORK/chromium.log" >"$WORK/runs" &
PIDS+=($!)
wait $!

# Per session in a camera's log: session, pair selected, DTLS connected (ms of the day), DTLS
# datagrams queued before the pair. Sessions follow one another, so lines belong to the latest.
camera_sessions () { # camera-id
  awk 'function ms(  t) { match($0, /[0-9]+:[0-9]+:[0-9]+\.[0-9]+/)
                          split(substr($0, RSTART, RLENGTH), t, ":")
                          return (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }
       / session [0-9a-f]+ for / && /icecam-INFO/ { match($0, / session [0-9a-f]+ /)
                          s = substr($0, RSTART + 9, RLENGTH - 10); n[s] = 0; order[++k] = s }
       s != "" && /ice-session .*: selected / && !(s in sel) { sel[s] = ms() }
       s != "" && /dtls-srtp server .*: connecting -> connected/ && !(s in dtls) { dtls[s] = ms() }
       s != "" && /no pair yet: .*DTLS datagram queued/ { n[s]++ }
       END { for (i = 1; i <= k; i++) { s = order[i]
               print s, (s in sel) ? sel[s] : -1, (s in dtls) ? dtls[s] : -1, n[s] } }' \
    "$WORK/camera-$1.out"
}

# Columns of browser-ttff.py: 1 run, 2 camera, 3 result, 4 session, 8 ice_connected,
# 10 dtls_connected, 11 frame (ms since the page's start), 14 keyframes_decoded, 15 pli,
# 20 chromium_log_lines.
browser_column () { # camera-id, end column, start column (0: the value itself)
  awk -v c="$1" -v e="$2" -v s="$3" \
    '$1 !~ /^#/ && $2 == c && $3 == "ok" && $e != "-" && (s == 0 || $s != "-") { print $e - (s ? $s : 0) }' \
    "$WORK/runs" >"$WORK/col"
  bench_stats "$WORK/col"
}

# The camera's sessions of the counted runs (not the warm-up).
camera_column () { # camera-id, what: dtls (pair -> DTLS connected) or queued; [format]
  camera_sessions "$1" >"$WORK/sessions-$1"
  awk -v c="$1" '$1 !~ /^#/ && $2 == c { print $4 }' "$WORK/runs" >"$WORK/counted"
  awk -v w="$2" 'NR == FNR { counted[$1] = 1; next }
                 ($1 in counted) && $2 >= 0 && $3 >= 0 { print (w == "dtls") ? $3 - $2 : $4 }' \
    "$WORK/counted" "$WORK/sessions-$1" >"$WORK/col"
  bench_stats "$WORK/col" "${3:-%.1f}"
}

row () { # build label, phase, stats "median p90 min max n"
  local med p90 min max n
  read -r med p90 min max n <<<"$3"
  echo "| $1 | $2 | $med | $p90 | $min | $max | $n |"
}

echo
echo "## Chromium watching each build's camera, $RUNS runs each, taking turns (ms)"
echo "| build | phase | median | p90 | min | max | n |"
echo "|---|---|---|---|---|---|---|"
for id in this other; do
  row "$id" "browser: ICE connected -> DTLS connected" "$(browser_column "$id" 10 8)"
  row "$id" "browser: page start -> first frame" "$(browser_column "$id" 11 0)"
  row "$id" "camera: pair selected -> DTLS connected" "$(camera_column "$id" dtls)"
done

echo
echo "## per run (medians; counters after ${HOLD} s of playing)"
echo "| build | runs ok / failed | runs whose DTLS phase took > 200 ms | DTLS datagrams queued before the pair, per session (min-max) | keyframes decoded | PLIs sent | chromium stderr lines |"
echo "|---|---|---|---|---|---|---|"
for id in this other; do
  ok=$(awk -v c="$id" '$1 !~ /^#/ && $2 == c && $3 == "ok"' "$WORK/runs" | wc -l)
  failed=$(awk -v c="$id" '$1 !~ /^#/ && $2 == c && $3 != "ok"' "$WORK/runs" | wc -l)
  browser_column "$id" 10 8 >/dev/null
  slow=$(awk '$1 > 200' "$WORK/col" | wc -l)
  read -r queued _ qmin qmax _ <<<"$(camera_column "$id" queued %d)"
  read -r keyframes _ <<<"$(browser_column "$id" 14 0)"
  read -r plis _ <<<"$(browser_column "$id" 15 0)"
  read -r lines _ <<<"$(browser_column "$id" 20 0)"
  echo "| $id | $ok / $failed | $slow | $queued ($qmin-$qmax) | $keyframes | $plis | $lines |"
done
echo "(queued: from the camera's debug log; a build older than that log line shows 0 whatever it did)"

echo
echo "## runs"
cat "$WORK/runs"
grep -q ' failed ' "$WORK/runs" &&
  echo "(some runs failed: KEEP=DIR keeps every page's log, the cameras' logs and chromium's)"
# Without the launcher's own noise: no D-Bus here, and /usr/bin/chromium's test of the memory size.
echo "chromium's stderr, lines by kind:"
sed -E 's/^\[[0-9:\/.]+:([A-Z]+:[^]:]*)[^]]*\] ?/\1 /; s/\b[0-9]+\b/N/g' "$WORK/chromium.log" |
  grep -v -e '^[A-Z]*:dbus/' -e '^DevTools listening' -e '^/usr/bin/chromium: ' -e '^$' |
  sort | uniq -c | sort -rn | head -8
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && cp "$WORK"/runs "$WORK"/runs.json "$WORK"/camera-*.out "$WORK"/chromium.log "$KEEP"/
fi
exit 0
