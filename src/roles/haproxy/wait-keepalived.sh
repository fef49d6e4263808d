# Health gate for keepalived: it runs with its check enabled and can manage
# addresses, and the VIP serves: some HAProxy host holds it and routes to a
# primary. Env: VIP, HEALTH_SCHEME (https with TLS), HEALTH_PORT, HEALTH_URI,
# TIMEOUT, RECORD (where the VIP in force is noted: a later move reads it);
# fact CURL_TLS.
systemctl is-active --quiet keepalived || { journalctl -u keepalived -n 20 --no-pager >&2; exit 1; }
# What this keepalived (this start of it) logged: two failures keep it running, silently wrong.
log=$(journalctl -u keepalived --no-pager -o cat _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value keepalived)" 2>/dev/null || true)
if grep -q 'Netlink: error: Operation not permitted' <<<"$log"; then
  echo "keepalived may not add addresses here (no CAP_NET_ADMIN): it would hold the VIP without adding it" >&2
  exit 1
fi
if grep -qE 'Unsafe permissions|Disabling track script' <<<"$log"; then
  echo "keepalived disabled its check (script security): the VIP would no longer follow a healthy HAProxy" >&2
  grep -E 'Unsafe permissions|Disabling track script' <<<"$log" >&2
  exit 1
fi
vip_serves() { curl -fsS -K "$CURL_TLS" -o /dev/null --max-time 2 "$HEALTH_SCHEME://$VIP:$HEALTH_PORT$HEALTH_URI"; }
wait_until "$TIMEOUT" "the VIP $VIP answering with a primary behind it" vip_serves
mkdir -p "$(dirname "$RECORD")"
echo "$VIP" >"$RECORD"
holder=no
ip -o -4 addr show | awk '{ split($4, p, "/"); print p[1] }' | grep -qxF "$VIP" && holder=yes
echo "keepalived: running; VIP $VIP serves a primary (held here: $holder)"
