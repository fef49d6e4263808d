# One etcd member restarted to apply changed settings (etcd cannot reload
# its flags), then every member healthy again before the next one restarts:
# quorum holds throughout. Env: MEMBERS, TIMEOUT; fact ETCD_ENDPOINTS.
export ETCDCTL_API=3
systemctl restart etcd
all_members_healthy() {
  local healthy
  healthy=$(etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  echo "$healthy/$MEMBERS endpoints healthy"
  [ "$healthy" = "$MEMBERS" ]
}
wait_until "$TIMEOUT" "etcd healthy after restarting $(hostname)'s member" all_members_healthy
