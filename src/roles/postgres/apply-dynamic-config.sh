# Day-2: make Patroni's dynamic configuration (kept in etcd) what the stack
# says. The stack owns postgresql.parameters: a parameter it no longer sets
# is removed (PATCH /config with null). Restarts that a change needs are the
# rolling-restart step's job. stdin: first line a curl config line with the
# REST API credentials, then the wanted configuration as JSON.
# Env: REST (a member's REST API), MEMBER_URLS (every member's, space
# separated), LOOP_WAIT; fact CURL_TLS (curl verifies and shows this host's certificate).
IFS= read -r auth
wanted=$(cat)
current=$(curl -fsS -K "$CURL_TLS" --max-time 5 "$REST/config")
# Keys the stack sets with another value, and parameters the stack dropped.
# (Not paths(scalars): it skips keys whose value is false, so turning
# synchronous_mode or failsafe_mode off would never be applied.)
changes=$(jq -rn --argjson cur "$current" --argjson want "$wanted" '
  ([$want | paths(type != "object" and type != "array") as $p | select(($cur | getpath($p)) != ($want | getpath($p))) | $p | join(".")]
   + [($cur.postgresql.parameters // {}) | keys[] | select(. as $k | $want.postgresql.parameters | has($k) | not) | "postgresql.parameters.\(.) (removed)"])
  | join(", ")')
if [ -z "$changes" ]; then
  echo "dynamic configuration already as wanted"
  exit 0
fi
patch=$(jq -cn --argjson cur "$current" --argjson want "$wanted" '
  $want | .postgresql.parameters += (($cur.postgresql.parameters // {}) | with_entries(select(.key as $k | $want.postgresql.parameters | has($k) | not) | .value = null))')
patched_at=$(date +%s)
printf '%s\n' "$patch" | curl -fsS -K "$CURL_TLS" --max-time 10 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$REST/config" >/dev/null
# Every member applies the new configuration (a reload, and its pending
# restart flag) just after its next HA loop, which may be loop_wait away.
# Each member's loop is woken instead: a PATCH /config that changes nothing
# (it deletes a key that does not exist) writes nothing to the DCS and wakes
# the loop of the member it reaches.
# A member has the change once it has read the DCS in a later second than
# the PATCH (its dcs_last_seen); then a moment for the reload that follows.
wake() { printf '{"pulumi_patroni_wakeup": null}\n' | curl -fsS -K "$CURL_TLS" --max-time 3 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$1/config" >/dev/null 2>&1 || true; }
late=""
for url in $MEMBER_URLS; do
  deadline=$(($(date +%s) + LOOP_WAIT + 5))
  until [ "$(curl -fsS -K "$CURL_TLS" --max-time 3 "$url/patroni" 2>/dev/null | jq -r '.dcs_last_seen // 0' 2>/dev/null || echo 0)" -gt "$patched_at" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then late="$late $url"; break; fi
    wake "$url"
    sleep 0.5
  done
done
sleep 1
# synchronous_mode on is in force (commits wait for a standby) only once the
# leader has named a synchronous standby, in a loop of its own after it read
# the change: wake the loops until one is named (when there is a replica).
read -r -a members <<< "$MEMBER_URLS"
if [ "$(printf '%s' "$wanted" | jq -r '.synchronous_mode // false')" = true ] && [ ${#members[@]} -gt 1 ]; then
  deadline=$(($(date +%s) + 2 * LOOP_WAIT + 10))
  until curl -fsS -K "$CURL_TLS" --max-time 3 "$REST/cluster" | jq -e '[.members[] | select(.role == "sync_standby")] | length > 0' >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then late="$late (no synchronous standby named yet)"; break; fi
    for url in $MEMBER_URLS; do wake "$url"; done
    sleep 1
  done
fi
echo "dynamic configuration changed: $changes${late:+ (not confirmed by:$late; its next loop applies it)}"
