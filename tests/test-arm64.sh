#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The arm64 packages' binaries on loopback, each under qemu-aarch64-static: a rendezvous, a
# test-pattern camera and a headless viewer that must decode 30 frames. Run by
# scripts/cross-arm64.sh run, which unpacks the packages into ICECAM_ARM64_ROOT and sets the
# GStreamer paths; the libraries come from the arm64 sysroot ICECAM_ARM64_SYSROOT.
set -u
root=${ICECAM_ARM64_ROOT:?}
sysroot=${ICECAM_ARM64_SYSROOT:?}
TEST_KILL_SIGNAL=INT
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export XDG_DATA_HOME=$tmp/data

# exec: the pid a background call leaves in $! is qemu itself, for test_cleanup to stop.
arm64() { exec qemu-aarch64-static -L "$sysroot" "$@"; }

for cmd in icecam-rendezvous icecam-camera icecam-view icecam-natprobe; do
  file "$root/usr/bin/$cmd" | grep -q 'ARM aarch64' && pass "$cmd is an arm64 program" \
    || fail "$cmd is not an arm64 program: $(file "$root/usr/bin/$cmd")"
done
out=$(arm64 "$root/usr/bin/icecam-natprobe" --bogus 2>&1)
rc=$?
[ $rc -eq 2 ] && pass "icecam-natprobe --bogus exits 2 under qemu" || fail "icecam-natprobe --bogus (rc=$rc): $out"

# Without binfmt_misc GStreamer cannot run its (arm64) plugin scanner and scans in process,
# loading every plugin: the srtp element's libsrtp initialisation then spoils icecam's own.
# One throwaway process builds the registry (GST_REGISTRY_1_0) the others only read, as the
# scanner would on a real arm64 machine.
(arm64 "$root/usr/bin/icecam-view" --server ws://127.0.0.1:1 --camera none --timeout 1) \
  >"$tmp/registry.log" 2>&1
[ -s "$GST_REGISTRY_1_0" ] && pass "GStreamer registry of the arm64 plugins built" \
  || fail "no GStreamer registry at $GST_REGISTRY_1_0: $(tail -3 "$tmp/registry.log")"

arm64 "$root/usr/bin/icecam-rendezvous" --listen 127.0.0.1:0 >"$tmp/rendezvous.log" 2>&1 &
pids+=($!)
wait_for_line "$tmp/rendezvous.log" 'listening on ws://' 60 || { fail "rendezvous listening"; cat "$tmp/rendezvous.log"; exit 1; }
url=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$tmp/rendezvous.log" | head -1)
port=${url##*:}
pass "arm64 rendezvous listening at $url"

arm64 "$root/usr/bin/icecam-camera" --server "$url" --id pi --source test \
  --width 320 --height 240 --fps 15 >"$tmp/camera.log" 2>&1 &
pids+=($!)
if wait_for_cameras "$port" 1 120; then pass "arm64 camera registered"; else fail "arm64 camera registered"; cat "$tmp/camera.log"; fi

out=$(arm64 "$root/usr/bin/icecam-view" --server "$url" --camera pi --headless --frames 30 --timeout 120 2>&1)
rc=$?
summary=$(echo "$out" | grep '^icecam-view: result=')
echo "# $summary"
[ $rc -eq 0 ] && pass "arm64 icecam-view exits 0" || fail "arm64 icecam-view exits 0 (rc=$rc): $out"
echo "$summary" | grep -qE 'result=ok .*frames=(3[0-9]|[4-9][0-9]|[0-9]{3,}) ' && pass "30 frames decoded on arm64" \
  || fail "30 frames decoded on arm64: $summary"
echo "$summary" | grep -q 'pair=host/host ' && pass "host pair" || fail "host pair: $summary"

echo "# $failures failure(s)"
[ $failures -eq 0 ]
