# Reload a running keepalived with the keepalived.conf just written (a host
# without one running yet: its start step starts it). Env: VIP, RECORD (the
# VIP in force here, written by the gate), RETIRING.
# When the VIP moved to another address, the old one stays on the host that
# held it until the client hosts use the new one: keepalived drops it as it
# reloads, this adds it back outside keepalived, and the retire step (after
# the client hosts) removes it. HAProxy serves every address of the host, so
# the old address's clients keep writing through the new VIP's election and
# until their pg_service.conf names the new one.
systemctl is-active --quiet keepalived || exit 0
old=$(cat "$RECORD" 2>/dev/null || true)
held=
if [ -n "$old" ] && [ "$old" != "$VIP" ]; then
  held=$(ip -o -4 addr show | awk -v a="$old" '{ split($4, p, "/") } p[1] == a { print $2, $4; exit }')
fi
systemctl reload keepalived
if [ -n "$held" ]; then
  read -r dev cidr <<<"$held"
  # SIGHUP: keepalived drops the old address a moment later; add it back once it is gone.
  for _ in $(seq 50); do
    ip -o -4 addr show dev "$dev" | grep -q " $old/" || break
    sleep 0.1
  done
  ip addr add "$cidr" dev "$dev" 2>/dev/null || true
  mkdir -p "$(dirname "$RETIRING")"
  echo "$old $cidr $dev" >"$RETIRING"
  echo "keepalived: reloaded; $old kept on $dev until the client hosts use $VIP"
  exit 0
fi
echo "keepalived: reloaded"
