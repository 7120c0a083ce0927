# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034  # LAB_* and SITE_* are set for the sourcing script
# The NAT lab, sourced by the natlab tests: network namespaces joined by veth pairs, an
# "internet" router on documentation addresses, a server host (rendezvous + coturn) and, per
# test case, a camera site and a viewer site, each a LAN behind a NAT namespace of a chosen
# type, after the measured recipes of the project's NAT lab notes (RFC 4787 types with nftables).
#
#   inet (router) 203.0.113.1 ── srv: 203.0.113.2 (rendezvous), .3 and .4 (coturn)
#   for slot i:   198.51.100.16i+1 ── ci nat: .16i+2 ── LAN 10.1.i.0/24 (open: .16i+8/30)
#                 198.51.100.16i+5 ── vi nat: .16i+6 ── LAN 172.16.i.0/24 (open: .16i+12/30)
#
# Everything lives in namespaces named "$LAB_PREFIX-*" and is created inside them (no interface
# ever exists in the root namespace, so there is no route from it into the lab). The router
# only knows routes to public networks. lab_cleanup (installed as an EXIT trap by lab_init)
# kills every process the lab started, by PID, and deletes the namespaces.

LAB_SERVER_IP=203.0.113.2
LAB_TURN_IP1=203.0.113.3
LAB_TURN_IP2=203.0.113.4
LAB_TURN_PORT=3478

LAB_PREFIX=
LAB_TMP=
LAB_PIDS=()

lab_log() { echo "# lab: $*" >&2; }

lab_ns_name() { echo "$LAB_PREFIX-$1"; }

lab_exec() {
  local ns=$1
  shift
  ip netns exec "$(lab_ns_name "$ns")" "$@"
}

# Namespaces and temporary directories of earlier runs whose shell is gone (killed before
# its trap ran): their names carry that shell's PID.
lab_reap_stale() {
  local ns dir pid
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^icl[0-9]+-' || true); do
    pid=${ns#icl}
    pid=${pid%%-*}
    [ -d "/proc/$pid" ] && continue
    lab_log "removing stale namespace $ns"
    lab_kill_ns_pids "$ns"
    ip netns delete "$ns" 2>/dev/null
  done
  for dir in "${TMPDIR:-/tmp}"/icl[0-9]*.*; do
    [ -d "$dir" ] || continue
    pid=${dir##*/icl}
    pid=${pid%%.*}
    [ -d "/proc/$pid" ] || rm -rf "$dir"
  done
}

lab_kill_ns_pids() {
  local p
  for p in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
}

lab_cleanup() {
  local p ns
  for p in "${LAB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${LAB_PIDS[@]}"; do lab_wait_pid_gone "$p" 5 || kill -KILL "$p" 2>/dev/null; done
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$LAB_PREFIX-" || true); do
    lab_kill_ns_pids "$ns"
    ip netns delete "$ns" 2>/dev/null
  done
  [ -n "$LAB_TMP" ] && rm -rf "$LAB_TMP"
  LAB_PIDS=()
}

# Waits for process $1 to end, at most $2 seconds (it is not always our child: poll /proc).
lab_wait_pid_gone() {
  local deadline=$((SECONDS + $2))
  while [ -d "/proc/$1" ] && [ $SECONDS -lt $deadline ]; do
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && { wait "$1" 2>/dev/null; return 0; }
    sleep 0.05
  done
  [ ! -d "/proc/$1" ]
}

lab_init() {
  LAB_PREFIX="icl$$"
  LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$LAB_PREFIX.XXXXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  lab_reap_stale
}

# Waits until file $1 matches extended regex $2, at most $3 seconds.
lab_wait_line() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Runs "$@" in namespace $1 in the background, output to $2; the PID is in LAB_LAST_PID.
# `ip netns exec` execs, so the PID is the program's own.
lab_spawn() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$(lab_ns_name "$ns")" "$@" >"$log" 2>&1 &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# Stops a process started by lab_spawn: SIGINT first (the tools exit cleanly on it).
lab_stop() {
  kill -INT "$1" 2>/dev/null
  lab_wait_pid_gone "$1" 5 || kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# A namespace with loopback up, IPv6 off (link-local pairs slow ICE), and optionally forwarding.
lab_ns() {
  local ns=$1 forward=${2:-0}
  ip netns add "$(lab_ns_name "$ns")" || return 1
  lab_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.ip_forward="$forward" || return 1
  lab_exec "$ns" ip link set lo up
}

# A veth pair created directly inside the two namespaces (names must not start with "veth":
# libnice ignores those).
lab_link() {
  local ns1=$1 if1=$2 ns2=$3 if2=$4
  ip -n "$(lab_ns_name "$ns1")" link add "$if1" type veth peer name "$if2" \
    netns "$(lab_ns_name "$ns2")" || return 1
  ip -n "$(lab_ns_name "$ns1")" link set "$if1" up && ip -n "$(lab_ns_name "$ns2")" link set "$if2" up
}

lab_addr() { ip -n "$(lab_ns_name "$1")" addr add "$3" dev "$2"; }
lab_route() { ip -n "$(lab_ns_name "$1")" route add "$2" via "$3"; }

# The router and the server host.
lab_internet() {
  lab_ns inet 1 && lab_ns srv || return 1
  lab_link inet srv0 srv up0 || return 1
  lab_addr inet srv0 203.0.113.1/24 || return 1
  lab_addr srv up0 "$LAB_SERVER_IP/24" && lab_addr srv up0 "$LAB_TURN_IP1/24" &&
    lab_addr srv up0 "$LAB_TURN_IP2/24" || return 1
  lab_route srv default 203.0.113.1
}

# Addresses of site $1 (c or v) in slot $2 (0-15): sets SITE_ROUTER_IP SITE_NAT_IP (the WAN
# /30), SITE_PUB_NET SITE_PUB_GW SITE_PUB_HOST (an "open" site's public LAN) and SITE_PRIV_GW
# SITE_PRIV_HOST (a NATed site's private LAN).
lab_site_addresses() {
  local side=$1 i=$2 base
  [ "$side" = v ] && base=$((16 * i + 4)) || base=$((16 * i))
  SITE_ROUTER_IP="198.51.100.$((base + 1))"
  SITE_NAT_IP="198.51.100.$((base + 2))"
  SITE_PUB_NET="198.51.100.$((base + 8))/30"
  SITE_PUB_GW="198.51.100.$((base + 9))"
  SITE_PUB_HOST="198.51.100.$((base + 10))"
  if [ "$side" = c ]; then
    SITE_PRIV_GW="10.1.$i.1"
    SITE_PRIV_HOST="10.1.$i.2"
  else
    SITE_PRIV_GW="172.16.$i.1"
    SITE_PRIV_HOST="172.16.$i.2"
  fi
}

# Creates site $1$2 (e.g. c3): a NAT namespace "<site>nat" of type $3 and a LAN bridge with
# $4 hosts (1, or 2 on a NATed site) named "<site>" and "<site>b". Sets SITE_HOST_IP to the
# first host's address.
lab_site() {
  local side=$1 i=$2 type=$3 hosts=${4:-1} site="$1$2" nat="$1$2nat" gw host bits
  lab_site_addresses "$side" "$i"
  lab_ns "$nat" 1 || return 1
  lab_link inet "$site" "$nat" wan0 || return 1
  lab_addr inet "$site" "$SITE_ROUTER_IP/30" && lab_addr "$nat" wan0 "$SITE_NAT_IP/30" || return 1
  lab_route "$nat" default "$SITE_ROUTER_IP" || return 1
  if [ "$type" = open ]; then
    gw=$SITE_PUB_GW host=$SITE_PUB_HOST bits=30
    lab_route inet "$SITE_PUB_NET" "$SITE_NAT_IP" || return 1
  else
    gw=$SITE_PRIV_GW host=$SITE_PRIV_HOST bits=24
  fi
  lab_site_lan "$nat" "$gw" "$bits" || return 1
  lab_site_host "$nat" "$site" 1 "$host" "$gw" "$bits" || return 1
  if [ "$hosts" = 2 ]; then
    lab_site_host "$nat" "${site}b" 2 "${host%.*}.$((${host##*.} + 1))" "$gw" "$bits" || return 1
  fi
  SITE_HOST_IP=$host
  lab_nat_rules "$nat" "$type"
}

# The LAN side of a NAT namespace: bridge br0 holding the gateway address. While
# bridge-nf-call-iptables=1 (the default in every new namespace, br_netfilter being built in)
# hairpinned packets are silently dropped: turn it off.
lab_site_lan() {
  local nat=$1 gw=$2 bits=$3
  ip -n "$(lab_ns_name "$nat")" link add br0 type bridge || return 1
  ip -n "$(lab_ns_name "$nat")" link set br0 up || return 1
  lab_addr "$nat" br0 "$gw/$bits" || return 1
  if lab_exec "$nat" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    lab_exec "$nat" sysctl -qw net.bridge.bridge-nf-call-iptables=0
  fi
}

# Host namespace $2 on the LAN of NAT namespace $1, port lan$3 of the bridge, address $4/$6.
lab_site_host() {
  local nat=$1 host=$2 n=$3 ip=$4 gw=$5 bits=$6
  lab_ns "$host" || return 1
  lab_link "$nat" "lan$n" "$host" eth0 || return 1
  ip -n "$(lab_ns_name "$nat")" link set "lan$n" master br0 || return 1
  lab_addr "$host" eth0 "$ip/$bits" && lab_route "$host" default "$gw"
}

lab_site_remove() {
  local ns
  for ns in "$1$2" "$1$2b" "$1$2nat" "$1$2link"; do
    # (errors hidden: listing while another lab deletes a namespace says "Peer netns
    # reference is invalid" for the dying one)
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$(lab_ns_name "$ns")" || continue
    lab_kill_ns_pids "$(lab_ns_name "$ns")"
    ip netns delete "$(lab_ns_name "$ns")"
  done
  ip -n "$(lab_ns_name inet)" link del "$1$2" 2>/dev/null
  return 0
}

# nftables of a NAT namespace of type $2 (RFC 4787 mapping/filtering): port-restricted is plain
# masquerade (Linux keeps the source port: endpoint-independent mapping, address-and-port-
# dependent filtering), symmetric randomises the port per destination (symmetric-sequential
# counts it up), the cones add a map,
# udp-blocked drops forwarded UDP, open does nothing. Every NAT also drops, in the input hook,
# what arrives from the WAN unsolicited: otherwise a peer's early check leaves a conntrack
# entry in the NAT box and the next outbound packet to that peer gets a new port, which turns
# cones symmetric at random.
lab_nat_rules() {
  local nat=$1 type=$2
  case "$type" in
    open) return 0 ;;
    port-restricted) lab_nft_base "$nat" "" "" ;;
    symmetric) lab_nft_base "$nat" "fully-random" "" ;;
    symmetric-sequential) lab_nft_base "$nat" "" "$(lab_nft_sequential)" ;;
    udp-blocked) lab_nft_base "$nat" "" "$(lab_nft_udp_blocked)" ;;
    full-cone) lab_nft_base "$nat" "" "$(lab_nft_cone "inet_service" "udp sport" "udp dport")" ;;
    restricted-cone)
      lab_nft_base "$nat" "" \
        "$(lab_nft_cone "ipv4_addr . inet_service" "ip daddr . udp sport" "ip saddr . udp dport")" ;;
    *) lab_log "unknown NAT type '$type'"; return 1 ;;
  esac
}

lab_nft_base() {
  local nat=$1 masq_flags=$2 extra=$3
  lab_exec "$nat" nft -f - <<EOF
table ip lab {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" masquerade $masq_flags
  }
  $extra
}
EOF
}

# A symmetric NAT that allocates ports sequentially, as many carrier NATs do: each new UDP flow
# (a new remote address or port) gets the next public port, 20000, 20001, ... (wrapping after
# 1024; conntrack moves on where a port is still taken). Measured on Linux 6.x: "masquerade to
# :PORTS" (with or without "persistent") keeps one hashed port per inside socket (endpoint-
# independent), "random" draws at random; only a counter gives sequential ports. "numgen inc"
# as the port itself comes out byte-swapped (20000 becomes 8270), so a map turns the counter
# into ports. A chain before the masquerade one: the first NAT chain that maps a flow wins.
# Uses SITE_NAT_IP (set by lab_site).
lab_nft_sequential() {
  local elems k
  elems=$(for k in $(seq 0 1023); do printf '%d : %d, ' "$k" $((20000 + k)); done)
  cat <<EOF
  chain sequential {
    type nat hook postrouting priority srcnat - 1; policy accept;
    oifname "wan0" meta l4proto udp snat ip to $SITE_NAT_IP : numgen inc mod 1024 map { ${elems%, } }
  }
EOF
}

# Forwarded UDP is dropped both ways; the counter shows TCP to the TURN port (TURN over TCP).
lab_nft_udp_blocked() {
  cat <<EOF
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto udp counter drop
    tcp dport $LAB_TURN_PORT counter
    tcp sport $LAB_TURN_PORT counter
  }
EOF
}

# Cone NATs: after SNAT (srcnat+10) remember mapped port (full cone) or remote address . mapped
# port (restricted cone) -> inside address . port for connections the inside opened (only
# those: a reply's "original" is the remote); inbound UDP that hits the map is sent to the
# inside host. UDP only (TCP keeps conntrack semantics). $1 key type, $2 key when leaving,
# $3 key when arriving.
lab_nft_cone() {
  cat <<EOF
  map cone {
    type $1 : ipv4_addr . inet_service
    flags dynamic,timeout
    timeout 5m
  }
  chain remember {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "wan0" meta l4proto udp ct direction original \
      update @cone { $2 : ct original ip saddr . ct original proto-src }
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" meta l4proto udp dnat ip addr . port to $3 map @cone
  }
EOF
}

# Reboots NAT namespace $1 the way a home router that restarts (or a CGNAT that loses its
# state) does to the flows through it: every mapping is forgotten and new ones get other public
# ports, for TCP and UDP alike. $2 says what happens to the old TCP flows:
#   all   (default) they die silently: the inside host's next segments are dropped, nothing
#         answers them, and the remote's segments to the old public port are dropped too;
#         each end learns only by its own timeouts.
#   loose as a Linux NAT left at its defaults: the inside host's next segment of an old flow
#         gets a new mapping (conntrack "loose" pickup) on a new public port, so the remote
#         answers it with a reset and the inside host learns at once; the remote's own socket
#         still hears nothing.
#   udp   only UDP is remapped and forgotten; TCP flows survive (a control: the case an ICE
#         restart alone recovers from).
# How:
#  - New ports: source NAT to the WAN address with port = inside port XOR a per-reboot key
#    (0x1000-0x7fff, never the previous one): every public port changes, and the mapping stays
#    endpoint-independent (it depends on the inside port only), so a port-restricted NAT stays
#    port-restricted. A symmetric NAT ("random" masquerade) already draws fresh random ports:
#    it keeps its rules.
#  - Forgets: conntrack -F (-D -p udp for udp) and the cone map of a cone NAT, after the new
#    rules, so nothing is mapped the old way in between.
#  - all: nf_conntrack_tcp_loose=0 in the namespace (else an old flow's next mid-stream
#    segment re-creates a mapping, on the same public port where the rules keep ports: the
#    flow survives the "reboot") and forwarded packets in ct state invalid are dropped (else,
#    untracked, they would leave un-NATed from the private address). The remote's segments
#    meet no state and the input hook's WAN rule drops them.
# Measured in docs/traversal.md ("NAT reboot"). Logs "reboot <ns>: key=0x.... <mode>".
lab_nat_reboot() {
  local nat=$1 mode=${2:-all} ip key old l4="tcp, udp" random=
  case "$mode" in
    all | loose) ;;
    udp) l4=udp ;;
    *) lab_log "reboot $nat: unknown mode '$mode'"; return 1 ;;
  esac
  ip=$(lab_exec "$nat" ip -4 -o addr show dev wan0 | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
  [ -n "$ip" ] || { lab_log "reboot $nat: no WAN address"; return 1; }
  old=$(cat "$LAB_TMP/reboot-key-$nat" 2>/dev/null)
  key=$old
  while [ "$key" = "$old" ]; do key=$((0x1000 + RANDOM % 0x7000)); done
  echo "$key" >"$LAB_TMP/reboot-key-$nat"
  lab_exec "$nat" nft list chain ip lab postrouting | grep -q 'masquerade.*random' && random=1
  if [ "$mode" = all ]; then
    lab_exec "$nat" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 || return 1
    lab_exec "$nat" nft -f - <<EOF || return 1
add chain ip lab rebooted { type filter hook forward priority filter - 10; policy accept; }
flush chain ip lab rebooted
add rule ip lab rebooted ct state invalid counter drop
EOF
  fi
  if [ -z "$random" ]; then
    lab_exec "$nat" nft -f - <<EOF || return 1
flush chain ip lab postrouting
add rule ip lab postrouting oifname "wan0" meta l4proto { $l4 } snat ip to $ip : th sport ^ $key
add rule ip lab postrouting oifname "wan0" masquerade
EOF
  fi
  lab_exec "$nat" nft list map ip lab cone >/dev/null 2>&1 && lab_exec "$nat" nft flush map ip lab cone
  if [ "$mode" = udp ]; then
    lab_exec "$nat" conntrack -D -p udp >/dev/null 2>&1
  else
    lab_exec "$nat" conntrack -F 2>/dev/null
  fi
  lab_log "reboot $nat: key=$(printf '0x%04x' "$key") $mode${random:+ (random ports)}"
}

# coturn in the server namespace, in the foreground, with the configuration icecam ships
# (docs/coturn/icecam-turnserver.conf: REST credentials, no private, loopback or link-local
# peers, quotas) plus the lab's own lines: two listening IPs (RFC 5780 NAT discovery works),
# its secret and realm, files under the lab's temporary directory, verbose logs. The lab's
# "internet" (198.51.100.0/24, 203.0.113.0/24) is public to coturn: it stays relayable.
# Sets LAB_TURN_PID; $1 is the shared secret.
lab_coturn_start() {
  local secret=$1 dir="$LAB_TMP/coturn" shipped
  shipped="$(dirname "${BASH_SOURCE[0]}")/../../docs/coturn/icecam-turnserver.conf"
  mkdir -p "$dir"
  {
    grep -vE '^(static-auth-secret|realm|listening-port)=' "$shipped"
    cat <<EOF
listening-ip=$LAB_TURN_IP1
listening-ip=$LAB_TURN_IP2
listening-port=$LAB_TURN_PORT
static-auth-secret=$secret
realm=icecam.lab
userdb=$dir/turndb
pidfile=$dir/turnserver.pid
log-file=stdout
simple-log
verbose
EOF
  } >"$dir/turnserver.conf"
  lab_spawn srv "$dir/turnserver.log" stdbuf -oL turnserver -c "$dir/turnserver.conf"
  LAB_TURN_PID=$LAB_LAST_PID
  lab_wait_listening srv udp "$LAB_TURN_IP1:$LAB_TURN_PORT" 10 &&
    lab_wait_listening srv udp "$LAB_TURN_IP2:$LAB_TURN_PORT" 10 &&
    lab_wait_listening srv tcp "$LAB_TURN_IP1:$LAB_TURN_PORT" 10
}

# Waits until namespace $1 has a $2 (udp|tcp) socket listening on $3 (IP:PORT), at most $4 s.
lab_wait_listening() {
  local flag=-lun deadline=$((SECONDS + $4))
  [ "$2" = tcp ] && flag=-ltn
  while [ $SECONDS -lt $deadline ]; do
    lab_exec "$1" ss -H "$flag" | awk '{print $4}' | grep -qx "$3" && return 0
    sleep 0.05
  done
  return 1
}

# icecam-rendezvous in the server namespace on an ephemeral port; "$@" are extra options.
# Sets LAB_RENDEZVOUS_URL and LAB_RENDEZVOUS_PID; $1 is the log file.
lab_rendezvous_start() {
  local log=$1
  shift
  lab_spawn srv "$log" "$ICECAM_BUILD_DIR/src/server/icecam-rendezvous" \
    --listen "$LAB_SERVER_IP:0" "$@"
  LAB_RENDEZVOUS_PID=$LAB_LAST_PID
  lab_wait_line "$log" 'listening on ws://' 10 || return 1
  LAB_RENDEZVOUS_URL=$(grep -oE 'ws://[0-9.]+:[0-9]+' "$log" | head -1)
}

# Turns IPv6 on in namespace $1 without duplicate address detection, for the link-local
# addresses too (the global ones are added with nodad): nothing else on these links claims
# them. With DAD a link-local address stays tentative for ~1 s, and a router without a usable
# link-local address sends no neighbour solicitation, so the first packets it forwards wait
# for it: a viewer's first SYN over IPv6 was lost (its connect took 1.02 s in every run), and
# under load ICE's first IPv6 checks too, so relayed pairs won (CI run 41).
lab_ipv6_on() {
  lab_exec "$1" sh -c 'for f in /proc/sys/net/ipv6/conf/*/accept_dad; do echo 0 >"$f"; done' &&
    lab_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
}

# Global IPv6 for site $1$2 (after lab_site), the way a dual-stack ISP gives it: the NAT
# namespace becomes a plain IPv6 router (no NAT66) with the stateful firewall of a typical home
# router (from the WAN only established/related), its LAN gets a /64 and its host an address in
# it; the router routes the /64 to it. IPv4 stays NATed as lab_site made it. Addresses
# (documentation prefix, x = the slot in hex): WAN 2001:db8:N00x::/64, LAN 2001:db8:N10x::/64
# with N 1 for a camera site, 2 for a viewer's. Sets SITE_HOST_IP6.
lab_site_ipv6() {
  local side=$1 i=$2 site="$1$2" nat="$1$2nat" n=1 x ns
  [ "$side" = v ] && n=2
  x=$(printf '%x' "$i")
  for ns in inet "$nat" "$site"; do
    lab_ipv6_on "$ns" || return 1
  done
  lab_exec inet sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
  lab_exec "$nat" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
  lab_exec inet ip -6 addr add "2001:db8:${n}00$x::1/64" dev "$site" nodad || return 1
  lab_exec "$nat" ip -6 addr add "2001:db8:${n}00$x::2/64" dev wan0 nodad || return 1
  lab_exec "$nat" ip -6 addr add "2001:db8:${n}10$x::1/64" dev br0 nodad || return 1
  lab_exec "$site" ip -6 addr add "2001:db8:${n}10$x::2/64" dev eth0 nodad || return 1
  lab_exec "$nat" ip -6 route add default via "2001:db8:${n}00$x::1" || return 1
  lab_exec "$site" ip -6 route add default via "2001:db8:${n}10$x::1" || return 1
  lab_exec inet ip -6 route add "2001:db8:${n}10$x::/64" via "2001:db8:${n}00$x::2" || return 1
  SITE_HOST_IP6="2001:db8:${n}10$x::2"
  lab_exec "$nat" nft -f - <<NFT
table ip6 lab6 {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" drop
  }
}
NFT
}

# Global IPv6 for the server host: 2001:db8:ffff::2 (router 2001:db8:ffff::1). Sets LAB_SERVER_IP6.
lab_server_ipv6() {
  local ns
  for ns in inet srv; do
    lab_ipv6_on "$ns" || return 1
  done
  lab_exec inet ip -6 addr add 2001:db8:ffff::1/64 dev srv0 nodad || return 1
  lab_exec srv ip -6 addr add 2001:db8:ffff::2/64 dev up0 nodad || return 1
  lab_exec srv ip -6 route add default via 2001:db8:ffff::1 || return 1
  LAB_SERVER_IP6=2001:db8:ffff::2
}

# Puts icecam-link-emulator (tests/natlab/link-emulator.c) on the WAN link of NATed site $1$2,
# between the router and the NAT: a namespace "<site>link" whose interfaces up0 (router side)
# and down0 (NAT side) it joins. "$@" are its options: --ab-* is the site's downlink (from the
# internet), --ba-* its uplink. Sets LAB_EMULATOR_PID; its log is $LAB_TMP/<site>link.log.
lab_site_emulate() {
  local side=$1 i=$2 site="$1$2" nat="$1$2nat" link="$1$2link"
  shift 2
  lab_site_addresses "$side" "$i"
  ip -n "$(lab_ns_name inet)" link del "$site" || return 1
  lab_ns "$link" && lab_link inet "$site" "$link" up0 && lab_link "$link" down0 "$nat" wan0 ||
    return 1
  lab_addr inet "$site" "$SITE_ROUTER_IP/30" && lab_addr "$nat" wan0 "$SITE_NAT_IP/30" &&
    lab_route "$nat" default "$SITE_ROUTER_IP" || return 1
  lab_spawn "$link" "$LAB_TMP/$link.log" "$ICECAM_BUILD_DIR/tests/icecam-link-emulator" "$@" \
    up0 down0
  LAB_EMULATOR_PID=$LAB_LAST_PID
  lab_wait_line "$LAB_TMP/$link.log" 'running' 5
}
