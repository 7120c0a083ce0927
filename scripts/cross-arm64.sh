#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The arm64 build, on an amd64 Debian 12: cross-compiles icecam against an arm64 sysroot, runs
# the unit suite and a camera -> viewer run of the arm64 binaries under qemu-user-static, and
# cross-builds the arm64 Debian packages, whose binaries make the camera -> viewer run.
# Usage: scripts/cross-arm64.sh [sysroot|packages|unit|run|all]   (default all)
#   sysroot:  download the arm64 -dev packages and GStreamer plugins (apt, into a private
#             state under build-arm64/apt: the system's dpkg database is not touched) and
#             unpack them into build-arm64/sysroot; write the meson cross file
#   packages: scripts/package.sh arm64 (dpkg-buildpackage -a arm64 -Pcross,nocheck) into
#             build-arm64/deb, then tests/test-debian.sh on them
#   unit:     meson test --suite unit in that package build's tree, each test under
#             qemu-aarch64-static (the cross file's exe_wrapper)
#   run:      rendezvous + icecam-camera --source test + icecam-view --headless --frames 30,
#             the packages' arm64 binaries and plugin under qemu-aarch64-static
# Why a sysroot and not multiarch (dpkg --add-architecture arm64): in Debian 12 the arm64
# libsrtp2-dev, libnss3-dev and libnspr4-dev are not Multi-Arch: same, and libsoup-3.0-dev
# pulls gobject-introspection:arm64 and so python3:arm64 (through libsysprof-4-dev and
# libgraphene-1.0-dev): installing them removes their amd64 twins, which the native build needs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=${ICECAM_ARM64_DIR:-$top/build-arm64}
sysroot=$work/sysroot
cross=$work/arm64-cross.ini
step=${1:-all}
triplet=aarch64-linux-gnu

packages=(
  libc6-dev libglib2.0-dev libnice-dev libsoup-3.0-dev libjson-glib-dev libssl-dev libsrtp2-dev
  libnss3-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
)

log() { echo "cross-arm64: $*"; }

make_sysroot() {
  local apt=$work/apt started=$SECONDS
  local opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
              -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status"
              -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 -q)
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  : >"$apt/status"
  apt-get "${opts[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; return 1; }
  apt-get "${opts[@]}" install -y --download-only --no-install-recommends "${packages[@]}" \
    >>"$work/apt.log" 2>&1 || { cat "$work/apt.log"; return 1; }
  log "downloaded $(ls "$apt/cache/archives" | grep -c '\.deb$') packages ($(du -sh "$apt/cache/archives" | cut -f1)) in $((SECONDS - started)) s"

  rm -rf "$sysroot"
  mkdir -p "$sysroot"
  : >"$work/shlibs.local"
  for deb in "$apt/cache/archives"/*.deb; do
    dpkg-deb -x "$deb" "$sysroot"
    # Who ships which library, for dpkg-shlibdeps in the arm64 package build.
    dpkg-deb -I "$deb" shlibs >>"$work/shlibs.local" 2>/dev/null || true
  done
  # Absolute symlinks (libfoo.so -> /lib/...) would point out of the sysroot.
  find "$sysroot" -type l -lname '/*' | while read -r link; do
    ln -sfn "$sysroot$(readlink "$link")" "$link"
  done
  cat >"$cross" <<INI
[binaries]
c = '$triplet-gcc'
ar = '$triplet-ar'
strip = '$triplet-strip'
pkgconfig = 'pkg-config'
exe_wrapper = ['qemu-aarch64-static', '-L', '$sysroot']

[properties]
sys_root = '$sysroot'
pkg_config_libdir = ['$sysroot/usr/lib/$triplet/pkgconfig', '$sysroot/usr/share/pkgconfig']

[built-in options]
c_args = ['--sysroot=$sysroot']
c_link_args = ['--sysroot=$sysroot']

[host_machine]
system = 'linux'
cpu_family = 'aarch64'
cpu = 'aarch64'
endian = 'little'
INI
  log "sysroot ready in $((SECONDS - started)) s: $sysroot ($(du -sh "$sysroot" | cut -f1)), cross file $cross"
}

run_env() {
  # GStreamer in the emulated process: the sysroot's plugins, scanned in process (the
  # scanner helper is an arm64 program the kernel cannot exec without binfmt_misc).
  export GST_PLUGIN_SYSTEM_PATH_1_0=$sysroot/usr/lib/$triplet/gstreamer-1.0
  export GST_REGISTRY_FORK=no
  export GST_REGISTRY_1_0=$work/registry-$1.bin
  rm -f "$GST_REGISTRY_1_0"
}

unit() {
  local started=$SECONDS
  run_env unit
  meson test -C "$work/deb/src/icecam/obj-$triplet" --suite unit --num-processes "${ICECAM_ARM64_JOBS:-1}" \
    --print-errorlogs --timeout-multiplier 4
  log "unit suite under qemu in $((SECONDS - started)) s"
}

packages() {
  local started=$SECONDS
  ICECAM_CROSS_FILE=$cross ICECAM_SHLIBS_LOCAL=$work/shlibs.local ICECAM_SYSROOT=$sysroot \
    bash "$top/scripts/package.sh" arm64 "$work/deb"
  bash "$top/tests/test-debian.sh" "$work/deb" arm64
  log "arm64 packages in $((SECONDS - started)) s"
}

run() {
  local started=$SECONDS root=$work/deb-root
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$work/deb"/*_arm64.deb; do dpkg-deb -x "$deb" "$root"; done
  run_env run
  export GST_PLUGIN_PATH_1_0=$root/usr/lib/$triplet/gstreamer-1.0
  ICECAM_ARM64_ROOT=$root ICECAM_ARM64_SYSROOT=$sysroot bash "$top/tests/test-arm64.sh"
  log "camera -> viewer under qemu in $((SECONDS - started)) s"
}

mkdir -p "$work"
case $step in
  sysroot) make_sysroot ;;
  unit) unit ;;
  packages) packages ;;
  run) run ;;
  all) make_sysroot && packages && unit && run ;;
  *) echo "cross-arm64.sh: '$step' is not sysroot, packages, unit, run or all" >&2; exit 2 ;;
esac
