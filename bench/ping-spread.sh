#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# How a rendezvous's keepalive pings arrive (docs/benchmarks.md, 13): one bench-connect-churn
# --hold process opens N camera connections as fast as it can (so that many arrive within the
# same second), answers every ping for S seconds and reports how many pings came at most
# within 10 ms, 100 ms and 1 s. Each RENDEZVOUS given is measured in turn, in one run.
#
#   bench/ping-spread.sh N S RENDEZVOUS...
#   bench/ping-spread.sh 10000 45 /tmp/rdv-before build-bench/src/server/icecam-rendezvous
set -u
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

n=${1:?usage: bench/ping-spread.sh N SECONDS RENDEZVOUS...}
seconds=${2:?usage: bench/ping-spread.sh N SECONDS RENDEZVOUS...}
shift 2
for server in "$@"; do
  RENDEZVOUS=$server bench_start_rendezvous --stun-listen none
  port=${URL##*:}
  port=${port%%/*}
  echo "== $server: $n connections, ${seconds} s, keepalive interval 20 s (the default)"
  "$BUILD/bench/bench-connect-churn" --port "$port" --connections "$n" --threads 8 --hold \
    --hold-seconds "$seconds" --tag spread | grep -v '^holding'
  bench_stop "$RV_PID"
done
