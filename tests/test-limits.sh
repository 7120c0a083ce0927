#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The message size limit on the real server: clients that announce 2 and 5 MiB text frames and
# keep sending are closed with 1009 (from the frame header: the message rate is off), and the
# server's peak memory does not grow by their size; with libsoup's stream
# (--ws-stream libsoup) libsoup's limit drops them; permessage-deflate is never negotiated.
# The connection cap's refusals reach the operator's log, rate-limited.
set -u
build=${ICECAM_BUILD_DIR:?}
source_dir=${ICECAM_SOURCE_DIR:?}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
hello() { python3 "$source_dir/tests/ws-hello.py" "$@"; }
MIB=1048576

start_rendezvous() { # $1: name, then options; prints "PID PORT"
  local name=$1
  shift
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pids+=($!)
  wait_for_line "$tmp/$name.out" 'listening on ws://' 10 || { cat "$tmp/$name.log" >&2; exit 1; }
  echo "$! $(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/$name.out" | head -1 | grep -oE '[0-9]+$')"
}
peak_kb() { grep -E '^VmHWM' "/proc/$1/status" | grep -oE '[0-9]+'; }

for stream in epoll libsoup; do
  read -r pid port < <(start_rendezvous "$stream" --ws-stream $stream --message-rate 0)
  pids+=("$pid")  # start_rendezvous ran in a subshell: its pids+= is lost
  before=$(peak_kb "$pid")
  hello --port "$port" --count 5 --big-frame $((5 * MIB)) >"$tmp/$stream-5m.json"
  after=$(peak_kb "$pid")
  grown=$((after - before))
  echo "# $stream: peak memory $before -> $after kB after five 5 MiB frames"
  if [ $stream = epoll ]; then
    closed=$(grep -c '"code": 1009' "$tmp/$stream-5m.json")
    [ "$closed" -eq 5 ] && pass "ws://: five 5 MiB frames closed with 1009" \
      || fail "ws:// 5 MiB frames: $(cat "$tmp/$stream-5m.json")"
  else
    ended=$(grep -cE '"(dropped|closed)"' "$tmp/$stream-5m.json")
    [ "$ended" -eq 5 ] && pass "libsoup stream: five 5 MiB frames refused" \
      || fail "libsoup 5 MiB frames: $(cat "$tmp/$stream-5m.json")"
  fi
  # How far each client got before it read the close: informative only (loopback buffers can
  # take megabytes, and the server reads and drops what follows the refused header).
  echo "# $stream: bytes sent before the close: $(grep -oE '"sent": [0-9]+' "$tmp/$stream-5m.json" | grep -oE '[0-9]+' | tr '\n' ' ')"
  # One payload read whole would be 5 MiB (and libsoup's buffer doubles to 8); the sanitizers'
  # allocator keeps freed blocks for a while, so the bound leaves room under ASan.
  [ "$grown" -lt 4096 ] && pass "$stream: peak memory grew ${grown} kB (< 4 MiB, a payload is 5)" \
    || fail "$stream: peak memory grew ${grown} kB"
  out=$(hello --port "$port" --header 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits')
  echo "$out" | grep -q '"result": "welcome".*"extensions": null' \
    && pass "$stream: permessage-deflate is not negotiated" || fail "$stream deflate: $out"
done

# With the default message rate a 2 MiB frame is refused for its size, not for the rate.
read -r pid port < <(start_rendezvous default)
pids+=("$pid")  # start_rendezvous ran in a subshell: its pids+= is lost
out=$(hello --port "$port" --big-frame $((2 * MIB)))
echo "$out" | grep -q '"code": 1009' && grep -q "message too big from 127.0.0.1" "$tmp/default.log" \
  && pass "a 2 MiB frame is closed with 1009 and logged as too big" \
  || fail "2 MiB frame: $out $(cat "$tmp/default.log")"
out=$(hello --port "$port")
echo "$out" | grep -q '"welcome"' && pass "the server serves the next client" || fail "next client: $out"

# The connection cap in the operator's log: 5 refusals, 2 lines (--log-limit 2).
read -r pid port < <(start_rendezvous cap --max-connections 3 --log-limit 2)
pids+=("$pid")  # start_rendezvous ran in a subshell: its pids+= is lost
hello --port "$port" --count 8 >"$tmp/cap.json"
welcomed=$(grep -c '"welcome"' "$tmp/cap.json")
lines=$(grep -c "connection cap from 127.0.0.1:[0-9]* (connection [0-9]*): 3 connections open, the maximum" "$tmp/cap.log")
[ "$welcomed" -eq 3 ] && [ "$lines" -eq 2 ]   && pass "the connection cap: 3 served, 5 refused, 2 lines logged"   || fail "cap: $welcomed welcomed, $lines lines: $(cat "$tmp/cap.log")"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
