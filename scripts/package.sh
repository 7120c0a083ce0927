#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds icecam's Debian packages (debian/) with dpkg-buildpackage from a copy of this tree,
# so that the tree itself stays clean; the .deb files land in OUT (default build-deb/ARCH).
# Usage: scripts/package.sh [amd64|arm64] [OUT]
#   arm64 cross-builds (-a arm64 -Pcross,nocheck) against the sysroot of
#   scripts/cross-arm64.sh sysroot, with its meson cross file (ICECAM_CROSS_FILE) and its
#   packages' shlibs (ICECAM_SHLIBS_LOCAL), as Debian 12
#   cannot install the arm64 -dev packages next to the amd64 ones (see docs/deployment.md).
#   DEB_BUILD_OPTIONS=nocheck skips the unit suite of a native build.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-$(dpkg --print-architecture)}
out=${2:-$top/build-deb/$arch}

rm -rf "$out"
mkdir -p "$out/src/icecam"
# scripts/test.sh runs this beside the suites, which create build directories and logs at the
# top of the tree meanwhile: a directory that changed while it was read is not an error (tar's
# exit status 1); anything worse is.
set +e
tar -C "$top" --exclude='./build*' --exclude=./.git --exclude=./_build --warning=no-file-changed \
  -cf - . | tar -C "$out/src/icecam" -xf -
statuses=("${PIPESTATUS[@]}")
set -e
if [ "${statuses[0]}" -gt 1 ] || [ "${statuses[1]}" -ne 0 ]; then
  echo "package.sh: copying the tree failed (tar: ${statuses[*]})" >&2
  exit 1
fi
cd "$out/src/icecam"

if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  dpkg-buildpackage -us -uc -b
else
  : "${ICECAM_CROSS_FILE:?run scripts/cross-arm64.sh sysroot first, or set ICECAM_CROSS_FILE}"
  : "${ICECAM_SHLIBS_LOCAL:?run scripts/cross-arm64.sh sysroot first, or set ICECAM_SHLIBS_LOCAL}"
  cp "$ICECAM_SHLIBS_LOCAL" debian/shlibs.local
  # The build dependencies are in the sysroot, not in dpkg's database: -d. Library
  # dependencies (shlibs) come from the sysroot's packages (debian/shlibs.local, made by
  # scripts/cross-arm64.sh) since dpkg-shlibdeps cannot ask dpkg who ships them.
  DH_MESON_CROSS_FILE=$ICECAM_CROSS_FILE \
    DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b -d -a "$arch" -Pcross,nocheck
fi
# dpkg-buildpackage writes next to the source directory.
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/
ls -1 "$out"/*.deb
