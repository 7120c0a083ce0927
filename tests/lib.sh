# SPDX-License-Identifier: LGPL-2.1-or-later
# What the loopback test scripts share; sourced, not run. It makes $tmp, kills every pid in
# $pids when the script exits (with $TEST_KILL_SIGNAL, default TERM, after test_keep_logs if
# the script defines it) and counts failures for pass/fail, which print TAP-like lines.
# shellcheck shell=bash

tmp=$(mktemp -d)
pids=()
failures=0
test_main_pid=$BASHPID

test_cleanup() {
  local rc=$? p criticals
  # bash runs the EXIT trap in a child forked for "cmd &" that a signal ends before it execs
  # cmd: only the script itself cleans up.
  [ "$BASHPID" = "$test_main_pid" ] || return
  for p in "${pids[@]}"; do kill "-${TEST_KILL_SIGNAL:-TERM}" "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  # A GLib or GStreamer critical in any program the script ran fails the script, even one
  # printed at shutdown after every check passed (G_DEBUG=fatal-criticals also aborts it).
  criticals=$(grep -rlE -- '-CRITICAL \*\*' "$tmp" 2>/dev/null)
  if [ -n "$criticals" ]; then
    for p in $criticals; do
      echo "not ok - a critical in ${p#"$tmp"/}: $(grep -m1 -E -- '-CRITICAL \*\*' "$p")"
    done
    rc=1
  fi
  [ -n "${KEEP_LOG:-}" ] && declare -F test_keep_logs >/dev/null && test_keep_logs
  rm -rf "$tmp"
  exit $rc
}
trap test_cleanup EXIT

fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; }
now_ms() { date +%s%3N; }

# Waits until file $1 matches regex $2, for at most $3 seconds (polling the file the
# process writes; there is no event to wait on across processes).
wait_for_line() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Whether process $1 still runs (a zombie, exited but not yet waited for, does not).
pid_running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

# Stops process $1 as a user's Ctrl-C does (SIGINT) and waits for it; returns its exit status.
# One that has not exited within $2 seconds (default 15) fails the script with a line saying
# so, its threads' state (and stacks where gdb is installed) for the log, and is killed (then
# 124): a hang names itself instead of running into the suite's timeout.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + ${2:-15})) name
  kill -INT "$pid" 2>/dev/null
  while pid_running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  if pid_running "$pid"; then
    name=$(cat "/proc/$pid/comm" 2>/dev/null)
    fail "$name ($pid) did not exit within ${2:-15} s of SIGINT"
    for t in /proc/"$pid"/task/*; do
      echo "# $name thread ${t##*/}: $(awk '{ print $3 }' "$t/stat") $(cat "$t/wchan" 2>/dev/null)"
    done
    command -v gdb >/dev/null &&
      gdb -batch -p "$pid" -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^(Thread|#)' | cut -c1-200 |
        sed 's/^/# /'
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
  fi
  wait "$pid" 2>/dev/null
}

# The cameras online at the rendezvous on 127.0.0.1 port $1, from its /healthz.
healthz_cameras() {
  local body
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  body=$(cat <&3)
  exec 3<&-
  echo "$body" | grep -oE '"cameras" *: *[0-9]+' | grep -oE '[0-9]+$'
}

# Waits until the rendezvous on port $1 has $2 cameras online, for at most $3 (10) seconds.
wait_for_cameras() {
  local deadline=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(healthz_cameras "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
