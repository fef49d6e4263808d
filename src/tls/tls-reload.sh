# Services pick up this host's new certificate without a restart: Patroni
# on SIGHUP (its REST API re-reads a certificate with a new serial, and it
# reloads PostgreSQL), PgBouncer and HAProxy on reload. etcd reads its
# certificate per connection. Then waits until every listed port presents
# the certificate with SERIAL (uppercase hex without leading zeros).
# Env: UNITS (space separated; those not running are skipped), ADDRESS,
# PORTS (space separated "port:starttls", starttls postgres or -), SERIAL,
# TIMEOUT; facts TLS_CA, TLS_CERT, TLS_KEY.
for unit in $UNITS; do
  if systemctl is-active --quiet "$unit"; then systemctl reload "$unit"; fi
done
[ -n "$SERIAL" ] || exit 0
serves_serial() {
  local p port starttls live args
  for p in $PORTS; do
    port=${p%%:*} starttls=${p#*:}
    args=(-connect "$ADDRESS:$port" -CAfile "$TLS_CA" -cert "$TLS_CERT" -key "$TLS_KEY")
    [ "$starttls" = - ] || args+=(-starttls "$starttls")
    live=$(openssl s_client "${args[@]}" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2 | sed 's/^0*//')
    if [ "$live" != "$SERIAL" ]; then
      echo "port $port still presents serial ${live:-none}"
      return 1
    fi
  done
}
WAIT_INTERVAL=0.5 wait_until "$TIMEOUT" "$(hostname) serving its new certificate ($SERIAL)" serves_serial
echo "$(hostname): ${UNITS:-no service} reloaded; ports $PORTS serve serial $SERIAL"
