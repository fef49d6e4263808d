# Health gate: every etcd member answers and the cluster has exactly the
# members we configured. Env: ENDPOINTS (comma separated), MEMBERS (count), TIMEOUT.
export ETCDCTL_API=3
all_members_healthy() {
  local healthy members
  healthy=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  members=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s member list 2>/dev/null | grep -c started || true)
  echo "$healthy/$MEMBERS endpoints healthy, $members members started"
  [ "$healthy" = "$MEMBERS" ] && [ "$members" = "$MEMBERS" ]
}
wait_until "${TIMEOUT:-120}" "etcd with $MEMBERS healthy members" all_members_healthy
