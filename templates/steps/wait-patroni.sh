# Health gate: one running leader, every other member streaming on the
# leader's timeline with no lag, and the leader itself sees every replica
# streaming (GET /patroni on the leader lists pg_stat_replication).
# Env: REST (http://addr:port of a member), MEMBERS (count), TIMEOUT.
deadline=$(( $(date +%s) + ${TIMEOUT:-300} ))
replicas=$(( MEMBERS - 1 ))
while :; do
  summary="wait (REST API not answering)"
  if cluster=$(curl -fsS --max-time 3 "$REST/cluster" 2>/dev/null); then
    summary=$(printf '%s' "$cluster" | jq -r --argjson n "$MEMBERS" '
      (.members | map(select(.role == "leader" and .state == "running"))) as $leaders |
      ($leaders[0].timeline // -1) as $tl |
      (.members | map(select(.role != "leader" and .state == "streaming" and .timeline == $tl and ((.lag // 0) | tostring) == "0"))) as $ok |
      if ($leaders | length) == 1 and (.members | length) == $n and ($ok | length) == ($n - 1)
      then "leader \($leaders[0].api_url)"
      else "wait members: \(.members | map("\(.name)=\(.role)/\(.state)/tl\(.timeline // "?")/lag\(.lag // 0)") | join(" "))" end')
    case "$summary" in
      leader*)
        api=${summary#leader }
        streaming=$(curl -fsS --max-time 3 "$api" | jq '[.replication // [] | .[] | select(.state == "streaming")] | length')
        if [ "$streaming" = "$replicas" ]; then
          echo "patroni: leader $(printf '%s' "$cluster" | jq -r '.members[] | select(.role == "leader") | .name'), $streaming replicas streaming"
          exit 0
        fi
        summary="leader sees $streaming of $replicas replicas streaming" ;;
    esac
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "patroni cluster not healthy after ${TIMEOUT:-300}s: $summary" >&2
    exit 1
  fi
  sleep 2
done
