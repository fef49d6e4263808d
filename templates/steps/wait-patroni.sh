# Health gate: one leader, every other member a streaming replica on the
# leader's timeline. Reads GET /cluster of the local Patroni.
# Env: REST (http://addr:port), MEMBERS (count), TIMEOUT.
deadline=$(( $(date +%s) + ${TIMEOUT:-300} ))
while :; do
  summary=$(curl -fsS --max-time 3 "$REST/cluster" 2>/dev/null | jq -r --argjson n "$MEMBERS" '
    (.members | map(select(.role == "leader" and .state == "running"))) as $leaders |
    (.members | map(select(.role != "leader"))) as $replicas |
    ($leaders[0].timeline // -1) as $tl |
    ($replicas | map(select((.state == "streaming" or .state == "running") and .timeline == $tl and (.lag == 0 or .lag == "0" or .lag == null)))) as $ok |
    if ($leaders | length) == 1 and (.members | length) == $n and ($ok | length) == ($n - 1) and ($replicas | all(.state == "streaming"))
    then "ok leader=\($leaders[0].name) timeline=\($tl) replicas=\($ok | map(.name) | join(","))"
    else "wait members=\(.members | map("\(.name):\(.role):\(.state)") | join(","))" end' 2>/dev/null || echo "wait (REST API not answering)")
  case "$summary" in
    ok*) echo "patroni $summary"; exit 0 ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "patroni cluster not healthy after ${TIMEOUT:-300}s: $summary" >&2
    exit 1
  fi
  sleep 2
done
