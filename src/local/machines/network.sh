#!/usr/bin/env bash
# The stand's L2 segment: one Linux bridge in the root namespace that every
# machine's veth is plugged into. The bridge address is the machines' gateway
# and where the apt proxy listens.
#
#   network.sh up     [--bridge pgstand0] [--address 10.213.0.1/24]
#   network.sh down   [--bridge pgstand0] [--force]
#   network.sh status [--bridge pgstand0]          -> prints "up" or "down"
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [[ -n $cmd ]] || usage; shift
bridge=pgstand0 address=10.213.0.1/24 force=0
while (($#)); do
  case $1 in
    --bridge) bridge=${2:?}; shift 2 ;;
    --address) address=${2:?}; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ $bridge =~ ^[a-zA-Z0-9_.-]{1,15}$ ]] || die "bridge name '$bridge' must be 1-15 characters [a-zA-Z0-9_.-]"
valid_cidr "$address" || die "--address must look like 10.213.0.1/24, got '$address'"
check_stand_ip "${address%/*}"
require_root
require_cmds ip flock

bridge_exists() { ip link show dev "$bridge" >/dev/null 2>&1; }

up() {
  if bridge_exists; then
    ip -d link show dev "$bridge" | grep -qw bridge || die "$bridge exists but is not a bridge"
  else
    log "creating bridge $bridge"
    # A fixed MAC: otherwise the bridge takes the lowest port MAC, which changes
    # as machines come and go and leaves stale gateway ARP entries inside them.
    local h; h=$(short_hash "bridge/$bridge" 10)
    ip link add name "$bridge" address "02:${h:0:2}:${h:2:2}:${h:4:2}:${h:6:2}:${h:8:2}" type bridge stp_state 0 forward_delay 0
  fi
  # The stand must never reach anything but itself: never forward packets that
  # arrive from the machines (their default route points here), whatever the
  # global ip_forward says. No IPv6 on the segment either.
  sysctl -qw "net.ipv4.conf.$bridge.forwarding=0"
  [[ -e /proc/sys/net/ipv6/conf/$bridge ]] && sysctl -qw "net.ipv6.conf.$bridge.disable_ipv6=1"
  if ! ip -4 -o addr show dev "$bridge" | grep -q " $address "; then
    ip addr add "$address" dev "$bridge"
  fi
  ip link set dev "$bridge" up
  echo up
}

down() {
  if ! bridge_exists; then echo down; return 0; fi
  local ports
  ports=$(ip -o link show master "$bridge" | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' ')
  if [[ -n ${ports// /} ]]; then
    ((force)) || die "bridge $bridge still has ports ($ports); destroy the machines first or pass --force"
    log "warning: removing bridge with attached ports: $ports"
  fi
  ip link del dev "$bridge"
  echo down
}

status() { if bridge_exists && ip link show dev "$bridge" | grep -q '[<,]UP[,>]'; then echo up; else echo down; fi; }

case $cmd in
  up) with_lock "network-$bridge" up ;;
  down) with_lock "network-$bridge" down ;;
  status) status ;;
  *) usage ;;
esac
