#!/bin/sh
# keepalived's check (vrrp_script): exit 0 while this host may hold the VIP.
# Installed as is on the HAProxy hosts (not a step); keepalived.conf gives
# the arguments: PORT URI CA PEER... (HAProxy's stats port, its /primary-up
# URI, which answers 200 while HAProxy routes to a primary and 503 when it
# does not, the cluster's CA file, and the other HAProxy hosts' addresses).
#  - this host's HAProxy does not answer: fail (the VIP moves away);
#  - it routes to a primary: ok;
#  - it does not: fail only if a peer's HAProxy does (the VIP should move
#    there). When no HAProxy sees a primary (Patroni is failing over) stay,
#    so the VIP never vanishes from every host at once: that would add a
#    whole VRRP election to the failover.
port=$1 uri=$2 ca=$3
shift 3
# With TLS the stats page speaks https, verified against the cluster's CAs
# (CA, absent without TLS); before the TLS migration reaches HAProxy it
# still speaks http. So each host is asked over both at once: the scheme
# its port does not speak fails the handshake (000).
ask() { # MAX-TIME HOST...: one status code per URL, every URL at once (curl --parallel)
  max=$1
  shift
  n=$#
  for h; do set -- "$@" -o /dev/null "https://$h:$port$uri" -o /dev/null "http://$h:$port$uri"; done
  shift "$n"
  if [ -r "$ca" ]; then set -- --cacert "$ca" "$@"; fi
  curl -s --parallel --max-time "$max" -w '%{http_code}\n' "$@"
}
code=$(ask 1 127.0.0.1 | grep -vx 000 | head -n 1)
case $code in
  200) exit 0 ;;
  503) ;;
  *) exit 1 ;;
esac
[ $# -gt 0 ] || exit 0
# Every peer at once: a dead peer costs 0.5 s, not 0.5 s each.
if ask 0.5 "$@" | grep -qx 200; then exit 1; fi
exit 0
