#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# icecam-natprobe behind every NAT type of the lab (lab.sh): for each type, one LAN host runs
# the probe against the rendezvous's STUN responder (RFC 5780 with --stun-alternate, the
# server host having a second public address) and against coturn, and runs
# turnutils_natdiscovery against coturn. Asserts that the probe's mapping and filtering verdicts
# and its classic type are those of the NAT type, and that they agree with
# turnutils_natdiscovery's. Then measures a mapping lifetime (a NAT whose conntrack forgets
# idle UDP after a few seconds) and checks that icecam-camera and icecam-view --nat-probe
# report the verdict. Prints TAP; writes the matrix to $ICECAM_BUILD_DIR/natprobe.md.
# ICECAM_NATLAB_KEEP_LOGS=1 keeps every output in $ICECAM_BUILD_DIR/natlab-logs/natprobe.
set -u

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP network namespaces need root"
  exit 77
fi
build=${ICECAM_BUILD_DIR:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

NATPROBE=$build/src/tools/icecam-natprobe
# A second public address of the server host: the rendezvous's RFC 5780 alternate.
STUN_ALTERNATE_IP=203.0.113.5
# The conntrack UDP timeout of the lifetime case's NAT, in seconds.
SHORT_UDP_TIMEOUT=8

# NAT type → what the probe must say: NAT present, mapping, filtering, classic type, port
# allocation (its "ports:" line's first word).
EXPECTED=$(cat <<'EOF'
open             no       endpoint-independent  endpoint-independent        open                 same
full-cone        yes      endpoint-independent  endpoint-independent        full-cone            same
restricted-cone  yes      endpoint-independent  address-dependent           restricted-cone      same
port-restricted  yes      endpoint-independent  address-and-port-dependent  port-restricted-cone same
symmetric        yes      address-and-port-dependent address-and-port-dependent symmetric       random
symmetric-sequential yes  address-and-port-dependent address-and-port-dependent symmetric       sequential
udp-blocked      unknown  unknown               unknown                     udp-blocked          unknown
EOF
)

failures=0
tests=0
ROWS=()
LOGS=

tap_ok() { tests=$((tests + 1)); echo "ok $tests - $*"; }
tap_not_ok() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $*"; }
tap_check() {
  local what=$1
  shift
  if "$@"; then tap_ok "$what"; else tap_not_ok "$what"; fi
}

check_tools() {
  local t missing=
  for t in ip nft ss turnserver turnutils_natdiscovery stdbuf awk sysctl; do
    command -v "$t" >/dev/null || missing="$missing $t"
  done
  for t in server/icecam-rendezvous tools/icecam-natprobe tools/icecam-camera tools/icecam-view; do
    [ -x "$build/src/$t" ] || missing="$missing $build/src/$t"
  done
  [ -z "$missing" ] && return 0
  echo "Bail out! missing:$missing"
  return 1
}

# The server host gets the rendezvous's alternate address next to lab.sh's three.
setup_lab() {
  lab_internet || return 1
  lab_addr srv up0 "$STUN_ALTERNATE_IP/24" || return 1
  lab_coturn_start "natprobe-$$-$RANDOM" || { cat "$LAB_TMP/coturn/turnserver.log"; return 1; }
  lab_rendezvous_start "$LAB_TMP/rendezvous.log" --verbose --stun-alternate "$STUN_ALTERNATE_IP" ||
    { cat "$LAB_TMP/rendezvous.log"; return 1; }
  grep -q 'rfc5780 other address' "$LAB_TMP/rendezvous.log" || return 1
  LOGS=$LAB_TMP/logs
  mkdir -p "$LOGS"
  echo "# $(grep -m1 'listening on' "$LAB_TMP/rendezvous.log")"
  echo "# coturn at $LAB_TURN_IP1:$LAB_TURN_PORT and $LAB_TURN_IP2"
}

# The value after "$2:" in icecam-natprobe's text output $1.
probe_field() { sed -nE "s/^$2: +//p" <<<"$1" | head -1; }

# turnutils_natdiscovery's verdict lines as the probe's words: sets TU_NAT, TU_MAPPING and
# TU_FILTERING ("unknown" for what it did not say), and TU_SILENT (yes when no answer came at
# all: only "STUN receive timeout" lines; filtered tests time out too, after an answer).
parse_turnutils() {
  local out=$1
  TU_NAT=unknown TU_MAPPING=unknown TU_FILTERING=unknown TU_SILENT=no
  grep -q 'STUN receive timeout' <<<"$out" && ! grep -q 'RFC 5780 response' <<<"$out" &&
    TU_SILENT=yes
  if grep -q 'No NAT' <<<"$out"; then TU_NAT=no; elif grep -q 'NAT with' <<<"$out"; then TU_NAT=yes; fi
  case "$out" in
    *'Address and Port Dependent Mapping'*) TU_MAPPING=address-and-port-dependent ;;
    *'Address Dependent Mapping'*) TU_MAPPING=address-dependent ;;
    *'Endpoint Independent Mapping'*) TU_MAPPING=endpoint-independent ;;
  esac
  case "$out" in
    *'Address and Port Dependent Filtering'*) TU_FILTERING=address-and-port-dependent ;;
    *'Address Dependent Filtering'*) TU_FILTERING=address-dependent ;;
    *'Endpoint Independent Filtering'*) TU_FILTERING=endpoint-independent ;;
  esac
  # Without NAT it does not test the mapping: there is none to depend on anything.
  [ "$TU_NAT" = no ] && [ "$TU_MAPPING" = unknown ] && TU_MAPPING=endpoint-independent
  return 0
}

# Runs the probe in LAN host $1 against $2 (a --server or --rendezvous option and its value);
# sets OUT and RC, keeps the output in $3.
run_probe() {
  local host=$1 log=$4
  OUT=$(lab_exec "$host" timeout 60 "$NATPROBE" "$2" "$3" 2>"$log.err")
  RC=$?
  printf '%s\n' "$OUT" >"$log"
}

# Checks one probe run against the expectations of its NAT type and against turnutils.
check_probe() {
  local label=$1 nat=$2 mapping=$3 filtering=$4 type=$5 ports=$6 got_type got_mapping got_filtering
  local got_ports
  got_ports=$(probe_field "$OUT" ports)
  tap_check "$label: ports $ports (got ${got_ports:-none})" [ "${got_ports%% *}" = "$ports" ]
  got_type=$(probe_field "$OUT" "NAT type")
  got_mapping=$(probe_field "$OUT" mapping)
  got_filtering=$(probe_field "$OUT" filtering)
  tap_check "$label: exits 0 (rc=$RC)" [ "$RC" = 0 ]
  tap_check "$label: NAT present $nat (got $(probe_field "$OUT" "NAT present"))" \
    [ "$(probe_field "$OUT" "NAT present")" = "$nat" ]
  tap_check "$label: mapping $mapping (got $got_mapping)" [ "$got_mapping" = "$mapping" ]
  tap_check "$label: filtering $filtering (got $got_filtering)" [ "$got_filtering" = "$filtering" ]
  tap_check "$label: type $type (got $got_type)" [ "$got_type" = "$type" ]
  if [ "$type" = udp-blocked ]; then
    tap_check "$label: agrees with turnutils_natdiscovery (no answer at all: $TU_SILENT)" \
      [ "$TU_SILENT/$TU_MAPPING/$TU_FILTERING" = yes/unknown/unknown ]
  else
    tap_check "$label: agrees with turnutils_natdiscovery ($TU_MAPPING / $TU_FILTERING)" \
      [ "$got_mapping/$got_filtering" = "$TU_MAPPING/$TU_FILTERING" ]
  fi
}

# Verdict cell of the matrix: "mapping / filtering → type (hairpinning)".
cell() {
  printf '%s / %s → %s (hairpin %s; ports %s)' "$(probe_field "$1" mapping)" \
    "$(probe_field "$1" filtering)" "$(probe_field "$1" "NAT type")" \
    "$(probe_field "$1" hairpinning)" "$(probe_field "$1" ports)"
}

run_type() {
  local i=$1 kind=$2 nat=$3 mapping=$4 filtering=$5 type=$6 ports=$7 host="c$1" tu rendezvous coturn
  if ! lab_site c "$i" "$kind"; then
    tap_not_ok "$kind: lab site"
    return
  fi
  tu=$(lab_exec "$host" timeout 60 turnutils_natdiscovery -m -f -L "$SITE_HOST_IP" "$LAB_TURN_IP1" 2>&1)
  printf '%s\n' "$tu" >"$LOGS/$kind-turnutils.log"
  parse_turnutils "$tu"
  echo "# $kind: turnutils_natdiscovery: nat=$TU_NAT mapping=$TU_MAPPING filtering=$TU_FILTERING"

  run_probe "$host" --rendezvous "$LAB_RENDEZVOUS_URL" "$LOGS/$kind-rendezvous.log"
  rendezvous=$OUT
  check_probe "$kind vs rendezvous" "$nat" "$mapping" "$filtering" "$type" "$ports"
  run_probe "$host" --server "stun:$LAB_TURN_IP1:$LAB_TURN_PORT" "$LOGS/$kind-coturn.log"
  coturn=$OUT
  check_probe "$kind vs coturn" "$nat" "$mapping" "$filtering" "$type" "$ports"

  if [ "$TU_SILENT" = yes ]; then
    tu="no answer (STUN receive timeout)"
  else
    tu="$TU_MAPPING / $TU_FILTERING"
  fi
  ROWS+=("| $kind | $(cell "$rendezvous") | $(cell "$coturn") | $tu |")
  lab_site_remove c "$i"
}

# The JSON form parses and carries the same verdict.
check_json() {
  local i=$1 out
  lab_site c "$i" port-restricted || { tap_not_ok "json: lab site"; return; }
  out=$(lab_exec "c$i" "$NATPROBE" --rendezvous "$LAB_RENDEZVOUS_URL" --json 2>/dev/null)
  printf '%s\n' "$out" >"$LOGS/json.log"
  if command -v jq >/dev/null; then
    tap_check "json: port-restricted as one JSON object" \
      [ "$(jq -r '[.nat_type, .mapping, .filtering, .rfc5780, .paths.symmetric] | join(" ")' \
        <<<"$out")" = "port-restricted-cone endpoint-independent address-and-port-dependent true relay" ]
  else
    tap_check "json: port-restricted-cone in the JSON" grep -q '"nat_type" : "port-restricted-cone"' <<<"$out"
  fi
  lab_site_remove c "$i"
}

# A NAT whose conntrack forgets idle UDP flows after SHORT_UDP_TIMEOUT s: the lifetime test
# must bracket it, against both servers (both do RESPONSE-PORT).
check_lifetime() {
  local i=$1 out lifetime server
  lab_site c "$i" port-restricted || { tap_not_ok "lifetime: lab site"; return; }
  lab_exec "c${i}nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$SHORT_UDP_TIMEOUT"
  for server in "--rendezvous $LAB_RENDEZVOUS_URL" "--server stun:$LAB_TURN_IP1:$LAB_TURN_PORT"; do
    # shellcheck disable=SC2086  # option and value
    out=$(lab_exec "c$i" timeout 200 "$NATPROBE" $server --lifetime 2>/dev/null)
    printf '%s\n' "$out" >>"$LOGS/lifetime.log"
    lifetime=$(probe_field "$out" lifetime)
    tap_check "lifetime ${server%% *}: a ${SHORT_UDP_TIMEOUT} s conntrack timeout is found \"$lifetime\"" \
      lifetime_brackets "$lifetime" "$SHORT_UDP_TIMEOUT"
    ROWS_LIFETIME+=("| port-restricted, conntrack UDP timeout ${SHORT_UDP_TIMEOUT} s | ${server%% *} | $lifetime |")
  done
  lab_site_remove c "$i"
}

# "between A and B s" with A <= $2 <= B.
lifetime_brackets() {
  local low high
  [[ $1 =~ ^between\ ([0-9]+)\ and\ ([0-9]+)\ s$ ]] || return 1
  low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]}
  [ "$low" -le "$2" ] && [ "$2" -le "$high" ]
}

# icecam-camera --nat-probe prints its verdict line; icecam-view --nat-probe puts nat= in its
# summary, here of a session that fails (no such camera).
check_tools_report() {
  local i=$1 log=$LOGS/camera.log summary
  lab_site c "$i" symmetric || { tap_not_ok "tools: lab site"; return; }
  lab_spawn "c$i" "$log" stdbuf -oL "$build/src/tools/icecam-camera" --server "$LAB_RENDEZVOUS_URL" \
    --id natprobe-cam --source test --nat-probe
  tap_check "icecam-camera --nat-probe: says symmetric" \
    lab_wait_line "$log" '^icecam-camera: nat=symmetric mapping=address-and-port-dependent filtering=address-and-port-dependent ports=random$' 20
  lab_stop "$LAB_LAST_PID"
  summary=$(lab_exec "c$i" timeout 60 "$build/src/tools/icecam-view" --server "$LAB_RENDEZVOUS_URL" \
    --camera nobody --headless --timeout 2 --nat-probe 2>&1 | tee "$LOGS/view.log" |
    grep -E '^icecam-view: result=' | tail -1)
  echo "# $summary"
  tap_check "icecam-view --nat-probe: the failed session's summary says nat=symmetric" \
    grep -qE 'result=error .* nat=symmetric$' <<<"$summary"
  lab_site_remove c "$i"
}

write_matrix() {
  local row
  {
    echo "| NAT type (lab) | icecam-natprobe → rendezvous (--stun-alternate) | icecam-natprobe → coturn | turnutils_natdiscovery → coturn |"
    echo "|---|---|---|---|"
    for row in "${ROWS[@]}"; do echo "$row"; done
    echo
    echo "| mapping lifetime case | server | icecam-natprobe --lifetime |"
    echo "|---|---|---|"
    for row in "${ROWS_LIFETIME[@]}"; do echo "$row"; done
  } >"$build/natprobe.md"
}

main() {
  local start=$SECONDS i=0 kind nat mapping filtering type ports
  ROWS_LIFETIME=()
  check_tools || exit 1
  lab_init
  if ! setup_lab; then
    echo "Bail out! the lab did not come up"
    exit 1
  fi
  while read -r -u 3 kind nat mapping filtering type ports; do
    [ -z "$kind" ] && continue
    run_type "$i" "$kind" "$nat" "$mapping" "$filtering" "$type" "$ports"
    i=$((i + 1))
  done 3<<<"$EXPECTED"
  check_json "$i"
  check_lifetime "$i"
  check_tools_report "$i"
  echo "1..$tests"
  write_matrix
  if [ "$failures" != 0 ] || [ "${ICECAM_NATLAB_KEEP_LOGS:-0}" = 1 ]; then
    rm -rf "$build/natlab-logs/natprobe"
    mkdir -p "$build/natlab-logs/natprobe"
    cp -r "$LOGS"/. "$LAB_TMP/rendezvous.log" "$LAB_TMP/coturn/turnserver.log" \
      "$build/natlab-logs/natprobe/" 2>/dev/null
    echo "# logs in $build/natlab-logs/natprobe"
  fi
  echo "# $failures failure(s) in $((SECONDS - start)) s; matrix in $build/natprobe.md"
  [ "$failures" = 0 ]
}

main "$@"
