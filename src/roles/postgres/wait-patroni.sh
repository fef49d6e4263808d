# Health gate: one running leader, and every other member streaming from it
# on its timeline at most MAX_LAG_BYTES behind (so it passes while clients
# write), as each member says itself: GET /patroni answers live from that
# member's PostgreSQL. The leader must see every replica streaming too. The
# DCS (GET /cluster) only names the members, the leader and their REST URLs:
# the state it holds for each member is refreshed once per HA loop, so
# waiting for it would cost up to loop_wait after the replica streams.
# Members being removed (still running until the removal) may be there too.
#
# A new replica streams only once the leader has made its replication slot,
# which the leader does in its HA loop, every loop_wait, for the members
# registered in the DCS then; PostgreSQL retries streaming every 5 s. So
# while a registered replica does not stream yet, the gate wakes the
# leader's loop (at most every 2 s): a PATCH /config that changes nothing (it
# deletes a key that does not exist; Patroni writes nothing to the DCS then,
# and wakes its loop).
# Env: REST (https://addr:port of a member), MEMBER_NAMES (space separated),
# MAX_LAG_BYTES, TIMEOUT; fact CURL_TLS.
# stdin: a curl config line with the REST API credentials.
IFS= read -r auth
nudged=$(mktemp)
touch -d @0 "$nudged"
trap 'rm -f "$nudged"' EXIT
wake_leader_loop() {
  local rest=${1%/patroni}
  [ $(($(date +%s) - $(stat -c %Y "$nudged"))) -ge 2 ] || return 0
  touch "$nudged"
  printf '{"pulumi_patroni_wakeup": null}\n' |
    curl -fsS -K "$CURL_TLS" --max-time 3 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$rest/config" >/dev/null || true
}
read -r -a names <<< "$MEMBER_NAMES"
names_json=$(printf '%s\n' "${names[@]}" | jq -R . | jq -sc .)
replicas=$((${#names[@]} - 1))
cluster_healthy() {
  local cluster leader leader_api leader_status tl location name api status verdict streaming problems=""
  cluster=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$REST/cluster" 2>&1) || { echo "REST API not answering: $cluster"; return 1; }
  read -r leader leader_api < <(printf '%s' "$cluster" | jq -r --argjson names "$names_json" '
    [.members[] | select(.role == "leader" and .state == "running")] as $l |
    if ($l | length) == 1 and ($names | index($l[0].name)) != null then "\($l[0].name) \($l[0].api_url)" else "none -" end')
  if [ "$leader" = none ]; then
    printf '%s' "$cluster" | jq -r '"no running configured leader: \(.members | map("\(.name)=\(.role)/\(.state)") | join(" "))"'
    return 1
  fi
  leader_status=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$leader_api" 2>&1) || { echo "leader $leader's REST API not answering: $leader_status"; return 1; }
  read -r tl location < <(printf '%s' "$leader_status" | jq -r 'if .role == "primary" or .role == "master" then "\(.timeline) \(.xlog.location)" else "- -" end')
  [ "$tl" != - ] || { echo "leader $leader is not a primary yet"; return 1; }
  for name in $MEMBER_NAMES; do
    [ "$name" = "$leader" ] && continue
    api=$(printf '%s' "$cluster" | jq -r --arg n "$name" '[.members[] | select(.name == $n) | .api_url][0] // empty')
    if [ -z "$api" ]; then problems="$problems $name=not-registered"; continue; fi
    status=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$api" 2>/dev/null) || { problems="$problems $name=REST-not-answering"; wake_leader_loop "$leader_api"; continue; }
    verdict=$(printf '%s' "$status" | jq -r --argjson tl "$tl" --argjson loc "$location" --argjson max "$MAX_LAG_BYTES" '
      if .role != "replica" then "role-\(.role)"
      elif .state != "running" then "state-\(.state)"
      elif .replication_state != "streaming" then "replication-\(.replication_state // "none")"
      elif .timeline != $tl then "timeline-\(.timeline)"
      elif ($loc - (.xlog.received_location // 0)) > $max then "lag-\($loc - (.xlog.received_location // 0))B"
      else "ok" end')
    [ "$verdict" = ok ] || { problems="$problems $name=$verdict"; wake_leader_loop "$leader_api"; }
  done
  streaming=$(printf '%s' "$leader_status" | jq --argjson names "$names_json" '[.replication // [] | .[] | select(.state == "streaming" and (.application_name as $a | $names | index($a)))] | length')
  if [ -n "$problems" ] || [ "$streaming" != "$replicas" ]; then
    echo "leader $leader (timeline $tl) sees $streaming of $replicas replicas streaming;${problems:- every replica says it streams}"
    return 1
  fi
  echo "patroni: leader $leader, $streaming of $replicas replicas streaming on timeline $tl"
}
WAIT_INTERVAL=0.5 wait_until "$TIMEOUT" "patroni: one leader and $replicas streaming replicas" cluster_healthy
