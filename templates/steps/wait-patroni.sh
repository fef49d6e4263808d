# Health gate: one running leader, every other member streaming on the
# leader's timeline at most MAX_LAG_BYTES behind (so it passes while clients
# write), and the leader itself sees every replica streaming (GET /patroni on
# the leader lists pg_stat_replication).
# Env: REST (http://addr:port of a member), MEMBERS (count), MAX_LAG_BYTES, TIMEOUT.
replicas=$((MEMBERS - 1))
cluster_healthy() {
  local cluster summary api streaming
  cluster=$(curl -fsS --max-time 3 "$REST/cluster" 2>&1) || { echo "REST API not answering: $cluster"; return 1; }
  summary=$(printf '%s' "$cluster" | jq -r --argjson n "$MEMBERS" --argjson maxlag "$MAX_LAG_BYTES" '
    (.members | map(select(.role == "leader" and .state == "running"))) as $leaders |
    ($leaders[0].timeline // -1) as $tl |
    (.members | map(select(.role != "leader" and .state == "streaming" and .timeline == $tl and ((.lag // 0) | if type == "number" then . <= $maxlag else false end)))) as $ok |
    if ($leaders | length) == 1 and (.members | length) == $n and ($ok | length) == ($n - 1)
    then "leader \($leaders[0].api_url) \($leaders[0].name)"
    else "members: \(.members | map("\(.name)=\(.role)/\(.state)/tl\(.timeline // "?")/lag\(.lag // 0)") | join(" "))" end')
  case "$summary" in
    leader*) ;;
    *) echo "$summary"; return 1 ;;
  esac
  read -r _ api name <<<"$summary"
  streaming=$(curl -fsS --max-time 3 "$api" | jq '[.replication // [] | .[] | select(.state == "streaming")] | length')
  echo "patroni: leader $name, $streaming of $replicas replicas streaming"
  [ "$streaming" = "$replicas" ]
}
wait_until "${TIMEOUT:-300}" "patroni: one leader and $replicas streaming replicas" cluster_healthy
