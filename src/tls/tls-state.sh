# How far this host is along the way to TLS, for the TLS rollout: the CAs it
# trusts and its certificate (base64), and per component the stage its file
# says (none: not deployed here; plain: no marker) and whether it runs.
# A file that is not ours is none too: a packages image carries the
# packages' own /etc/default/etcd, pgbouncer.ini and haproxy.cfg, and a new
# host from it runs no cluster to migrate.
# Facts: TLS_CA, TLS_CERT, ETCD_ENV, PATRONI_CONFIG, PGBOUNCER_INI, HAPROXY_CONFIG, MANAGED_MARKER.
b64() { if [ -f "$1" ]; then base64 -w0 "$1"; fi; }
stage() { # file
  if [ ! -f "$1" ] || ! grep -qF "$MANAGED_MARKER" "$1"; then echo none; return; fi
  sed -n 's/^[#;] TLS stage: \([a-z-]*\)$/\1/p' "$1" | head -n 1 | grep . || echo plain
}
component() { # name file unit
  printf '"%s":{"stage":"%s","active":%s}' "$1" "$(stage "$2")" "$(systemctl is-active --quiet "$3" && echo true || echo false)"
}
printf '{"trust":"%s","certificate":"%s",%s,%s,%s,%s}\n' "$(b64 "$TLS_CA")" "$(b64 "$TLS_CERT")" \
  "$(component etcd "$ETCD_ENV" etcd)" "$(component patroni "$PATRONI_CONFIG" patroni)" \
  "$(component pgbouncer "$PGBOUNCER_INI" pgbouncer)" "$(component haproxy "$HAPROXY_CONFIG" haproxy)"
