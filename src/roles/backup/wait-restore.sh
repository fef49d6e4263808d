# Health gate of a restored stack's first member, instead of the leader
# gate: Patroni's custom bootstrap restores the source's backup and
# PostgreSQL recovers to the target, then promotes. It passes once a leader
# runs. When the restore fails (the wrapper refused, pgBackRest failed, or
# PostgreSQL's "recovery ended before configured recovery target was
# reached": a target past the newest WAL), Patroni renames the data
# directory to DATA_DIR.failed and exits; systemd would start it again and
# again. The gate then stops Patroni and fails the deploy with what the
# journal says. A changed restore section retries (restore-retry.sh).
# Env: REST (this member's REST API), DATA_DIR, TIMEOUT; fact CURL_TLS.
since=$(($(date +%s) - 30))
deadline=$(($(date +%s) + TIMEOUT))
why() {
  # PostgreSQL, Patroni and the wrapper all log into patroni.service's journal.
  journalctl -u patroni --since "@$since" -o cat --no-pager 2>/dev/null |
    grep -E "FATAL|REFUSED|ERROR|Failed to bootstrap|recovery ended|recovery stopping|restoring stanza" |
    grep -vE "not accepting connections|is starting up|is shutting down" | tail -n 15
}
while :; do
  if cluster=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$REST/cluster" 2>/dev/null) &&
    leader=$(printf '%s' "$cluster" | jq -er 'first(.members[] | select(.role == "leader" and .state == "running")) | "\(.name) on timeline \(.timeline)"' 2>/dev/null); then
    echo "restored: leader $leader"
    why | grep -E "recovery stopping|restoring stanza" || true
    exit 0
  fi
  if [ -e "$DATA_DIR.failed" ] || systemctl is-failed --quiet patroni; then
    systemctl stop patroni 2>/dev/null || true
    echo "the restore failed and Patroni is stopped (it would restore again and again); the journal says:" >&2
    why >&2
    echo "fix the restore section (restore.target) and run pulumi up again to retry" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "no leader after ${TIMEOUT}s of restoring; the journal says:" >&2
    why >&2
    exit 1
  fi
  sleep 1
done
