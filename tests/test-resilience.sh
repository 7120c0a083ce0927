#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Staying up, on loopback with the real commands: the rendezvous dies mid-stream and the viewer
# keeps decoding; it comes back on the same port and the camera registers again by itself; a
# viewer is killed and the camera frees its session (consent freshness); the camera vanishes and
# a viewer says so and keeps trying until it is back (or exits, with --no-retry). Prints the
# figures.
set -u
build=${ICECAM_BUILD_DIR:?}
TEST_KILL_SIGNAL=KILL
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { cp "$tmp/cam.log" "$tmp/view.log" /tmp/; }

# The frames the viewer logging to $1 (default view.log) decoded so far, from its progress lines.
frames() { grep -oE 'progress frames=[0-9]+' "${1:-$tmp/view.log}" | tail -1 | grep -oE '[0-9]+$' || echo 0; }

# Waits until the viewer's progress (log $3, default view.log) shows at least $1 frames, for at
# most $2 seconds.
wait_for_frames() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(frames "${3:-}")" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

start_rendezvous() {
  "$build/src/server/icecam-rendezvous" --listen "127.0.0.1:$1" >"$tmp/rv.log" 2>&1 &
  rv=$!
  pids+=($rv)
  wait_for_line "$tmp/rv.log" 'listening on ws://' 10
}

: >"$tmp/rv.log"
start_rendezvous 0 || { cat "$tmp/rv.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rv.log" | head -1)
port=${url##*:}

"$build/src/tools/icecam-camera" --server "$url" --id shelf --source test >"$tmp/cam.log" 2>&1 &
camera=$!
pids+=($camera)
wait_for_line "$tmp/cam.log" 'streaming' 10
"$build/src/tools/icecam-view" --server "$url" --camera shelf --headless --stats-interval 1 ${VIEW_ARGS:-} \
  >"$tmp/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_frames 30 15 && pass "viewer decodes" || { fail "viewer decodes"; cat "$tmp/view.log"; exit 1; }

# 1. The rendezvous dies (SIGKILL: no goodbyes). Media does not need it.
kill -9 "$rv"; wait "$rv" 2>/dev/null
at_kill=$(frames)
killed_ms=$(now_ms)
if wait_for_frames $((at_kill + 90)) 10; then
  pass "viewer decoded $(( $(frames) - at_kill )) frames with the rendezvous down"
else
  fail "viewer stalled with the rendezvous down (frames $at_kill -> $(frames))"
fi

# 2. It comes back on the same port; the camera registers again by itself.
restart_ms=$(now_ms)
start_rendezvous "$port" || fail "rendezvous restarts on port $port"
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ] && [ "$(healthz_cameras "$port")" != "1" ]; do sleep 0.05; done
if [ "$(healthz_cameras "$port")" = "1" ]; then
  pass "camera listed again $(( $(now_ms) - restart_ms )) ms after the restart (outage $(( restart_ms - killed_ms )) ms)"
else
  fail "camera not listed again within 20 s"
fi
before=$(frames)
wait_for_frames $((before + 30)) 10 && pass "viewer still decoding after the restart" \
  || fail "viewer stopped after the restart"
kill -0 "$viewer" 2>/dev/null && pass "viewer never gave up" || fail "viewer exited"
# The last word on each side is that it is up again, not the warning of the outage.
wait_for_line "$tmp/cam.log" "^icecam-camera: camera 'shelf' registered again with the rendezvous " 10
last=$(grep -v ' session ' "$tmp/cam.log" | tail -1)
echo "$last" | grep -q "registered again with the rendezvous" \
  && grep -q "warning: Lost the icecam rendezvous" "$tmp/cam.log" \
  && pass "camera: a warning for the outage, then: $last" || fail "camera's last line: $(cat "$tmp/cam.log")"
last=$(grep -v 'progress' "$tmp/view.log" | tail -1)
echo "$last" | grep -q "^icecam-view: watching camera 'shelf'" && ! grep -qiE "warning|icecam-Message" "$tmp/view.log" \
  && pass "viewer: no stale warning, last line: $last" || fail "viewer's lines: $(grep -v progress "$tmp/view.log")"

# 3. The viewer dies without a word; consent freshness tells the camera.
ended_before=$(grep -c 'ended: ' "$tmp/cam.log")
[ "$ended_before" -eq 0 ] && pass "no session ended so far" || fail "sessions ended early: $(grep 'ended: ' "$tmp/cam.log")"
kill -9 "$viewer"; wait "$viewer" 2>/dev/null
dead_ms=$(now_ms)
if wait_for_line "$tmp/cam.log" 'ended: ' 30; then
  echo "# $(grep 'ended: ' "$tmp/cam.log")"
  pass "camera freed the dead viewer's session $(( $(now_ms) - dead_ms )) ms after it died"
else
  fail "camera did not free the dead viewer's session within 30 s"
fi
kill -0 "$camera" 2>/dev/null && pass "camera keeps running" || fail "camera exited"

kill -INT "$camera"; wait "$camera"; rc=$?
[ $rc -eq 0 ] && pass "camera stops cleanly" || fail "camera exit $rc"

# 4. The camera vanishes (SIGKILL). A viewer says so and tries again until it is back; one
#    told --no-retry exits with the reason.
"$build/src/tools/icecam-camera" --server "$url" --id shelf --source test >"$tmp/cam2.log" 2>&1 &
camera=$!
pids+=($camera)
wait_for_line "$tmp/cam2.log" 'streaming' 10
"$build/src/tools/icecam-view" --server "$url" --camera shelf --headless --stats-interval 1 \
  >"$tmp/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
"$build/src/tools/icecam-view" --server "$url" --camera shelf --headless --no-retry \
  --stats-interval 1 >"$tmp/view-once.log" 2>&1 &
once=$!
pids+=($once)
# Both were watching: a viewer that never decoded a frame gives up whatever it was told.
wait_for_frames 30 15 && wait_for_frames 30 15 "$tmp/view-once.log" \
  && pass "two viewers decode, one with --no-retry" || fail "two viewers decode"
kill -9 "$camera"; wait "$camera" 2>/dev/null
gone_ms=$(now_ms)
if wait_for_line "$tmp/view.log" "^icecam-view: lost camera 'shelf'" 30; then
  pass "viewer said the camera is gone $(( $(now_ms) - gone_ms )) ms after it died: $(grep -m1 "^icecam-view: lost camera 'shelf'" "$tmp/view.log")"
else
  fail "viewer did not say the camera is gone within 30 s"
fi
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ] && kill -0 "$once" 2>/dev/null; do sleep 0.1; done
if ! kill -0 "$once" 2>/dev/null; then
  wait "$once"; rc=$?
  [ $rc -eq 1 ] && grep -q "result=error" "$tmp/view-once.log" \
    && pass "--no-retry viewer exited 1: $(grep -m1 'error:' "$tmp/view-once.log")" \
    || fail "--no-retry viewer exit $rc: $(tail -2 "$tmp/view-once.log")"
else
  fail "--no-retry viewer still running 30 s after the camera died"
fi
sleep 2 # the viewer retries meanwhile: the camera is unknown for a while
kill -0 "$viewer" 2>/dev/null && pass "retrying viewer still running" || fail "retrying viewer exited"
"$build/src/tools/icecam-camera" --server "$url" --id shelf --source test >"$tmp/cam3.log" 2>&1 &
camera=$!
pids+=($camera)
back_ms=$(now_ms)
before=$(frames)
if wait_for_line "$tmp/view.log" "watching camera 'shelf' again" 40 && wait_for_frames $((before + 30)) 15; then
  pass "viewer decodes again $(( $(now_ms) - back_ms )) ms after the camera came back ($(grep -c 'retrying camera' "$tmp/view.log") retries)"
else
  fail "viewer did not decode again after the camera came back: $(tail -3 "$tmp/view.log")"
fi
# It rejoined on presence: one attempt, that waited at the rendezvous for the camera, however
# long the camera was away (a backoff would have made one attempt after 1, 2, 4 ... s).
[ "$(grep -c 'retrying camera' "$tmp/view.log")" -eq 1 ] \
  && pass "one attempt waited for the camera's return" || fail "attempts: $(grep 'retrying camera' "$tmp/view.log")"
kill -INT "$viewer"; wait "$viewer"; rc=$?
summary=$(grep '^icecam-view: result=' "$tmp/view.log")
[ $rc -eq 0 ] && echo "$summary" | grep -qE 'retries=[1-9]' \
  && pass "viewer stops cleanly: $summary" || fail "viewer exit $rc: $summary"
kill -INT "$camera"; wait "$camera"
echo "# $failures failure(s)"
[ $failures -eq 0 ]
