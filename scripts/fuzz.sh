#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets of fuzz/ with clang (-Dfuzzing=true, in build-fuzz) and runs each
# for a while on a copy of its corpus, after replaying fuzz/regressions/<target>/. The repository's
# corpus is never written to. Exit status: 0 if no target crashed, leaked, hung or ran out of memory.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]   (docs/hardening.md)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ICECAM_FUZZ_BUILD_DIR:-$top/build-fuzz}
seconds=${1:-30}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(protocol sdp ice-candidate stun-message rtcp proxy-header rtcp-feedback srtp mdns h264 dtls)
run=$build/fuzz-run # corpus copies, crash/leak reproducers and logs of the last run

case $seconds in
  '' | *[!0-9]*) echo "fuzz: SECONDS_PER_TARGET must be a number, not '$seconds'" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "fuzz: clang is missing: run scripts/setup.sh" >&2; exit 1; }

rm -f "$run/results"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$top" -Dfuzzing=true || exit 1
fi
ninja -C "$build" "${targets[@]/#/fuzz/fuzz-}" || exit 1

# GLib 2.74 hands out memory from its own slices unless told not to, and ASan cannot see
# overflows inside them. Leaks found while fuzzing have short stacks (GLib has no frame
# pointers, the fast unwinder stops at g_malloc()); the replay command printed below has whole
# ones.
export G_SLICE=always-malloc
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
mkdir -p "$run"
: >"$run/results" # one "<target> ok|failed" line per target, for scripts/test.sh
for t in "${targets[@]}"; do
  fuzzer=$build/fuzz/fuzz-$t
  corpus=$run/corpus/$t
  artifacts=$run/artifacts/$t
  log=$run/logs/$t.log
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts" "$run/logs"
  cp -R "$top/fuzz/corpus/$t/." "$corpus/"

  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "$top/fuzz/$t.dict" ] && args+=(-dict="$top/fuzz/$t.dict")
  # New inputs go to the first directory only; the others are replayed first.
  dirs=("$corpus")
  [ -d "$top/fuzz/regressions/$t" ] && dirs+=("$top/fuzz/regressions/$t")

  timeout $((seconds + 120)) "$fuzzer" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: ok, ${execs:-?} runs (${rate:-?}/s), ${cov:-no coverage line}, peak RSS ${rss:-?} MB"
    echo "$t ok" >>"$run/results"
    continue
  fi

  failed=$((failed + 1))
  echo "$t failed" >>"$run/results"
  echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} runs; log $log"
  grep -aE '^(==[0-9]+==ERROR|SUMMARY|icecam-fuzz:)|runtime error:|-CRITICAL \*\*' "$log" | head -5 | sed 's/^/  /'
  for input in $(grep -aoE 'Test unit written to [^ ]+' "$log" | awk '{print $5}'); do
    echo "  reproducer: $input"
    echo "  replay:     G_SLICE=always-malloc ASAN_OPTIONS=fast_unwind_on_malloc=0 $fuzzer $input"
    echo "  keep it:    cp $input $top/fuzz/regressions/$t/"
  done
  [ $rc -eq 124 ] && echo "  the run did not end $((seconds + 120)) s after it began"
done

echo "fuzz: ${#targets[@]} targets, $failed failed, ${seconds} s each"
[ $failed -eq 0 ]
