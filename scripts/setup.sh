#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what icecam needs on Debian 12. Idempotent.
# Usage: scripts/setup.sh [demo|test|bench]
#   demo:  build and run (scripts/demo.sh)
#   test:  demo + what the test suites start or use: coturn, nginx, the NAT lab's tools, headless
#          Chromium, Firefox and python3-websockets (the web viewer's suite), the fuzzing and
#          sanitizer toolchain, the packaging checks (systemd-analyze, man, debhelper) and the arm64
#          cross-build (scripts/cross-arm64.sh) (scripts/test.sh, CI); the default
#   bench: test + what only the benchmarks use: curl, jq, valgrind (bench/relay-instructions.sh)
set -euo pipefail

what=${1:-test}
case $what in
  demo|test|bench) ;;
  *) echo "setup.sh: '$what' is not demo, test or bench" >&2; exit 2 ;;
esac

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libglib2.0-dev-bin libnice-dev libsoup-3.0-dev libjson-glib-dev libssl-dev libsrtp2-dev libnss3-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice
  gstreamer1.0-x
)
if [ "$what" != demo ]; then
  packages+=(
    coturn nftables iproute2 conntrack openssl python3 util-linux nginx-light
    gstreamer1.0-plugins-base-apps # gst-play-1.0, gst-discoverer-1.0 (tests/test-playback.sh)
    libgstrtspserver-1.0-dev
    gstreamer1.0-alsa # alsasrc: tests/test-audio.sh, --audio alsa:DEVICE with no such device
    clang libclang-rt-14-dev llvm
    # tests/browser/: the web viewer in headless Chromium (DevTools protocol) and Firefox
    # (WebDriver BiDi; it has no H.264 without Mozilla's downloaded plugin: the page must say so)
    chromium python3-websockets firefox-esr
    systemd man-db debhelper dpkg-dev fakeroot crossbuild-essential-arm64 qemu-user-static file
    # icecam-rendezvous --cluster (built when hiredis is found) and tests/test-cluster.sh
    libhiredis-dev redis-server
  )
fi
if [ "$what" = bench ]; then
  packages+=(curl jq valgrind)
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
  # coturn's, nginx's and redis's packages would start system-wide daemons; the tests start their own.
  $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 "${missing[@]}"
  for service in coturn nginx redis-server; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet $service 2>/dev/null; then
      $SUDO systemctl stop $service || true
    fi
  done
fi
