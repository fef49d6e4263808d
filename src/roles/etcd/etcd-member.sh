# One etcd member, started the way its situation needs (ACTION):
#   start   a member with an empty data directory: while no member of the
#           cluster answers, it bootstraps with the configured initial cluster
#           (the first deploy); once the cluster exists, it is added through
#           the etcd API (member add) and joins with initial-cluster-state
#           existing. With data, it just starts.
#   ensure  keep it running; never a restart (etcd-restart does those, one
#           member at a time).
#   leave   removed from the cluster through the API (member remove), then
#           stopped, and its data directory cleared so it can be re-added
#           later. The last member keeps its data.
# Env: ACTION, NAME, PEER_URL, CLIENT_URL, JOIN_ENV and JOIN_DROP_IN (the
# environment of a member that joined, and the unit drop-in that reads it),
# TIMEOUT; facts ETCD_ENDPOINTS (every configured member's client URL),
# ETCD_DATA_DIR, MANAGED_MARKER, CURL_TLS (and etcdctl's, lib/etcdctl.sh).
# (A one-member cluster has no others: grep then finds nothing, which is no failure.)
others=$(printf '%s\n' "${ETCD_ENDPOINTS//,/$'\n'}" | { grep -vxF "$CLIENT_URL" || true; } | paste -sd, -)
ctl() { etcdctl --endpoints="$1" --command-timeout=5s "${@:2}"; }
# Answers once the cluster has a quorum (member list goes through its leader).
# First a quick look at each other member's status, which it answers alone
# (no consensus needed): on the first deploy nobody has a leader yet, and
# etcdctl would spend its whole command timeout (5 s per member, one member
# after the other) finding that out.
some_member_has_leader() {
  local url
  for url in ${others//,/ }; do
    curl -fsS --max-time 2 -K "$CURL_TLS" -X POST -d '{}' "$url/v3/maintenance/status" 2>/dev/null | jq -e '(.leader // "0") != "0"' >/dev/null && return 0
  done
  return 1
}
cluster_answers() { [ -n "$others" ] && some_member_has_leader && ctl "$others" member list >/dev/null 2>&1; }
my_member_id() { ctl "$1" member list 2>/dev/null | awk -F', ' -v url="$PEER_URL" '$4 == url {print $1}'; }
healthy_here() { ctl "$CLIENT_URL" endpoint health >/dev/null 2>&1; }

case "$ACTION" in
  ensure)
    systemctl enable etcd >/dev/null 2>&1 || true
    systemctl is-active --quiet etcd || systemctl start --no-block etcd
    echo "etcd member $NAME running"
    ;;
  start)
    systemctl enable etcd >/dev/null 2>&1 || true
    if [ -d "$ETCD_DATA_DIR/member" ] || [ -f "$JOIN_ENV" ]; then
      systemctl is-active --quiet etcd || systemctl start --no-block etcd
      echo "etcd member $NAME started from its data"
    elif cluster_answers && [ -z "$(my_member_id "$others")" ]; then
      # The cluster runs without us: join it, one member at a time (the steps are chained).
      # etcd refuses a new member until the last one added has been up a few seconds ("unhealthy cluster").
      add_member() { ctl "$others" member add "$NAME" --peer-urls="$PEER_URL" 2>&1; }
      added=$(WAIT_INTERVAL=3 wait_until "$TIMEOUT" "etcd accepting $NAME as a new member" add_member)
      initial=$(printf '%s\n' "$added" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
      [ -n "$initial" ] || { echo "member add did not say the initial cluster: $added" >&2; exit 1; }
      printf '# %s: this member joined a running cluster.\nETCD_INITIAL_CLUSTER="%s"\nETCD_INITIAL_CLUSTER_STATE="existing"\n' "$MANAGED_MARKER" "$initial" > "$JOIN_ENV"
      # Read after /etc/default/etcd, so it wins.
      printf '# %s: the environment of a member that joined.\n[Service]\nEnvironmentFile=-%s\n' "$MANAGED_MARKER" "$JOIN_ENV" > "$JOIN_DROP_IN"
      systemctl daemon-reload
      systemctl start etcd
      wait_until "$TIMEOUT" "etcd member $NAME healthy after joining" healthy_here
      echo "etcd member $NAME joined the running cluster"
    else
      # Bootstrap (or a late start of a member of the initial cluster): the
      # others are started too; the etcd gate waits for the quorum.
      systemctl start --no-block etcd
      echo "etcd member $NAME started with the initial cluster"
    fi
    ;;
  leave)
    if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): etcd left running"; exit 0; fi
    id=""
    if [ -n "$others" ]; then id=$(my_member_id "$others" || true); fi
    remaining=0
    if [ -n "$others" ]; then remaining=$(ctl "$others" member list 2>/dev/null | grep -vcF "$PEER_URL" || true); fi
    if [ -n "$id" ] && [ "$remaining" -ge 1 ]; then
      ctl "$others" member remove "$id" >/dev/null
      systemctl disable --now etcd 2>/dev/null || true
      rm -rf "${ETCD_DATA_DIR:?}" "$JOIN_ENV" "$JOIN_DROP_IN"
      systemctl daemon-reload
      echo "etcd member $NAME removed from the cluster; its data directory cleared"
    else
      systemctl disable --now etcd 2>/dev/null || true
      echo "etcd member $NAME stopped (the last member keeps its data)"
    fi
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
