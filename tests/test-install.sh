#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` as a packager runs it: into a DESTDIR, exactly the expected files; the systemd
# units pass systemd-analyze verify and keep their sandbox; the man pages render without a
# warning and name every option the commands' --help lists; the installed plugin loads.
set -u
build=${ICECAM_BUILD_DIR:?}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

dest=$tmp/dest
if meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
  pass "meson install --destdir"
else
  fail "meson install --destdir: $(tail -5 "$tmp/install.log")"
  exit 1
fi

# Where the build's options put things (absolute, as meson resolves them against the prefix).
option() {
  meson introspect --buildoptions "$build" | python3 -c '
import json, os, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
v = opts[sys.argv[1]]
print(v if v == "" or v.startswith("/") else os.path.join(opts["prefix"], v))' "$1"
}
prefix=$(option prefix)
bindir=$(option bindir)
libdir=$(option libdir)
mandir=$(option mandir)
sysconfdir=$(option sysconfdir)
unitdir=$(option systemdsystemunitdir)
[ -z "$unitdir" ] && unitdir=$prefix/lib/systemd/system
sysusersdir=$(option sysusersdir)
[ -z "$sysusersdir" ] && sysusersdir=$prefix/lib/sysusers.d

sort >"$tmp/expected" <<LIST
$bindir/icecam-camera
$bindir/icecam-natprobe
$bindir/icecam-rendezvous
$bindir/icecam-view
$libdir/gstreamer-1.0/libgsticecam.so
$mandir/man1/icecam-camera.1
$mandir/man1/icecam-natprobe.1
$mandir/man1/icecam-rendezvous.1
$mandir/man1/icecam-view.1
$sysconfdir/icecam/camera.env.example
$sysconfdir/icecam/rendezvous.env
$sysusersdir/icecam.conf
$unitdir/icecam-camera@.service
$unitdir/icecam-rendezvous.service
LIST
(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/installed"
if diff -u "$tmp/expected" "$tmp/installed" >"$tmp/diff"; then
  pass "installs exactly the $(wc -l <"$tmp/expected") expected files"
else
  fail "installed files differ from the expected ones:"; sed 's/^/#   /' "$tmp/diff"
fi

# The units: the binaries they start are those installed; then systemd's own check, on copies
# whose ExecStart points into the DESTDIR (verify wants the binary to exist).
for unit in icecam-rendezvous.service icecam-camera@.service; do
  file=$dest$unitdir/$unit
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$file")
  [ -x "$dest$exe" ] && pass "$unit starts the installed $exe" || fail "$unit ExecStart=$exe is not installed"
  envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$file")
  case $envfile in
    "$sysconfdir"/icecam/*) pass "$unit reads $envfile" ;;
    *) fail "$unit EnvironmentFile=$envfile is not under $sysconfdir/icecam" ;;
  esac
  for key in DynamicUser=yes ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
             PrivateTmp=yes CapabilityBoundingSet= 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK' \
             SystemCallFilter=@system-service 'SupplementaryGroups=.*icecam' RestartPreventExitStatus=2; do
    grep -qx "$key" "$file" || fail "$unit lacks $key"
  done
done
grep -qx 'LimitNOFILE=262144' "$dest$unitdir/icecam-rendezvous.service" \
  && pass "the rendezvous may hold 262144 descriptors" || fail "rendezvous LimitNOFILE"
camera_unit=$dest$unitdir/icecam-camera@.service
grep -qx 'SupplementaryGroups=video icecam' "$camera_unit" && grep -qx 'DeviceAllow=char-video4linux rw' "$camera_unit" \
  && pass "the camera unit may open /dev/videoN" || fail "camera unit video access"
grep -q -- '--id %i ' "$camera_unit" && grep -qx 'StateDirectory=icecam-camera/%i' "$camera_unit" \
  && pass "one camera per instance, its certificate in its own state directory" || fail "camera instance"

if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  for unit in icecam-rendezvous.service icecam-camera@.service; do
    sed "s|^ExecStart=|ExecStart=$dest|" "$dest$unitdir/$unit" >"$tmp/units/$unit"
    if systemd-analyze verify --man=no "$tmp/units/$unit" >"$tmp/verify.log" 2>&1 && [ ! -s "$tmp/verify.log" ]; then
      pass "systemd-analyze verify $unit"
    else
      fail "systemd-analyze verify $unit: $(cat "$tmp/verify.log")"
    fi
    # systemd's own score of the sandbox: 0 (locked down) to 10 (none); OK is below 4.
    level=$(systemd-analyze security --offline=true --man=no "$tmp/units/$unit" 2>/dev/null \
              | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] && awk "BEGIN { exit !($level < 2.5) }" && pass "$unit exposure $level (systemd-analyze security)" \
      || fail "$unit exposure level '$level' not below 2.5"
  done
else
  fail "systemd-analyze is missing (scripts/setup.sh test installs systemd)"
fi

# The man pages: rendered without a warning, and naming every option of today's --help-all.
for cmd in icecam-rendezvous icecam-camera icecam-view icecam-natprobe; do
  page=$dest$mandir/man1/$cmd.1
  if LC_ALL=C.UTF-8 MANWIDTH=200 man --warnings -l "$page" >"$tmp/$cmd.txt" 2>"$tmp/$cmd.warn" \
     && [ ! -s "$tmp/$cmd.warn" ] && grep -q "^NAME" "$tmp/$cmd.txt"; then
    pass "man -l $cmd.1 renders without warnings"
  else
    fail "man -l $cmd.1: $(head -3 "$tmp/$cmd.warn")"
  fi
  missing=
  for opt in $("$dest$bindir/$cmd" --help-all 2>/dev/null || "$dest$bindir/$cmd" --help; \
               [ "$cmd" = icecam-rendezvous ] && "$dest$bindir/$cmd" token --help); do
    case $opt in --gst-*|--help*) continue ;; esac
    opt=$(echo "$opt" | grep -oE '^--[a-z0-9-]+') || continue
    grep -q -- "$opt" "$tmp/$cmd.txt" || missing="$missing $opt"
  done
  [ -z "$missing" ] && pass "$cmd.1 names every option of $cmd --help" || fail "$cmd.1 lacks:$missing"
done

# The installed plugin, alone on the plugin path (a registry of this test's own).
plugindir=$dest$libdir/gstreamer-1.0
out=$(GST_PLUGIN_PATH_1_0=$plugindir GST_PLUGIN_PATH= GST_REGISTRY_1_0=$tmp/registry.bin \
      gst-inspect-1.0 icecamsink 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -qE "Filename +$plugindir/libgsticecam.so"; then
  pass "gst-inspect-1.0 icecamsink loads the installed plugin"
else
  fail "gst-inspect-1.0 icecamsink (rc=$rc): $(echo "$out" | head -5)"
fi
out=$(GST_PLUGIN_PATH_1_0=$plugindir GST_PLUGIN_PATH= GST_REGISTRY_1_0=$tmp/registry.bin \
      gst-inspect-1.0 icecamsrc 2>&1) && pass "gst-inspect-1.0 icecamsrc" || fail "gst-inspect-1.0 icecamsrc: $out"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
