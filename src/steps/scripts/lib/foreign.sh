# foreign_services: what runs on this host that this stack did not create,
# one description per line: an online PostgreSQL cluster (a primary or a
# standby; pg_lsclusters says "online,recovery" for a standby, and
# "online,patroni" when the cluster runs in a cgroup named after Patroni), an
# etcd, another stack's (or tool's) Patroni. Needs STACK, MANAGED_MARKER,
# PATRONI_CONFIG and ETCD_ENV. Reads only; runs as root (pg_lsclusters tells
# a running cluster by its postmaster's pid, which only root may read).
foreign_services() {
  if command -v pg_lsclusters >/dev/null; then
    { pg_lsclusters -h 2>/dev/null || true; } | while read -r version name port status _; do
      case "$status" in online*) echo "PostgreSQL cluster $version/$name (online, port $port)" ;; esac
    done
  fi
  if systemctl is-active --quiet etcd 2>/dev/null && ! grep -qF "$MANAGED_MARKER (stack $STACK)" "$ETCD_ENV" 2>/dev/null; then
    echo "etcd (running, $ETCD_ENV not written by this stack)"
  fi
  if [ -f "$PATRONI_CONFIG" ] && ! grep -qF "$MANAGED_MARKER (stack $STACK)" "$PATRONI_CONFIG" 2>/dev/null; then
    echo "Patroni ($PATRONI_CONFIG not written by this stack)"
  fi
}
