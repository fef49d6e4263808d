# One etcd member restarted to apply changed settings (etcd cannot reload
# its flags), then every member healthy again before the next one restarts:
# quorum holds throughout. A member that already runs with its current
# files (restarted since they were written, by an earlier run or the TLS
# rollout) is left alone. Env: MEMBERS, TIMEOUT, FILES (what etcd reads at
# start, space separated); fact ETCD_ENDPOINTS.
started_at() {
  local pid
  pid=$(systemctl show -p MainPID --value etcd)
  [ "${pid:-0}" != 0 ] || { echo 0; return; }
  # Process start: seconds since boot (field 22, in clock ticks) plus the boot time.
  awk -v ticks="$(getconf CLK_TCK)" -v boot="$(awk '/^btime/ {print $2}' /proc/stat)" '{printf "%.3f\n", boot + $22 / ticks}' "/proc/$pid/stat"
}
# shellcheck disable=SC2086 # FILES is a list
written_at() { stat -c %.3Y $FILES 2>/dev/null | sort -n | tail -n 1; }
if awk -v s="$(started_at)" -v w="$(written_at)" 'BEGIN {exit !(s > w + 1)}'; then
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
