# Reload a running keepalived with the keepalived.conf just written (a host
# without one running yet: its start step starts it). Env: VIP, RECORD (the
# VIP in force here, written by the gate), RETIRING.
# When the VIP moved to another address, the old one stays on the host that
# held it until the client hosts use the new one: it is added to the
# loopback before the reload (keepalived then drops it from the VIP's
# interface, but the host keeps it, and answers ARP for it there), and the
# retire step (after the client hosts) removes it. HAProxy serves every
# address of the host, so the old address's clients keep writing through
# the new VIP's election and until their pg_service.conf names the new one.
systemctl is-active --quiet keepalived || exit 0
old=$(cat "$RECORD" 2>/dev/null || true)
kept=
if [ -n "$old" ] && [ "$old" != "$VIP" ] &&
  ip -o -4 addr show | awk -v a="$old" '{ split($4, p, "/") } p[1] == a { found = 1 } END { exit !found }'; then
  ip addr add "$old/32" dev lo 2>/dev/null || true
  mkdir -p "$(dirname "$RETIRING")"
  echo "$old $old/32 lo" >"$RETIRING"
  kept=yes
fi
systemctl reload keepalived
if [ -n "$kept" ]; then echo "keepalived: reloaded; $old kept here until the client hosts use $VIP"; else echo "keepalived: reloaded"; fi
