#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A cluster of three rendezvous nodes sharing a Redis server, on loopback with the real
# commands: a camera on node A plays to a viewer on node C; presence is the same on every node;
# the same camera id on node B is refused; node A dies mid-stream and the camera moves to B
# while the viewer keeps decoding; Redis dies mid-stream, media and local sessions carry on and
# everything rejoins when it is back; garbage on Redis crashes nothing.
set -u
build=${ICECAM_BUILD_DIR:?}
TEST_KILL_SIGNAL=KILL
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { mkdir -p /tmp/icecam-cluster-logs && cp "$tmp"/*.log /tmp/icecam-cluster-logs/; }

command -v redis-server >/dev/null || { echo "1..0 # SKIP redis-server is not installed"; exit 77; }
[ -x "$build/src/server/icecam-rendezvous" ] || exit 1
"$build/src/server/icecam-rendezvous" --node-id probe 2>&1 | grep -q 'no cluster support' \
  && { echo "1..0 # SKIP built without hiredis (no --cluster)"; exit 77; }

frames() { grep -oE 'progress frames=[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+$' || echo 0; }
wait_for_frames() {  # LOG FRAMES SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(frames "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
healthz() {  # PORT: the /healthz body
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  cat <&3
  exec 3<&-
}
wait_for_status() {  # PORT STATUS SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    healthz "$1" | grep -qE "\"status\" *: *\"$2\"" && return 0
    sleep 0.1
  done
  return 1
}
# Milliseconds since midnight of the first line of log $1 containing $2 (GLib's HH:MM:SS.mmm).
log_ms() {
  grep -F -m1 -- "$2" "$1" | grep -oE '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}' | head -1 |
    awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'
}
list() { timeout 10 "$build/src/tools/icecam-view" --server "$1" --list 2>/dev/null | sort | tr '\n' ' '; }
wait_for_list() {  # URL EXPECTED SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(list "$1")" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    >>"$tmp/redis.log" 2>&1 &
  redis=$!
  pids+=($redis)
  wait_for_line "$tmp/redis.log" 'Ready to accept connections' 10
}
rcli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
start_redis || { cat "$tmp/redis.log"; exit 1; }

declare -A url port node_pid
for n in a b c; do
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose \
    --cluster "redis://127.0.0.1:$redis_port" --node-id "node-$n" >"$tmp/rv-$n.log" 2>&1 &
  node_pid[$n]=$!
  pids+=(${node_pid[$n]})
done
for n in a b c; do
  wait_for_line "$tmp/rv-$n.log" 'listening on ws://' 10 || { cat "$tmp/rv-$n.log"; exit 1; }
  url[$n]=$(grep -oE 'ws://[0-9.]+:[0-9]+/ws' "$tmp/rv-$n.log" | head -1)
  port[$n]=$(echo "${url[$n]}" | grep -oE '[0-9]+/ws$' | grep -oE '^[0-9]+')
  wait_for_status "${port[$n]}" ok 10 && pass "node $n joined the cluster" \
    || fail "node $n not ok: $(healthz "${port[$n]}")"
done

# 1. Camera on A (B as its second node), viewer on C.
"$build/src/tools/icecam-camera" --server "${url[a]}" --server "${url[b]}" --id shelf \
  --source test >"$tmp/cam.log" 2>&1 &
camera=$!
pids+=($camera)
wait_for_line "$tmp/cam.log" 'streaming' 10 || fail "camera streams"
for n in a b c; do
  wait_for_list "${url[$n]}" "shelf " 10 && pass "node $n lists the camera of node a" \
    || fail "node $n lists '$(list "${url[$n]}")'"
done
"$build/src/tools/icecam-view" --server "${url[c]}" --camera shelf --headless --stats-interval 1 \
  >"$tmp/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
wait_for_frames "$tmp/view.log" 30 20 && pass "viewer on node c decodes the camera on node a" \
  || { fail "viewer on node c decodes"; cat "$tmp/view.log"; exit 1; }

# 2. The same id on B is refused.
timeout 10 "$build/src/tools/icecam-camera" --server "${url[b]}" --id shelf --source test \
  >"$tmp/cam2.log" 2>&1 &
twin=$!
wait_for_line "$tmp/cam2.log" 'id-in-use' 10 && pass "same camera id on node b refused: $(grep -m1 -o 'camera id .*' "$tmp/cam2.log")" \
  || fail "second camera 'shelf' on node b: $(cat "$tmp/cam2.log")"
kill "$twin" 2>/dev/null; wait "$twin" 2>/dev/null

# 2b. Two cameras with one id on two nodes at the same moment: the claim in Redis is atomic,
# exactly one gets in (three rounds).
for round in 1 2 3; do
  "$build/src/tools/icecam-camera" --server "${url[a]}" --id "twin$round" --source test \
    >"$tmp/twin-a$round.log" 2>&1 &
  twin_a=$!
  "$build/src/tools/icecam-camera" --server "${url[b]}" --id "twin$round" --source test \
    >"$tmp/twin-b$round.log" 2>&1 &
  twin_b=$!
  deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ] && \
        [ "$(cat "$tmp/twin-a$round.log" "$tmp/twin-b$round.log" | grep -c 'registered with')" = 0 \
          -o "$(cat "$tmp/twin-a$round.log" "$tmp/twin-b$round.log" | grep -c 'id-in-use')" = 0 ]; do
    sleep 0.1
  done
  sleep 1.5  # the loser retries meanwhile: it must stay out
  in_a=$(grep -c 'registered with' "$tmp/twin-a$round.log")
  in_b=$(grep -c 'registered with' "$tmp/twin-b$round.log")
  holder=$(rcli GET "icecam:0:camera:twin$round" | cut -d' ' -f1)
  winner=none
  [ "$in_a" = 1 ] && winner=node-a
  [ "$in_b" = 1 ] && winner=node-b
  if [ $((in_a + in_b)) = 1 ] && [ "$holder" = "$winner" ]; then
    pass "round $round: one of two simultaneous cameras 'twin$round' got in (Redis: $holder)"
  else
    fail "round $round: registered on a: $in_a, on b: $in_b, Redis holder '$holder'"
  fi
  kill "$twin_a" "$twin_b" 2>/dev/null; wait "$twin_a" "$twin_b" 2>/dev/null
done

# 2c. A camera held on live node A comes to node B: only its resume secret gets it in, and A
# drops its old connection.
out=$(timeout 40 /usr/bin/python3 "$ICECAM_SOURCE_DIR/tests/cluster-claim.py" "${url[a]}" "${url[b]}" mover 2>&1)
echo "$out" | grep -E '^(ok|not ok)' | sed 's/^/# claim: /'
if [ "$(echo "$out" | grep -c '^ok')" = 5 ] && ! echo "$out" | grep -q '^not ok'; then
  pass "a camera proves on node b with its resume secret that it is node a's camera"
else
  fail "resume takeover across nodes: $out"
fi

# 3. Garbage on Redis: wrong JSON, wrong types, a key of the wrong type. Nothing crashes.
rcli PUBLISH icecam:0:presence 'not json' >/dev/null
rcli PUBLISH icecam:0:presence '{"node":5,"cameras":"x"}' >/dev/null
rcli PUBLISH icecam:0:presence '[1,2]' >/dev/null
rcli PUBLISH icecam:0:presence '{"node":"node-x","cameras":[],"relays":"many"}' >/dev/null
rcli PUBLISH icecam:0:presence '{"node":"node-y","cameras":[],"relays":{"turn:x":-4,"turn:y":"z"}}' >/dev/null
rcli PUBLISH icecam:0:node:node-c '{"from":"node-x","taken":5}' >/dev/null
rcli PUBLISH icecam:0:node:node-a '{"from":"node-x","taken":"shelf"}' >/dev/null
rcli SET icecam:0:camera:ghost 'no-space' >/dev/null
rcli LPUSH icecam:0:camera:ghost2 wrong-type >/dev/null
rcli PUBLISH icecam:0:node:node-c '{"from":"node-x","message":"{\"type\":\"offer\"}"}' >/dev/null
rcli PUBLISH icecam:0:node:node-c '{"from":"node-a","message":"garbage"}' >/dev/null
rcli PUBLISH icecam:0:node:node-a '{"from":"node-c","message":"{\"type\":\"session\",\"session\":\"x\",\"camera\":\"shelf\",\"role\":\"camera\"}"}' >/dev/null
rcli DEL icecam:0:node:node-b >/dev/null
rcli LPUSH icecam:0:node:node-b wrong-type >/dev/null
sleep 2
alive=0
for n in a b c; do kill -0 "${node_pid[$n]}" 2>/dev/null && alive=$((alive + 1)); done
[ $alive = 3 ] && grep -q 'cluster: ignoring' "$tmp/rv-c.log" \
  && pass "garbage from Redis logged and ignored: $(grep -m1 -o 'cluster: ignoring.*' "$tmp/rv-c.log")" \
  || fail "garbage from Redis: $alive nodes alive"
wait_for_list "${url[b]}" "shelf " 5 && pass "presence unchanged after the garbage" \
  || fail "presence after the garbage: '$(list "${url[b]}")'"

# 4. SIGKILL node A mid-stream: the camera moves to B, the viewer keeps decoding.
at_kill=$(frames "$tmp/view.log")
kill -9 "${node_pid[a]}"
killed=$(now_ms)
deadline=$((SECONDS + 40))
while [ $SECONDS -lt $deadline ] && [ "$(healthz_cameras "${port[b]}")" != "1" ]; do sleep 0.1; done
if [ "$(healthz_cameras "${port[b]}")" = "1" ]; then
  pass "camera registered on node b $(( $(now_ms) - killed )) ms after node a died"
else
  fail "camera not on node b 40 s after node a died"
fi
# Node c lists node a's entry for the camera until node b's presence (or node a's silence)
# replaces it: a watch there before that goes to the dead node and ends with peer-left when
# node a is declared silent (CI run 21, under load). Node b says it at once, not at its next
# heartbeat (up to 1 s later). Wait for the entry to be node b's.
deadline=$((SECONDS + 15))
until grep -qE "camera 'shelf' is listed by node 'node-a' and node 'node-b'|node 'node-a' silent for" \
  "$tmp/rv-c.log" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
moved=$(log_ms "$tmp/rv-b.log" "camera 'shelf' was another node's: announcing it here now")
relisted=$(log_ms "$tmp/rv-c.log" "camera 'shelf' is listed by node 'node-a' and node 'node-b'")
silent=$(log_ms "$tmp/rv-b.log" "node 'node-a' silent for")
online=$(log_ms "$tmp/rv-b.log" "camera 'shelf' online from")
if [ -z "$moved" ] && [ -n "$silent" ] && [ -n "$online" ] && [ "$silent" -le "$online" ]; then
  pass "node b announced the camera that moved to it # SKIP node a was declared silent before the camera came back: nothing left to correct"
elif [ -n "$moved" ] && [ -n "$relisted" ] && [ "$relisted" -ge "$moved" ]; then
  pass "node b announced the camera that moved to it at once: node c had its entry $((relisted - moved)) ms later"
else
  fail "node b did not announce the camera that moved to it (b: '${moved:-no line}', c: '${relisted:-no line}')"
fi
wait_for_list "${url[c]}" "shelf " 10 && pass "node c lists the camera again" \
  || fail "node c lists '$(list "${url[c]}")'"
wait_for_frames "$tmp/view.log" $((at_kill + 60)) 15 \
  && pass "viewer kept decoding: $(( $(frames "$tmp/view.log") - at_kill )) frames since node a died" \
  || fail "viewer stalled (frames $at_kill -> $(frames "$tmp/view.log"))"
"$build/src/tools/icecam-view" --server "${url[c]}" --camera shelf --headless --stats-interval 1 \
  >"$tmp/view2.log" 2>&1 &
viewer2=$!
pids+=($viewer2)
wait_for_frames "$tmp/view2.log" 30 20 && pass "a new viewer on node c watches the camera on node b" \
  || fail "new viewer on node c: $(tail -3 "$tmp/view2.log")"
kill "$viewer2" 2>/dev/null

# 5. SIGKILL Redis mid-stream: degraded, media continues, local sessions start, then rejoin.
at_kill=$(frames "$tmp/view.log")
kill -9 "$redis"; wait "$redis" 2>/dev/null
wait_for_status "${port[b]}" degraded 10 && pass "node b says degraded without Redis" \
  || fail "node b: $(healthz "${port[b]}")"
wait_for_status "${port[c]}" degraded 10 && pass "node c says degraded without Redis" \
  || fail "node c: $(healthz "${port[c]}")"
wait_for_frames "$tmp/view.log" $((at_kill + 60)) 15 && pass "media continues without Redis" \
  || fail "viewer stalled without Redis"
"$build/src/tools/icecam-view" --server "${url[b]}" --camera shelf --headless --stats-interval 1 \
  >"$tmp/view3.log" 2>&1 &
viewer3=$!
pids+=($viewer3)
wait_for_frames "$tmp/view3.log" 30 20 && pass "a session within node b starts without Redis" \
  || fail "local viewer on node b without Redis: $(tail -3 "$tmp/view3.log")"
kill "$viewer3" 2>/dev/null
start_redis || fail "redis restarts on port $redis_port"
for n in b c; do
  wait_for_status "${port[$n]}" ok 15 && pass "node $n rejoined by itself" \
    || fail "node $n after Redis came back: $(healthz "${port[$n]}")"
done
wait_for_list "${url[c]}" "shelf " 10 && pass "node c lists the camera after the rejoin" \
  || fail "node c lists '$(list "${url[c]}")' after the rejoin"
kill -0 "$viewer" 2>/dev/null && pass "the first viewer never gave up" || fail "viewer exited"
for n in b c; do
  kill -0 "${node_pid[$n]}" 2>/dev/null || fail "node $n died"
done

echo "# $failures failure(s)"
[ $failures -eq 0 ]
