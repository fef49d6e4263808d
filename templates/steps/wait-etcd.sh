# Health gate: every configured etcd member answers and is a started member
# (while members are being removed the cluster may still have more).
# Env: ENDPOINTS (comma separated), MEMBERS (count), TIMEOUT.
export ETCDCTL_API=3
all_members_healthy() {
  local healthy members
  healthy=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  members=$(etcdctl --endpoints="$ENDPOINTS" --command-timeout=3s member list 2>/dev/null | grep -c started || true)
  echo "$healthy/$MEMBERS endpoints healthy, $members members started"
  [ "$healthy" = "$MEMBERS" ] && [ "$members" -ge "$MEMBERS" ]
}
wait_until "${TIMEOUT:-120}" "etcd with $MEMBERS healthy members" all_members_healthy
