# One Patroni member's patroni.yml at its next TLS stage (the migration):
#   restart  its etcd client changes (built at start): the cluster is paused
#            first (PostgreSQL keeps running, see patroni-pause.sh), Patroni
#            restarts and the member is back, running or streaming;
#   reload   REST API and pg_hba: SIGHUP.
# stdin: the new patroni.yml. Env: ACTION, NAME, REST (this member's REST
# API, as it answers after the change), TIMEOUT; facts PATRONI_CONFIG,
# CURL_TLS.
tmp=$(mktemp "$(dirname "$PATRONI_CONFIG")/.pulumi-patroni.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chown postgres:postgres "$tmp"
chmod 0600 "$tmp"
if ! out=$(patroni --validate-config --ignore-listen-port "$tmp" 2>&1); then
  echo "validation of the new $PATRONI_CONFIG failed; the old file is kept:" >&2
  echo "$out" >&2
  exit 1
fi
mv -f "$tmp" "$PATRONI_CONFIG"
systemctl "$ACTION" patroni
member_back() {
  local s
  s=$(curl -fsS --max-time 3 -K "$CURL_TLS" "$REST/patroni" 2>&1) || { echo "REST API: $s"; return 1; }
  printf '%s' "$s" | jq -e '.state == "running" or .state == "streaming"' >/dev/null || { printf '%s' "$s" | jq -c '{state, role}'; return 1; }
}
WAIT_INTERVAL=0.5 wait_until "$TIMEOUT" "patroni on $NAME back after its $ACTION" member_back >/dev/null
echo "$NAME: patroni.yml at the next TLS stage ($ACTION)"
