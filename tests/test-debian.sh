#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages scripts/package.sh built, as dpkg sees them: the three packages of
# ARCH, each with its files; the rendezvous's service enabled and started by its maintainer
# scripts, the camera template neither; the group icecam created first; library dependencies.
# Usage: tests/test-debian.sh DIR ARCH
set -u
dir=${1:?usage: test-debian.sh DIR ARCH}
arch=${2:?usage: test-debian.sh DIR ARCH}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
case $arch in amd64) triplet=x86_64-linux-gnu ;; arm64) triplet=aarch64-linux-gnu ;; *) triplet=$arch ;; esac
version=$(dpkg-parsechangelog -l "$(dirname "$0")/../debian/changelog" -S Version)

contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | grep -v '/$' | sed 's|^\./|/|' | sort; }

check_files() {
  local pkg=$1 deb=$dir/${1}_${version}_$arch.deb
  shift
  if [ ! -f "$deb" ]; then fail "$pkg: no $deb"; return; fi
  printf '%s\n' "$@" | sort >"$tmp/$pkg.expected"
  contents "$deb" | grep -v '^/usr/share/doc/' >"$tmp/$pkg.files"
  if diff -u "$tmp/$pkg.expected" "$tmp/$pkg.files" >"$tmp/$pkg.diff"; then
    pass "$pkg ($arch): the expected $# files"
  else
    fail "$pkg ($arch) files differ:"; sed 's/^/#   /' "$tmp/$pkg.diff"
  fi
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$pkg: Architecture $(dpkg-deb -f "$deb" Architecture)"
  dpkg-deb -e "$deb" "$tmp/$pkg.control"
}

check_files icecam-rendezvous /usr/bin/icecam-rendezvous /usr/share/man/man1/icecam-rendezvous.1.gz \
  /lib/systemd/system/icecam-rendezvous.service /etc/icecam/rendezvous.env \
  /usr/lib/sysusers.d/icecam-rendezvous.conf
check_files icecam-camera /usr/bin/icecam-camera /usr/bin/icecam-view /usr/bin/icecam-natprobe \
  /usr/share/man/man1/icecam-camera.1.gz /usr/share/man/man1/icecam-view.1.gz \
  /usr/share/man/man1/icecam-natprobe.1.gz /lib/systemd/system/icecam-camera@.service \
  /etc/icecam/camera.env.example /usr/lib/sysusers.d/icecam-camera.conf
check_files gstreamer1.0-icecam "/usr/lib/$triplet/gstreamer-1.0/libgsticecam.so"

# Maintainer scripts: the group first, then the rendezvous enabled and (re)started.
post=$tmp/icecam-rendezvous.control/postinst
if [ -f "$post" ]; then
  sysusers=$(grep -n 'systemd-sysusers' "$post" | head -1 | cut -d: -f1)
  enable=$(grep -n "deb-systemd-helper enable 'icecam-rendezvous.service'" "$post" | head -1 | cut -d: -f1)
  start=$(grep -n "deb-systemd-invoke \$_dh_action 'icecam-rendezvous.service'" "$post" | head -1 | cut -d: -f1)
  [ -n "$sysusers" ] && [ -n "$enable" ] && [ -n "$start" ] && [ "$sysusers" -lt "$enable" ] \
    && pass "icecam-rendezvous postinst: group icecam, then enable and start" \
    || fail "icecam-rendezvous postinst (sysusers line ${sysusers:-none}, enable ${enable:-none}, start ${start:-none})"
else
  fail "icecam-rendezvous has no postinst"
fi
post=$tmp/icecam-camera.control/postinst
if [ -f "$post" ] && grep -q 'systemd-sysusers' "$post"; then
  if grep -qE "deb-systemd-helper enable|deb-systemd-invoke (start|restart|\\\$_dh_action)" "$post"; then
    fail "icecam-camera postinst enables or starts icecam-camera@.service"
  else
    pass "icecam-camera postinst: group icecam; the camera template neither enabled nor started"
  fi
else
  fail "icecam-camera postinst does not create the group icecam"
fi
grep -qx '/etc/icecam/rendezvous.env' "$tmp/icecam-rendezvous.control/conffiles" 2>/dev/null \
  && pass "rendezvous.env is a conffile" || fail "rendezvous.env is not a conffile"

# Library dependencies from dpkg-shlibdeps (for arm64: from the sysroot's packages' shlibs).
deps=$(dpkg-deb -f "$dir/gstreamer1.0-icecam_${version}_$arch.deb" Depends 2>/dev/null)
for lib in libc6 libglib2.0-0 libgstreamer1.0-0 libnice10 libsoup-3.0-0 libsrtp2-1 libssl3; do
  echo "$deps" | grep -qE "(^|, )$lib( |,|$)" || fail "gstreamer1.0-icecam ($arch) does not depend on $lib: $deps"
done
pass "gstreamer1.0-icecam ($arch) Depends: $deps"
deps=$(dpkg-deb -f "$dir/icecam-camera_${version}_$arch.deb" Depends 2>/dev/null)
for dep in "gstreamer1.0-icecam (= $version)" gstreamer1.0-plugins-ugly libgstreamer1.0-0; do
  echo "$deps" | grep -qF "$dep" || fail "icecam-camera ($arch) does not depend on $dep: $deps"
done

echo "# $failures failure(s)"
[ $failures -eq 0 ]
