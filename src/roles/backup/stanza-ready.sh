# The stanza in the repository once the cluster runs, on the repository
# host: created (pgBackRest reads the cluster's system id from the primary),
# checked (a WAL switch on the primary must reach the repository), and a
# first full backup when it has none. Every step is repeatable: a later run
# finds the stanza valid and its backups there.
# Env: STANZA, TIMEOUT.
cd /tmp || exit 1
pgbr() { runuser -u postgres -- pgbackrest --stanza="$STANZA" "$@"; }
# A member still starting makes stanza-create warn ("unable to check pg2"); the primary is what it needs.
wait_until "$TIMEOUT" "stanza-create of $STANZA" pgbr --log-level-console=warn stanza-create
# check waits up to archive-timeout (60 s) for the switched segment; archive_mode must be on (a pending restart is not).
wait_until "$TIMEOUT" "pgbackrest check of $STANZA (a WAL segment archived from the primary)" pgbr --log-level-console=warn check
backups=$(pgbr --output=json info | jq '.[0].backup // [] | length')
if [ "$backups" = 0 ]; then
  start=$(date +%s)
  pgbr --type=full --log-level-console=info backup 2>&1 | grep -E "new backup label|full backup size|WARN|ERROR" || true
  [ "$(pgbr --output=json info | jq '.[0].backup // [] | length')" -gt 0 ] || { echo "the first full backup of $STANZA failed" >&2; exit 1; }
  echo "first full backup of $STANZA in $(($(date +%s) - start)) s"
else
  echo "stanza $STANZA ok, $backups backup(s)"
fi
