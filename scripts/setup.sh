#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what icecam needs on Debian 12. Idempotent.
# Usage: scripts/setup.sh [demo|test|bench]
#   demo:  build and run (scripts/demo.sh)
#   test:  demo + what the test suites start or use: coturn, the NAT lab's tools, the fuzzing
#          and sanitizer toolchain, the packaging checks (systemd-analyze, man, debhelper) and
#          the arm64 cross-build (scripts/cross-arm64.sh) (scripts/test.sh, CI); the default
#   bench: test + what only the benchmarks use: headless Chromium, curl, jq
set -euo pipefail

what=${1:-test}
case $what in
  demo|test|bench) ;;
  *) echo "setup.sh: '$what' is not demo, test or bench" >&2; exit 2 ;;
esac

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libnice-dev libsoup-3.0-dev libjson-glib-dev libssl-dev libsrtp2-dev libnss3-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice
  gstreamer1.0-x
)
if [ "$what" != demo ]; then
  packages+=(
    coturn nftables iproute2 conntrack openssl python3
    clang libclang-rt-14-dev llvm
    systemd man-db debhelper dpkg-dev fakeroot crossbuild-essential-arm64 qemu-user-static file
  )
fi
if [ "$what" = bench ]; then
  # bench/browser-*: headless Chromium as a viewer, driven over the DevTools protocol
  packages+=(chromium python3-websockets curl jq)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # coturn's package would start a system-wide daemon; the tests start their own.
  $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 "${missing[@]}"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet coturn 2>/dev/null; then
    $SUDO systemctl stop coturn || true
  fi
fi
