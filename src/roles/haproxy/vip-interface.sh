# The interface holding this host's address: where the VIP goes and VRRP
# speaks unless haproxy.vip.interface names one. Env: ADDRESS.
iface=$(ip -o -4 addr show | awk -v a="$ADDRESS" '{ split($4, p, "/") } p[1] == a { print $2; exit }')
if [ -z "$iface" ]; then
  echo "no interface holds $ADDRESS (hosts[].address); set haproxy.vip.interface" >&2
  ip -o -4 addr show >&2
  exit 1
fi
echo "$iface"
