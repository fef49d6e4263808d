#!/bin/sh
# Patroni's custom bootstrap of a restored stack (patroni.yml bootstrap.method
# pgbackrest runs this as postgres, with no extra parameters):
#   pp-restore-bootstrap SOURCE_STANZA NEW_STANZA DATA_DIR [--type=... --target=... --target-action=promote]
# Refuses, before anything is restored:
#   - a data directory whose restore failed before (DATA_DIR.failed, left by
#     Patroni): without this, Patroni restarted by systemd would restore
#     again every few seconds for ever; the next pulumi up with a changed
#     restore section clears it;
#   - the same stanza as source and new cluster;
#   - a new stanza that already holds WAL or a backup: the new cluster would
#     archive into another cluster's history (CloudNativePG's empty-archive
#     check does the same).
# Then restores the source stanza's backup into DATA_DIR with the target;
# PostgreSQL recovers to it and promotes, and Patroni takes over.
set -eu
src=$1 new=$2 data=$3
shift 3
log() {
  echo "pp-restore-bootstrap: $*" >&2
  logger -t pp-restore-bootstrap -- "$*" 2>/dev/null || true
}
if [ -e "$data.failed" ]; then
  log "REFUSED: $data.failed exists: an earlier restore into $data failed (journalctl -u patroni says why); change the restore section and run pulumi up to retry"
  exit 1
fi
if [ "$src" = "$new" ]; then
  log "REFUSED: the source and the new stanza are both $src"
  exit 1
fi
# Absent (status 1) or created and empty (status 2), with no WAL and no backup.
if ! verdict=$(pgbackrest --stanza="$new" --log-level-console=error --output=json info | jq -r '
    .[0] as $s
    | ([$s.archive[]? | select(.min != null) | "\(.min)..\(.max)"]) as $wal
    | if ($s.status.code == 1 or $s.status.code == 2) and ($wal | length) == 0 and (($s.backup // []) | length) == 0
      then "empty"
      else "stanza \($s.name): status \($s.status.code) (\($s.status.message)), WAL \($wal | join(" ")), \(($s.backup // []) | length) backup(s)"
      end'); then
  log "REFUSED: cannot read the new stanza $new in the repository"
  exit 1
fi
if [ "$verdict" != empty ]; then
  log "REFUSED: the new stanza $new already holds WAL or backups ($verdict): another cluster's history; give cluster.name another value"
  exit 1
fi
log "restoring stanza $src into $data${*:+ with $*}"
exec pgbackrest --stanza="$src" --pg1-path="$data" "$@" restore
