# Health gate: every etcd member answers and the cluster has exactly the
# members we configured. Env: ENDPOINTS (comma separated), MEMBERS (count), TIMEOUT.
export ETCDCTL_API=3
deadline=$(( $(date +%s) + ${TIMEOUT:-120} ))
while :; do
  healthy=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  members=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s member list 2>/dev/null | grep -c started || true)
  if [ "$healthy" = "$MEMBERS" ] && [ "$members" = "$MEMBERS" ]; then
    echo "etcd healthy: $healthy/$MEMBERS endpoints, $members members started"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "etcd not healthy after ${TIMEOUT:-120}s: $healthy/$MEMBERS endpoints healthy, $members members started" >&2
    etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s endpoint health >&2 || true
    exit 1
  fi
  sleep 1
done
