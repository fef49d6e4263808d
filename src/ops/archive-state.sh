# What `npm run ctl -- backups|check` reads on a PostgreSQL host: the
# archive monitor's line (it also refreshes its metrics), then PostgreSQL's
# pg_stat_archiver with whether it is in recovery, as
# in_recovery|archived_count|last_archived_wal|last_archived_time|failed_count|last_failed_wal|last_failed_time.
# Env: STANZA, ARCHIVE_METRICS, PATRONI_CONFIG, PG_SOCKET_DIR.
"$ARCHIVE_METRICS" "$STANZA"
port=$(python3 -c "import os, yaml; c = yaml.safe_load(open(os.environ['PATRONI_CONFIG'])); print(c['postgresql']['connect_address'].rsplit(':', 1)[1])")
cd /tmp || exit 1
runuser -u postgres -- psql -XAtq -h "$PG_SOCKET_DIR" -p "$port" -d postgres -c "select pg_is_in_recovery(), archived_count,
  coalesce(last_archived_wal, ''), coalesce(extract(epoch from last_archived_time)::bigint, 0), failed_count,
  coalesce(last_failed_wal, ''), coalesce(extract(epoch from last_failed_time)::bigint, 0) from pg_stat_archiver"
