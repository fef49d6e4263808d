# One etcd member moved to its next TLS stage (the migration of a running
# plain-text cluster; members go one at a time, each healthy before the next):
#   dual  its environment gains https client listeners next to http, the TLS
#         files and the metrics listener; peers stay http;
#   tls   its peer URL turns https in the cluster (member update, sent to the
#         others: it cannot reach its peers until it restarts, which follows
#         at once), and it drops http.
# stdin: the new /etc/default/etcd. Env: STAGE, NAME, PEER_URL, HEALTH_ENDPOINTS
# (every member's client URL, as they all answer now), MEMBERS, TIMEOUT;
# facts ETCD_ENV, MANAGED_MARKER.
env_file=$(cat)
all_healthy() {
  local healthy
  healthy=$(etcdctl --endpoints="$HEALTH_ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  echo "$healthy/$MEMBERS endpoints healthy"
  [ "$healthy" = "$MEMBERS" ]
}
wait_until "$TIMEOUT" "etcd healthy before moving $NAME to $STAGE" all_healthy >/dev/null
if [ "$STAGE" = tls ]; then
  id=$(etcdctl --endpoints="$HEALTH_ENDPOINTS" --command-timeout=5s member list | awk -F', ' -v n="$NAME" '$3 == n {print $1}')
  [ -n "$id" ] || { echo "etcd member $NAME not found in the member list" >&2; exit 1; }
  etcdctl --endpoints="$HEALTH_ENDPOINTS" --command-timeout=5s member update "$id" --peer-urls="$PEER_URL" >/dev/null
fi
tmp=$(mktemp "$(dirname "$ETCD_ENV")/.pulumi-patroni.XXXXXX")
printf '%s' "$env_file" > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$ETCD_ENV"
systemctl restart etcd
wait_until "$TIMEOUT" "etcd healthy after moving $NAME to $STAGE" all_healthy
