#!/bin/sh
# keepalived's check (vrrp_script): exit 0 while this host may hold the VIP.
# Installed as is on the HAProxy hosts (not a step); keepalived.conf gives
# the arguments: PORT URI PEER... (HAProxy's stats port, its /primary-up
# URI, which answers 200 while HAProxy routes to a primary and 503 when it
# does not, and the other HAProxy hosts' addresses).
#  - this host's HAProxy does not answer: fail (the VIP moves away);
#  - it routes to a primary: ok;
#  - it does not: fail only if a peer's HAProxy does (the VIP should move
#    there). When no HAProxy sees a primary (Patroni is failing over) stay,
#    so the VIP never vanishes from every host at once: that would add a
#    whole VRRP election to the failover.
port=$1 uri=$2
shift 2
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port$uri")
case $code in
  200) exit 0 ;;
  503) ;;
  *) exit 1 ;;
esac
[ $# -gt 0 ] || exit 0
# Every peer at once (curl --parallel): a dead peer costs 0.5 s, not 0.5 s each.
n=$#
for peer; do set -- "$@" -o /dev/null "http://$peer:$port$uri"; done
shift "$n"
if curl -s --parallel --max-time 0.5 -w '%{http_code}\n' "$@" | grep -qx 200; then exit 1; fi
exit 0
