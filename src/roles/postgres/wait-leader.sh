# Health gate: the cluster has a running leader. On the first deploy only
# the first member has been started: it bootstraps (initdb, roles, leader
# key) while the others wait here, because a member started before there is
# a leader finds none and sleeps a whole loop_wait before it looks again;
# started after, it takes its base backup at once. Later runs pass at once.
# Env: REST (the first member's REST API), TIMEOUT; fact CURL_TLS.
leader_runs() {
  local cluster
  cluster=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$REST/cluster" 2>&1) || { echo "REST API not answering yet: $cluster"; return 1; }
  printf '%s' "$cluster" | jq -er 'first(.members[] | select(.role == "leader" and .state == "running")) | "leader \(.name) running"' 2>/dev/null ||
    { printf '%s' "$cluster" | jq -r '"no running leader yet: \(.members | map("\(.name)=\(.role)/\(.state)") | join(" "))"'; return 1; }
}
wait_until "$TIMEOUT" "a running Patroni leader" leader_runs
