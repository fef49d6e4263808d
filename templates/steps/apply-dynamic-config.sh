# Day-2: bring Patroni's dynamic configuration (kept in etcd) to what the
# stack says, then restart, one member at a time, the members whose
# PostgreSQL reports pending_restart: replicas first, the leader last
# (Patroni never restarts by itself). stdin: the wanted config as JSON.
# Env: CLUSTER, TIMEOUT.
export PATRONICTL_CONFIG_FILE=/etc/patroni/config.yml
wanted=$(cat)
# edit-config --apply merges like PATCH /config and says "Not changed" when equal
# (always so on the first deploy: bootstrap.dcs already holds this config).
result=$(printf '%s\n' "$wanted" | patronictl edit-config --apply - --force "$CLUSTER" 2>&1) || { echo "$result" >&2; exit 1; }
if printf '%s' "$result" | grep -q "Not changed"; then
  echo "dynamic configuration already as wanted"
  exit 0
fi
sleep_until_applied() {
  # Members pick up a DCS change on their next HA loop.
  local deadline=$(( $(date +%s) + 60 ))
  until [ "$(patronictl list -f json "$CLUSTER" | jq '[.[] | select(.State != "running" and .State != "streaming")] | length')" = 0 ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo "members not running after a config change" >&2; return 1; }
    sleep 2
  done
}
sleep_until_applied
sleep "${LOOP_WAIT:-10}"
pending() { patronictl list -f json "$CLUSTER" | jq -r --arg role "$1" '.[] | select(."Pending restart" == "*" and ((.Role == "Leader") == ($role == "leader"))) | .Member'; }
restarted=""
for role in replica leader; do
  for member in $(pending "$role"); do
    echo "restarting $member ($role): a changed parameter needs a restart"
    patronictl restart --pending --force "$CLUSTER" "$member" >/dev/null
    deadline=$(( $(date +%s) + ${TIMEOUT:-300} ))
    until patronictl list -f json "$CLUSTER" | jq -e --arg m "$member" '.[] | select(.Member == $m and (.State == "running" or .State == "streaming") and (."Pending restart" // "") != "*")' >/dev/null; do
      [ "$(date +%s)" -ge "$deadline" ] && { echo "$member did not come back after restart" >&2; exit 1; }
      sleep 2
    done
    restarted="$restarted $member"
  done
done
echo "dynamic configuration applied; restarted:${restarted:- none}"
