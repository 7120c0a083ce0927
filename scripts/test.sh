#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what icecam needs, builds it and runs every test suite. Run without arguments (as CI
# does), it then fuzzes each parser for a while (scripts/fuzz.sh) and runs the unit, integration
# and plugin suites again under ASan and UBSan (scripts/sanitize.sh); see docs/hardening.md.
# Beside all that, from the start, it builds the Debian packages for amd64 and arm64 and runs
# the arm64 ones under qemu (scripts/check-packages.sh, log in build-deb/check-packages.log).
# Exit status: non-zero if anything failed.
# Usage: scripts/test.sh [meson test arguments, e.g. --suite unit]
#   ICECAM_FUZZ_SECONDS: seconds per fuzz target in the full run (default 20; 0 skips fuzzing)
#   ICECAM_PACKAGES=0: skip the packaging checks of the full run
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_BUILD_DIR:-$top/build}
export ICECAM_FUZZ_BUILD_DIR=${ICECAM_FUZZ_BUILD_DIR:-$top/build-fuzz}
export ICECAM_ASAN_BUILD_DIR=${ICECAM_ASAN_BUILD_DIR:-$top/build-asan}

bash "$top/scripts/setup.sh" test || exit 1

# The packaging checks are mostly downloads, a cross-build and qemu: they run beside the suites
# (at a lower priority) instead of adding minutes after them; only in the full run.
packages_pid=
packages_log=$top/build-deb/check-packages.log
if [ $# -eq 0 ] && [ "${ICECAM_PACKAGES:-1}" != 0 ]; then
  mkdir -p "$top/build-deb"
  nice -n 10 bash "$top/scripts/check-packages.sh" >"$packages_log" 2>&1 &
  packages_pid=$!
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" || exit 1
fi
ninja -C "$build" || exit 1

meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
rc=$?

# The hardening runs, only in the full run: their results are counted below, so a stale log
# of an earlier run must not be.
fuzz_rc=
sanitize_rc=
if [ $# -eq 0 ]; then
  if [ "${ICECAM_FUZZ_SECONDS:-20}" != 0 ]; then
    bash "$top/scripts/fuzz.sh" "${ICECAM_FUZZ_SECONDS:-20}"
    fuzz_rc=$?
  fi
  rm -f "$ICECAM_ASAN_BUILD_DIR/meson-logs/testlog.json"
  bash "$top/scripts/sanitize.sh"
  sanitize_rc=$?
  [ "${fuzz_rc:-0}" -eq 0 ] && [ $sanitize_rc -eq 0 ] || rc=1
fi

packages_rc=
if [ -n "$packages_pid" ]; then
  wait "$packages_pid"
  packages_rc=$?
  grep '^check-packages: ' "$packages_log"
  if [ $packages_rc -ne 0 ]; then
    echo "scripts/check-packages.sh failed; its log ($packages_log):"
    cat "$packages_log"
    rc=1
  fi
fi

# One closing line CI can read, from meson's own logs of what ran: the suites, plus in the full
# run their sanitized run and the fuzz targets (one line each before it says how those went).
python3 - "$build/meson-logs/testlog.json" "$ICECAM_ASAN_BUILD_DIR/meson-logs/testlog.json" \
  "$sanitize_rc" "$ICECAM_FUZZ_BUILD_DIR/fuzz-run/results" "$fuzz_rc" \
  "$packages_log" "$packages_rc" <<'PY'
import json, os, sys

main_log, asan_log, sanitize_rc, fuzz_results, fuzz_rc, packages_log, packages_rc = sys.argv[1:]

def meson_counts(path):
    passed = failed = skipped = 0
    for line in open(path):
        r = json.loads(line)["result"]
        if r == "OK" or r == "EXPECTEDFAIL":
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
    return [passed, failed, skipped]

total = meson_counts(main_log)
if fuzz_rc != "":
    lines = open(fuzz_results).read().split() if os.path.exists(fuzz_results) else []
    fuzz = [lines[1::2].count("ok"), lines[1::2].count("failed"), 0]
    if fuzz_rc != "0" and fuzz[1] == 0:
        fuzz[1] = 1  # it failed before running a target (the build)
    print(f"fuzz: {fuzz[0]} passed, {fuzz[1]} failed (targets, build-fuzz)")
    total = [a + b for a, b in zip(total, fuzz)]
if sanitize_rc != "":
    asan = meson_counts(asan_log) if os.path.exists(asan_log) else [0, 0, 0]
    if sanitize_rc != "0" and asan[1] == 0:
        asan[1] = 1  # it failed before running a test (the build)
    print(f"sanitize: {asan[0]} passed, {asan[1]} failed, {asan[2]} skipped "
          "(ASan+UBSan, build-asan)")
    total = [a + b for a, b in zip(total, asan)]
if packages_rc != "":
    # Its steps, and the TAP lines of the package and qemu checks among them.
    lines = open(packages_log, errors="replace").read().splitlines()
    steps = [l for l in lines if l.startswith("check-packages: ") and ": ok in " in l]
    failed = [l for l in lines if l.startswith("check-packages: ") and ": FAILED after " in l]
    pkg = [len(steps), len(failed), 0]
    if packages_rc != "0" and pkg[1] == 0:
        pkg[1] = 1
    print(f"packages: {pkg[0]} passed, {pkg[1]} failed (steps: Debian packages amd64 and arm64, "
          "arm64 unit suite and camera -> viewer under qemu)")
    total = [a + b for a, b in zip(total, pkg)]
print(f"tests: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
PY
exit $rc
