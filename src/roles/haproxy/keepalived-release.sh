#!/bin/sh
# keepalived's notify when this host leaves MASTER (BACKUP, FAULT, stop).
# Installed as is on the HAProxy hosts (not a step); runs as root (ss -K
# needs CAP_NET_ADMIN). Args: VIP.
# Clients' packets for the sessions opened here through the VIP now reach
# the new holder, which resets them: the clients reconnect, but this host
# never hears of it and would keep each session, and its PgBouncer server
# connection, until HAProxy's timeout. Close them now.
vip=$1
ss -K -t state connected src "$vip" >/dev/null 2>&1 || true
logger -t keepalived-release "no longer holding $vip: its sessions here closed"
exit 0
