#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Behind a reverse proxy, on loopback with a real nginx (Debian's nginx-light) and the real
# rendezvous: 100 viewers through nginx, each from its own address, are counted each for
# itself with --trusted-proxy (and as one address without it: the per-address limit refuses
# them); a client that forges X-Forwarded-For directly, or through nginx, gains nothing; the
# PROXY protocol (v1 and v2) from a trusted peer names the client, from anyone else it is
# not read; a malformed one is refused. The operator's log names who hit which limit and
# stops after --log-limit lines of a kind, then says how many it suppressed.
set -u
build=${ICECAM_BUILD_DIR:?}
source_dir=${ICECAM_SOURCE_DIR:?}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
test_keep_logs() { cp "$tmp"/*.log /tmp/ 2>/dev/null; }

nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "1..0 # SKIP nginx is not installed (nginx-light)"; exit 77; }
hello() { python3 "$source_dir/tests/ws-hello.py" "$@"; }
count() { grep -c "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

LIMIT=10 # --max-connections-per-address, well under the 100 viewers
PROXY=127.0.0.2 # nginx connects from here (proxy_bind); direct clients from 127.0.0.1

# $1: name, then options
start_rendezvous() { # sets rv_port; not in a command substitution, whose pids+= would be lost
  local name=$1
  shift
  "$build/src/server/icecam-rendezvous" --listen 127.0.0.1:0 --stun-listen none \
    --max-connections-per-address $LIMIT "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pids+=($!)
  wait_for_line "$tmp/$name.out" 'listening on ws://' 10 || { cat "$tmp/$name.log"; exit 1; }
  rv_port=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/$name.out" | head -1 | grep -oE '[0-9]+$')
}

start_rendezvous trusted --trusted-proxy $PROXY/32 --log-limit 3
trusted_port=$rv_port
start_rendezvous untrusted
untrusted_port=$rv_port
nginx_port=$(free_port)
nginx_untrusted_port=$(free_port)

location() { # $1: the rendezvous port
  cat <<CONF
    location /ws {
      proxy_pass http://127.0.0.1:$1;
      proxy_bind $PROXY;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
    }
CONF
}
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx-error.log info;
events { worker_connections 1024; }
http {
  access_log $tmp/nginx-access.log;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:$nginx_port;
$(location "$trusted_port")
  }
  server {
    listen 127.0.0.1:$nginx_untrusted_port;
$(location "$untrusted_port")
  }
}
CONF
"$nginx" -c "$tmp/nginx.conf" -p "$tmp/nginx" -g 'daemon off;' 2>"$tmp/nginx-start.log" &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
  sleep 0.05
done
echo "# rendezvous $trusted_port (trusting $PROXY) and $untrusted_port, nginx $nginx_port and $nginx_untrusted_port"

# 1. 100 viewers through nginx, from 127.0.1.1 to 127.0.1.100: all welcomed, each with its
# own address (and port 0: X-Forwarded-For names no port).
hello --port "$nginx_port" --count 100 --source-base 127.0.1. >"$tmp/through.json"
welcomed=$(count '"welcome"' "$tmp/through.json")
own=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    # X-Forwarded-For carries no port: welcome says port 0.
    if r.get("result") == "welcome" and r["address"] == r["source"].split(":")[0] + ":0":
        n += 1
print(n)' "$tmp/through.json")
[ "$welcomed" -eq 100 ] && [ "$own" -eq 100 ] \
  && pass "100 viewers through nginx welcomed, each told its own address" \
  || fail "through nginx: $welcomed welcomed, $own with their own address: $(sort "$tmp/through.json" | uniq -c | head -5)"

# 2. The same through nginx to a rendezvous that does not trust it: one address, limited.
hello --port "$nginx_untrusted_port" --count 100 --source-base 127.0.1. >"$tmp/untrusted.json"
welcomed=$(count '"welcome"' "$tmp/untrusted.json")
refused=$(count '"limit-exceeded"' "$tmp/untrusted.json")
[ "$welcomed" -eq $LIMIT ] && [ "$refused" -eq $((100 - LIMIT)) ] \
  && grep -q "\"address\": \"$PROXY:" "$tmp/untrusted.json" \
  && pass "without --trusted-proxy the proxy is one address ($welcomed welcomed, $refused refused)" \
  || fail "untrusted proxy: $welcomed welcomed, $refused refused"

# 3. Forged X-Forwarded-For straight to the server (not a trusted peer): each connection claims
# another address, all count as 127.0.0.1, and welcome says 127.0.0.1.
hello --port "$trusted_port" --count $((LIMIT + 5)) \
  --header 'X-Forwarded-For: 198.51.100.{N}' --header 'Forwarded: for=198.51.100.{N}' \
  >"$tmp/forged.json"
welcomed=$(count '"welcome"' "$tmp/forged.json")
[ "$welcomed" -eq $LIMIT ] && [ "$(count '"address": "127.0.0.1:' "$tmp/forged.json")" -eq $LIMIT ] \
  && ! grep -q 198.51.100 "$tmp/forged.json" \
  && pass "forged X-Forwarded-For from an untrusted peer gains nothing ($welcomed of $((LIMIT + 5)))" \
  || fail "forged headers: $welcomed welcomed: $(head -3 "$tmp/forged.json")"

# 4. Forged through nginx: nginx appends the real address, which is the one that counts.
hello --port "$nginx_port" --count $((LIMIT + 5)) --source 127.0.0.1 \
  --header 'X-Forwarded-For: 198.51.100.{N}' >"$tmp/forged-proxy.json"
welcomed=$(count '"welcome"' "$tmp/forged-proxy.json")
[ "$welcomed" -eq $LIMIT ] && ! grep -q 198.51.100 "$tmp/forged-proxy.json" \
  && pass "forged X-Forwarded-For through nginx: the address nginx saw counts" \
  || fail "forged through nginx: $welcomed welcomed: $(head -3 "$tmp/forged-proxy.json")"

# 5. The PROXY protocol: believed from the trusted peer only.
out=$(hello --port "$trusted_port" --source $PROXY --proxy-v1 "PROXY TCP4 203.0.113.9 127.0.0.1 4444 {PORT}")
echo "$out" | grep -q '"address": "203.0.113.9:4444"' && pass "PROXY v1 from the trusted peer names the client" \
  || fail "PROXY v1: $out"
out=$(hello --port "$trusted_port" --source $PROXY --proxy-v2 203.0.113.10:5555)
echo "$out" | grep -q '"address": "203.0.113.10:5555"' && pass "PROXY v2 from the trusted peer names the client" \
  || fail "PROXY v2: $out"
out=$(hello --port "$trusted_port" --source 127.0.0.3 --proxy-v1 "PROXY TCP4 203.0.113.9 127.0.0.1 4444 {PORT}")
echo "$out" | grep -q '"status": "HTTP/1.[01] 400' && pass "PROXY v1 from another peer is not read (400)" \
  || fail "untrusted PROXY: $out"
out=$(hello --port "$trusted_port" --source $PROXY --proxy-v1 "PROXY TCP4 203.0.113.999 127.0.0.1 4444 {PORT}")
echo "$out" | grep -q '"failed"' && wait_for_line "$tmp/trusted.log" "proxy header refused from $PROXY.*not TCP4 addresses" 5 \
  && pass "a malformed PROXY header is refused and logged" || fail "malformed PROXY: $out"

# 6. The operator's log: camera-less here, so the limits. Item 3 and 4 made 10 refusals by
# 127.0.0.1 within a second: 3 lines (--log-limit 3), then one saying 7 were suppressed once
# the 10 s window is over.
lines=$(count 'per-address limit from 127.0.0.1' "$tmp/trusted.log")
[ "$lines" -eq 3 ] && pass "3 per-address lines printed for 10 refusals" \
  || fail "per-address lines: $lines: $(grep per-address "$tmp/trusted.log" | head -5)"
wait_for_line "$tmp/trusted.log" "7 more 'per-address limit' lines suppressed in the last 10 s" 15 \
  && pass "the suppressed lines are counted" || fail "no suppressed line: $(tail -3 "$tmp/trusted.log")"
grep -q "per-address limit from $PROXY" "$tmp/untrusted.log" \
  && pass "the untrusting server logs the proxy's address" || fail "untrusted log: $(head -3 "$tmp/untrusted.log")"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
