#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what icecam needs, builds it and runs every test suite. Exit status is meson's.
# Usage: scripts/test.sh [meson test arguments, e.g. --suite unit]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_BUILD_DIR:-$top/build}

bash "$top/scripts/setup.sh" || exit 1
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" || exit 1
fi
ninja -C "$build" || exit 1

meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
rc=$?

# One closing line CI can read, from meson's own log of what ran.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r == "OK" or r == "EXPECTEDFAIL":
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
