#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Redis Sentinel under a cluster of rendezvous nodes, on loopback with the real commands: a
# Redis master, its replica and one sentinel; the nodes join with redis-sentinel:// (node A
# asks a fake sentinel that answers garbage first; node C's fake sentinel names the replica,
# which ROLE shows is no master); the master is SIGKILLed, the sentinel promotes the replica,
# the nodes find it, leave degraded, and presence works across them.
set -u
build=${ICECAM_BUILD_DIR:?}
TEST_KILL_SIGNAL=KILL
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { mkdir -p /tmp/icecam-sentinel-logs && cp "$tmp"/*.log /tmp/icecam-sentinel-logs/; }

command -v redis-server >/dev/null || { echo "1..0 # SKIP redis-server is not installed"; exit 77; }
[ -x "$build/src/server/icecam-rendezvous" ] || exit 1
"$build/src/server/icecam-rendezvous" --node-id probe 2>&1 | grep -q 'no cluster support' \
  && { echo "1..0 # SKIP built without hiredis (no --cluster)"; exit 77; }

# A free port below the ephemeral range: the servers start seconds after the pick, and an
# outgoing connection (the replica's, a node's) could take an ephemeral one meanwhile.
free_port() {
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
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
list() { timeout 10 "$build/src/tools/icecam-view" --server "$1" --list 2>/dev/null | sort | tr '\n' ' '; }
wait_for_list() {  # URL EXPECTED SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(list "$1")" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}

master_port=$(free_port)
replica_port=$(free_port)
sentinel_port=$(free_port)
fake_port=$(free_port)
liar_port=$(free_port)
# Fake sentinels: one answers every connection with something a sentinel never says, the
# other always names the replica as the master.
fake_sentinel() {  # PORT [REPLICA_PORT]
  python3 - "$@" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
answers = [b"*2\r\n:5\r\n$3\r\nabc\r\n", b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n",
           b"this is not RESP\r\n", b"$2\r\nhi\r\n"]
if len(sys.argv) > 2:
    answers = [b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n" % (len(sys.argv[2]), sys.argv[2].encode())]
print("listening", flush=True)
n = 0
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(answers[n % len(answers)])
    n += 1
    c.close()
PY
}
fake_sentinel "$fake_port" >"$tmp/fake.log" 2>&1 &
pids+=($!)
fake_sentinel "$liar_port" "$replica_port" >"$tmp/liar.log" 2>&1 &
pids+=($!)
redis_opts=(--bind 127.0.0.1 --save '' --appendonly no --dir "$tmp")
redis-server --port "$master_port" "${redis_opts[@]}" >"$tmp/master.log" 2>&1 &
master=$!
pids+=("$master")
redis-server --port "$replica_port" "${redis_opts[@]}" --replicaof 127.0.0.1 "$master_port" \
  >"$tmp/replica.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/master.log" 'Ready to accept connections' 10 || { cat "$tmp/master.log"; exit 1; }
wait_for_line "$tmp/replica.log" 'MASTER <-> REPLICA sync: Finished' 10 \
  || { cat "$tmp/replica.log"; exit 1; }
# Started once the replica is attached, the sentinel finds it at its first INFO.
cat >"$tmp/sentinel.conf" <<CONF
port $sentinel_port
bind 127.0.0.1
dir $tmp
sentinel monitor m 127.0.0.1 $master_port 1
sentinel down-after-milliseconds m 1000
sentinel failover-timeout m 3000
CONF
redis-server "$tmp/sentinel.conf" --sentinel >"$tmp/sentinel.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/fake.log" listening 10 && wait_for_line "$tmp/liar.log" listening 10 \
  || { cat "$tmp/fake.log" "$tmp/liar.log"; exit 1; }
wait_for_line "$tmp/sentinel.log" '\+slave slave' 12 || { cat "$tmp/sentinel.log"; exit 1; }

declare -A url port node_pid sentinels
sentinels[a]="127.0.0.1:$fake_port,127.0.0.1:$sentinel_port"
sentinels[b]="127.0.0.1:$sentinel_port"
sentinels[c]="127.0.0.1:$liar_port"
sentinels[d]="127.0.0.1:$fake_port"
for n in a b c d; do
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --verbose \
    --cluster "redis-sentinel://${sentinels[$n]}/m" --node-id "node-$n" >"$tmp/rv-$n.log" 2>&1 &
  node_pid[$n]=$!
  pids+=("${node_pid[$n]}")
done
for n in a b c d; do
  wait_for_line "$tmp/rv-$n.log" 'listening on ws://' 10 || { cat "$tmp/rv-$n.log"; exit 1; }
  url[$n]=$(grep -oE 'ws://[0-9.]+:[0-9]+/ws' "$tmp/rv-$n.log" | head -1)
  port[$n]=$(echo "${url[$n]}" | grep -oE '[0-9]+/ws$' | grep -oE '^[0-9]+')
done
for n in a b; do
  wait_for_status "${port[$n]}" ok 10 && pass "node $n joined through the sentinel" \
    || fail "node $n not ok: $(healthz "${port[$n]}")"
done
grep -q 'ignoring sentinel' "$tmp/rv-a.log" \
  && pass "garbage from a sentinel logged, the next one asked: $(grep -m1 -o 'cluster: ignoring sentinel.*' "$tmp/rv-a.log")" \
  || fail "node a did not report the fake sentinel's answer"

wait_for_line "$tmp/rv-c.log" 'is not the master' 5 && healthz "${port[c]}" | grep -q degraded \
  && pass "node c, sent to the replica, stays degraded: $(grep -m1 -o 'cluster: 127.*' "$tmp/rv-c.log")" \
  || fail "node c connected to a replica: $(healthz "${port[c]}")"

# Node D asks only the garbage sentinel, once a second: each kind of garbage logged, no crash.
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ] && [ "$(grep -c 'cluster: ignoring sentinel' "$tmp/rv-d.log")" -lt 2 ]; do
  sleep 0.2
done
wait_for_line "$tmp/rv-d.log" 'cluster: sentinel .*: Protocol error' 5 \
  && [ "$(grep -c 'cluster: ignoring sentinel' "$tmp/rv-d.log")" -ge 2 ] \
  && kill -0 "${node_pid[d]}" && healthz "${port[d]}" | grep -q degraded \
  && pass "node d, with only a garbage sentinel, logs it and stays degraded: $(grep -m1 -o 'cluster: sentinel .*' "$tmp/rv-d.log")" \
  || fail "node d: $(grep 'cluster:' "$tmp/rv-d.log" | tail -3)"

# 1. Camera on A, listed on B.
"$build/src/tools/icecam-camera" --server "${url[a]}" --id shelf --source test >"$tmp/cam.log" 2>&1 &
pids+=($!)
wait_for_list "${url[b]}" "shelf " 10 && pass "node b lists the camera of node a" \
  || fail "node b lists '$(list "${url[b]}")'"

# 2. SIGKILL the master: the sentinel promotes the replica, the nodes find it.
kill -9 "$master"; wait "$master" 2>/dev/null
killed=$(now_ms)
wait_for_status "${port[a]}" degraded 5 && pass "node a degraded without its master" \
  || fail "node a: $(healthz "${port[a]}")"
for n in a b c; do
  wait_for_status "${port[$n]}" ok 15 \
    && pass "node $n left degraded $(( $(now_ms) - killed )) ms after the master died" \
    || fail "node $n after the failover: $(healthz "${port[$n]}")"
done
wait_for_line "$tmp/sentinel.log" '\+switch-master m' 1 \
  && grep -q "master 'm' is 127.0.0.1:$replica_port" "$tmp/rv-b.log" \
  && pass "the sentinel promoted the replica and node b followed it" \
  || fail "no switch to the replica: $(grep -m1 'switch-master' "$tmp/sentinel.log")"
"$build/src/tools/icecam-camera" --server "${url[b]}" --id porch --source test >"$tmp/cam2.log" 2>&1 &
pids+=($!)
wait_for_list "${url[a]}" "porch shelf " 10 && pass "node a lists a new camera of node b after the failover" \
  || fail "node a lists '$(list "${url[a]}")'"
wait_for_list "${url[c]}" "porch shelf " 10 && pass "node c, once the replica is master, lists both" \
  || fail "node c lists '$(list "${url[c]}")'"
for n in a b c; do
  kill -0 "${node_pid[$n]}" 2>/dev/null || fail "node $n died"
done

echo "# $failures failure(s)"
[ $failures -eq 0 ]
