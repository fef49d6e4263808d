# One etcd member restarted to apply changed settings (etcd cannot reload
# its flags), then every member healthy again before the next one restarts:
# quorum holds throughout. A member that already runs with its current
# files (restarted since they were written, by an earlier run or the TLS
# rollout) is left alone. Env: MEMBERS, TIMEOUT, FILES (what etcd reads at
# start, space separated); fact ETCD_ENDPOINTS.
started_at() {
  local at
  at=$(systemctl show --timestamp=us -p ExecMainStartTimestamp --value etcd)
  if [ -n "$at" ] && systemctl is-active --quiet etcd; then date -d "$at" +%s.%N; else echo 0; fi
}
# shellcheck disable=SC2086 # FILES is a list
written_at() { stat -c %.6Y $FILES 2>/dev/null | sort -n | tail -n 1; }
if awk -v s="$(started_at)" -v w="$(written_at)" 'BEGIN {exit !(s > w)}'; then
  echo "etcd on $(hostname) already runs with its current settings"
  exit 0
fi
systemctl restart etcd
all_members_healthy() {
  local healthy
  healthy=$(etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  echo "$healthy/$MEMBERS endpoints healthy"
  [ "$healthy" = "$MEMBERS" ]
}
wait_until "$TIMEOUT" "etcd healthy after restarting $(hostname)'s member" all_members_healthy
