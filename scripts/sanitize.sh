#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds icecam with AddressSanitizer, LeakSanitizer and UBSan (gcc, build-asan) and runs the unit,
# integration and plugin suites under them. The test scripts run the binaries and the plugin of
# that build, so the commands are checked too. Exit status is meson's. (docs/hardening.md)
# Usage: scripts/sanitize.sh [meson test arguments, e.g. --list]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_ASAN_BUILD_DIR:-$top/build-asan}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" -Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi
ninja -C "$build" || exit 1

# Leaks are reported with whole stacks: Debian's GLib and GStreamer have no frame pointers, so
# the fast unwinder stops at g_malloc() and the suppressions could match nothing.
# intercept_tls_get_addr=0: GIO loads, unloads and reloads its TLS module, and with it
# libgnutls's thread-local storage; gcc 12's LeakSanitizer then walks a stale record of that
# storage and crashes ("Tracer caught signal 11") instead of reporting. The blocks stay
# reachable through each thread's DTV, which is still scanned.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:intercept_tls_get_addr=0
export LSAN_OPTIONS=suppressions=$top/scripts/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# GLib 2.74 must use malloc() for its slices or ASan sees neither their overflows nor leaks.
export G_SLICE=always-malloc
# The tests only talk to 127.0.0.1. GIO's libproxy resolver brings C++ into every process, and
# ASan cannot intercept an exception thrown from a libstdc++ loaded after it started.
export GIO_USE_PROXY_RESOLVER=dummy

# Programs not built with ASan that load the sanitized plugin need its runtime preloaded:
# GStreamer's plugin scanner (the helper that reads every plugin's metadata into the registry)
# and gst-launch-1.0, which the pipelines/ scripts run. libstdc++ comes along so that ASan can
# intercept C++ exceptions thrown by plugins' libraries. The scanner
# only reads metadata, so its leaks are not checked; the test processes then load only the
# plugins they use, and those are checked.
wrappers=$build/sanitize-bin
preload="$(readlink -f "$(gcc -print-file-name=libasan.so)")"
preload+=" $(readlink -f "$(gcc -print-file-name=libstdc++.so)")"
scanner=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner
mkdir -p "$wrappers"
printf '#!/bin/sh\nASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="%s" exec %s "$@"\n' \
  "$preload" "$scanner" >"$wrappers/gst-plugin-scanner"
chmod +x "$wrappers/gst-plugin-scanner"
# The stock tools the tests run on the plugin (gst-play-1.0 from gstreamer1.0-plugins-base-apps).
for tool in gst-launch-1.0 gst-play-1.0 gst-inspect-1.0; do
  path=$(command -v "$tool") || continue
  printf '#!/bin/sh\nLD_PRELOAD="%s" exec %s "$@"\n' "$preload" "$path" >"$wrappers/$tool"
  chmod +x "$wrappers/$tool"
done
export GST_PLUGIN_SCANNER_1_0=$wrappers/gst-plugin-scanner
export PATH=$wrappers:$PATH

# Sanitized code runs a few times slower; the suites' timeouts were set for the normal build,
# and a test that bounds how late something may happen scales its bound by this.
export ICECAM_TEST_SLOWDOWN=3
meson test -C "$build" --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
  --suite unit --suite integration --suite plugin "$@"
