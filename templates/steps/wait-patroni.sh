# Health gate: one running leader, every other member streaming on the
# leader's timeline at most MAX_LAG_BYTES behind (so it passes while clients
# write), and the leader itself sees every replica streaming (GET /patroni on
# the leader lists pg_stat_replication).
# Members being removed (still running until the removal) may be there too.
# Env: REST (http://addr:port of a member), MEMBER_NAMES (space separated), MAX_LAG_BYTES, TIMEOUT.
names_json=$(printf '%s\n' $MEMBER_NAMES | jq -R . | jq -sc .)
MEMBERS=$(printf '%s\n' $MEMBER_NAMES | wc -l)
replicas=$((MEMBERS - 1))
cluster_healthy() {
  local cluster summary api streaming
  cluster=$(curl -fsS --max-time 3 "$REST/cluster" 2>&1) || { echo "REST API not answering: $cluster"; return 1; }
  summary=$(printf '%s' "$cluster" | jq -r --argjson names "$names_json" --argjson maxlag "$MAX_LAG_BYTES" '
    (.members | map(select(.name as $m | $names | index($m)))) as $mine |
    (.members | map(select(.role == "leader" and .state == "running"))) as $leaders |
    ($leaders[0].timeline // -1) as $tl |
    ($mine | map(select(.role != "leader" and .state == "streaming" and .timeline == $tl and ((.lag // 0) | if type == "number" then . <= $maxlag else false end)))) as $ok |
    if ($leaders | length) == 1 and ($mine | length) == ($names | length) and ($leaders[0].name as $l | $names | index($l)) != null and ($ok | length) == (($names | length) - 1)
    then "leader \($leaders[0].api_url) \($leaders[0].name)"
    else "members: \(.members | map("\(.name)=\(.role)/\(.state)/tl\(.timeline // "?")/lag\(.lag // 0)") | join(" "))" end')
  case "$summary" in
    leader*) ;;
    *) echo "$summary"; return 1 ;;
  esac
  read -r _ api name <<<"$summary"
  streaming=$(curl -fsS --max-time 3 "$api" | jq --argjson names "$names_json" '[.replication // [] | .[] | select(.state == "streaming" and (.application_name as $a | $names | index($a)))] | length')
  echo "patroni: leader $name, $streaming of $replicas replicas streaming"
  [ "$streaming" = "$replicas" ]
}
wait_until "${TIMEOUT:-300}" "patroni: one leader and $replicas streaming replicas" cluster_healthy
