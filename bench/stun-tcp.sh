#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What STUN over TCP on the signalling port costs the connections that are not STUN: two
# rendezvous of this build side by side, one with its STUN responder on the signalling port
# (the acceptor peeks at every connection's first byte) and one with --stun-listen on a port of
# its own (connections handed to libsoup at accept, as before STUN over TCP), taking turns
# under bench-connect-churn (connect, upgrade, hello, welcome, close; every 16th a /healthz).
# Then Binding over TCP itself: a fresh connection, one request and its answer, per round trip.
# Usage: bench/stun-tcp.sh [ROUNDS] [CONNECTIONS]   (default 5 rounds of 4000; BUILD as in
# common.sh)
set -u
. "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-4000}
CHURN=$BUILD/bench/bench-connect-churn

bench_machine
echo "build: $BUILD; $ROUNDS rounds of $N connections (4 threads) per rendezvous"
bench_start_rendezvous
PEEK_URL=$URL PEEK_PID=$RV_PID
STUN_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bench_start_rendezvous --stun-listen "127.0.0.1:$STUN_PORT"
PLAIN_URL=$URL PLAIN_PID=$RV_PID
port_of () { local p=${1##*:}; echo "${p%%/*}"; }
PEEK_PORT=$(port_of "$PEEK_URL") PLAIN_PORT=$(port_of "$PLAIN_URL")
: >"$WORK/peek.rate"; : >"$WORK/plain.rate"; : >"$WORK/peek.cpu"; : >"$WORK/plain.cpu"
: >"$WORK/ratio"
for r in $(seq "$ROUNDS"); do
  order="peek plain"; [ $((r % 2)) = 0 ] && order="plain peek"
  for b in $order; do
    if [ $b = peek ]; then port=$PEEK_PORT pid=$PEEK_PID; else port=$PLAIN_PORT pid=$PLAIN_PID; fi
    cpu0=$(bench_cpu "$pid")
    out=$("$CHURN" --port "$port" --connections "$N" --threads 4 --tag "$b$r")
    cpu1=$(bench_cpu "$pid")
    echo "$out" | sed -n 's/.* s, \([0-9]*\)\/s$/\1/p' >>"$WORK/$b.rate"
    awk -v a="$cpu0" -v b="$cpu1" -v n="$N" 'BEGIN { printf "%.1f\n", (b - a) / n * 1e6 }' \
      >>"$WORK/$b.cpu"
  done
  paste <(tail -1 "$WORK/peek.rate") <(tail -1 "$WORK/plain.rate") |
    awk '{ printf "%.3f\n", $1 / $2 }' >>"$WORK/ratio"
done
for b in peek plain; do
  echo "$b: connections/s median p90 min max n: $(bench_stats "$WORK/$b.rate" %.0f)"
  echo "$b: rendezvous CPU us/connection median p90 min max n: $(bench_stats "$WORK/$b.cpu")"
done
echo "rate ratio peek/plain per round: median p90 min max n: $(bench_stats "$WORK/ratio" %.3f)"

# Binding over TCP: sequential fresh connections, on each port that serves it.
python3 - "$PEEK_PORT" "$STUN_PORT" <<'PY'
import os, socket, struct, sys, time
def rate(port, n=2000):
    start = time.monotonic()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        tid = os.urandom(12)
        s.sendall(struct.pack("!HHI", 1, 0, 0x2112A442) + tid)
        head = s.recv(20, socket.MSG_WAITALL)
        s.recv(struct.unpack("!H", head[2:4])[0], socket.MSG_WAITALL)
        assert head[:2] == b"\x01\x01" and head[8:20] == tid
        s.close()
    return n / (time.monotonic() - start)
for name, port in (("signalling port (peek)", int(sys.argv[1])), ("own STUN port", int(sys.argv[2]))):
    r = rate(port)
    print(f"STUN Binding over TCP, {name}: {r:.0f} connections+answers/s (2000, one at a time)")
PY
