#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The packaging checks of CI: the amd64 Debian packages (scripts/package.sh, tests/test-debian.sh)
# and the arm64 cross-build with its runs under qemu (scripts/cross-arm64.sh all). scripts/test.sh
# starts this in the background at its beginning and waits for it at its end.
# Usage: scripts/check-packages.sh        Exit status: non-zero if any step failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
started=$SECONDS
rc=0

step() {
  local name=$1 t=$SECONDS
  shift
  echo "check-packages: $name"
  if "$@"; then
    echo "check-packages: $name: ok in $((SECONDS - t)) s"
    return 0
  fi
  echo "check-packages: $name: FAILED after $((SECONDS - t)) s"
  rc=1
  return 1
}

step "amd64 packages" env DEB_BUILD_OPTIONS=nocheck bash "$top/scripts/package.sh" amd64
step "amd64 package contents" bash "$top/tests/test-debian.sh" "$top/build-deb/amd64" amd64
step "arm64 sysroot" bash "$top/scripts/cross-arm64.sh" sysroot && \
  step "arm64 packages (cross-built)" bash "$top/scripts/cross-arm64.sh" packages && {
    step "arm64 unit suite under qemu" bash "$top/scripts/cross-arm64.sh" unit
    step "arm64 camera -> viewer under qemu" bash "$top/scripts/cross-arm64.sh" run
  }
echo "check-packages: done in $((SECONDS - started)) s, $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
