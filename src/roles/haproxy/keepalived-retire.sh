# After the client hosts moved to the VIP's new address: the old address,
# kept on this host by keepalived-reload.sh, goes, and the sessions still
# open through it are closed (their clients reconnect to the new address).
# Env: RETIRING, RELEASE (keepalived-release: closes a VIP's sessions).
[ -s "$RETIRING" ] || exit 0
read -r old cidr dev <"$RETIRING"
ip addr del "$cidr" dev "$dev" 2>/dev/null || true
"$RELEASE" "$old"
rm -f "$RETIRING"
echo "keepalived: the VIP's old address $old removed from $dev"
