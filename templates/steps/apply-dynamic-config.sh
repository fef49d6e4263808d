# Day-2: make Patroni's dynamic configuration (kept in etcd) what the stack
# says. The stack owns postgresql.parameters: a parameter it no longer sets
# is removed (PATCH /config with null). Restarts that a change needs are the
# rolling-restart step's job. stdin: first line a curl config line with the
# REST API credentials, then the wanted configuration as JSON.
# Env: REST (a member's REST API), LOOP_WAIT.
IFS= read -r auth
wanted=$(cat)
current=$(curl -fsS --max-time 5 "$REST/config")
# Keys the stack sets with another value, and parameters the stack dropped.
changes=$(jq -rn --argjson cur "$current" --argjson want "$wanted" '
  ([$want | paths(scalars) as $p | select(($cur | getpath($p)) != ($want | getpath($p))) | $p | join(".")]
   + [($cur.postgresql.parameters // {}) | keys[] | select(. as $k | $want.postgresql.parameters | has($k) | not) | "postgresql.parameters.\(.) (removed)"])
  | join(", ")')
if [ -z "$changes" ]; then
  echo "dynamic configuration already as wanted"
  exit 0
fi
patch=$(jq -cn --argjson cur "$current" --argjson want "$wanted" '
  $want | .postgresql.parameters += (($cur.postgresql.parameters // {}) | with_entries(select(.key as $k | $want.postgresql.parameters | has($k) | not) | .value = null))')
printf '%s\n' "$patch" | curl -fsS --max-time 10 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$REST/config" >/dev/null
# Every member applies the new configuration on its next HA loop.
sleep $((LOOP_WAIT + 2))
echo "dynamic configuration changed: $changes"
