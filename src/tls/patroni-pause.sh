# Maintenance mode around the Patroni restarts of the TLS migration: Patroni
# neither stops PostgreSQL when it stops nor fails over meanwhile.
#   pause   prints "paused" when it paused the cluster, "was-paused" when
#           the cluster already was (then resume leaves it paused);
#   resume  leaves maintenance mode.
# Env: ACTION; fact CLUSTER.
if [ "$ACTION" = pause ]; then
  if patronictl list -f json "$CLUSTER" >/dev/null 2>&1 && patronictl show-config "$CLUSTER" 2>/dev/null | grep -q '^pause: true'; then
    echo was-paused
    exit 0
  fi
  patronictl pause --wait "$CLUSTER" >/dev/null
  echo paused
else
  patronictl resume --wait "$CLUSTER" >/dev/null
  echo resumed
fi
