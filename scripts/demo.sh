#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what icecam needs, builds it, and runs the main job on this machine: a rendezvous,
# a test-pattern camera and a viewer, all on loopback. The viewer opens a window when there
# is a display and decodes headless otherwise; it ends with its summary line.
# Usage: scripts/demo.sh [icecam-view options, e.g. --frames 300]
#        scripts/demo.sh --web    no icecam-view: serve until Ctrl-C, to watch in a browser
# It prints the web viewer's address (http://HOST:PORT/view/demo). LISTEN=HOST:PORT sets where
# the rendezvous listens (default 127.0.0.1:0, a free port), e.g. LISTEN=0.0.0.0:8080 to
# watch from a phone on the LAN at http://THIS-MACHINE:8080/ (plain http: fine on a LAN you
# trust; put it behind TLS otherwise, see docs/deployment.md).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_BUILD_DIR:-$top/build}

bash "$top/scripts/setup.sh" demo || exit 1
[ -f "$build/build.ninja" ] || meson setup "$build" "$top" || exit 1
ninja -C "$build" || exit 1

log=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$log"
}
trap cleanup EXIT

"$build/src/server/icecam-rendezvous" --listen "${LISTEN:-127.0.0.1:0}" >"$log/rendezvous" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q 'listening on' "$log/rendezvous" && break; sleep 0.05; done
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$log/rendezvous" | head -1)
[ -n "$url" ] || { cat "$log/rendezvous"; exit 1; }
echo "rendezvous: $url"
# Clients of a rendezvous on the wildcard address connect to this machine's own address.
url=${url/\/\/0.0.0.0:/\/\/127.0.0.1:}
web=${url/ws:/http:}
host_ip=$(hostname -I 2>/dev/null | awk '{print $1}')
case ${LISTEN:-} in
  0.0.0.0:*) [ -n "$host_ip" ] && web=${web/127.0.0.1/$host_ip} ;;
esac

"$build/src/tools/icecam-camera" --server "$url" --id demo --source test >"$log/camera" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q 'streaming' "$log/camera" && break; sleep 0.05; done
cat "$log/camera"
echo "web viewer: open $web/view/demo (all cameras: $web/)"

if [ "${1:-}" = --web ]; then
  echo "serving until Ctrl-C"
  wait "${pids[0]}"
  exit 0
fi

args=("$@")
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  args=(--headless --frames 60 "${args[@]}")
fi
"$build/src/tools/icecam-view" --server "$url" --camera demo "${args[@]}"
