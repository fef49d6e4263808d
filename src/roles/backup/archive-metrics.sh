#!/bin/sh
# pp-archive-metrics STANZA: the archive monitor of a database host (run by
# its timer every minute, and by `npm run ctl -- backups|check`).
# pgBackRest's asynchronous archive-push drops the queued WAL once the queue
# passes archive-push-queue-max, and PostgreSQL counts those segments as
# archived: pg_stat_archiver, `pgbackrest check` and `verify` all stay quiet.
# The only trace is "WARN: dropped WAL file ..." in the async log (and the
# PostgreSQL log). This counts those lines (the count survives log
# rotation), notes when the last one was written and whether pushes fail now
# (the spool's global.error), and writes them as metrics for node-exporter's
# textfile collector:
#   pulumi_patroni_archive_dropped_wal_total{stanza}            counter
#   pulumi_patroni_archive_last_drop_timestamp_seconds{stanza}  0 if never
#   pulumi_patroni_archive_push_failing{stanza}                 1 while pushes fail
# and prints one line: dropped=N last_drop=EPOCH failing=0|1 error=TEXT
# Env (from the unit or the caller): none; paths are pgBackRest's defaults.
set -eu
stanza=$1
log=/var/log/pgbackrest/$stanza-archive-push-async.log
spool=/var/spool/pgbackrest/archive/$stanza/out
state_dir=/var/lib/pulumi-patroni/archive-metrics
metrics_dir=/var/lib/prometheus/node-exporter
mkdir -p "$state_dir" "$metrics_dir"
state=$state_dir/$stanza
inode=0 offset=0 total=0 last=0
[ -r "$state" ] && read -r inode offset total last < "$state"
if [ -f "$log" ]; then
  now_inode=$(stat -c %i "$log")
  size=$(stat -c %s "$log")
  # A rotated or truncated log starts again from its beginning.
  if [ "$now_inode" != "$inode" ] || [ "$size" -lt "$offset" ]; then offset=0; fi
  drops=$(tail -c +"$((offset + 1))" "$log" | head -c "$((size - offset))" | grep -F "dropped WAL file" || true)
  if [ -n "$drops" ]; then
    total=$((total + $(printf '%s\n' "$drops" | wc -l)))
    # "2026-12-06 21:22:50.147 P00   WARN: dropped WAL file ..." (the host's local time)
    stamp=$(printf '%s\n' "$drops" | tail -n 1 | cut -d' ' -f1,2)
    last=$(date -d "$stamp" +%s 2>/dev/null || date +%s)
  fi
  inode=$now_inode offset=$size
fi
printf '%s %s %s %s\n' "$inode" "$offset" "$total" "$last" > "$state.tmp"
mv -f "$state.tmp" "$state"
failing=0 error=
if [ -f "$spool/global.error" ]; then
  failing=1
  error=$(tr '\n' ' ' < "$spool/global.error" | cut -c1-300)
fi
tmp=$(mktemp "$metrics_dir/.pulumi-patroni-archive.XXXXXX")
cat > "$tmp" <<METRICS
# HELP pulumi_patroni_archive_dropped_wal_total WAL segments pgBackRest dropped because the archive queue was full (a gap in the archive: take a new backup).
# TYPE pulumi_patroni_archive_dropped_wal_total counter
pulumi_patroni_archive_dropped_wal_total{stanza="$stanza"} $total
# HELP pulumi_patroni_archive_last_drop_timestamp_seconds When the last WAL segment was dropped (0: never).
# TYPE pulumi_patroni_archive_last_drop_timestamp_seconds gauge
pulumi_patroni_archive_last_drop_timestamp_seconds{stanza="$stanza"} $last
# HELP pulumi_patroni_archive_push_failing 1 while pgBackRest cannot push WAL to the repository (the spool's global.error).
# TYPE pulumi_patroni_archive_push_failing gauge
pulumi_patroni_archive_push_failing{stanza="$stanza"} $failing
METRICS
chmod 0644 "$tmp"
mv -f "$tmp" "$metrics_dir/pulumi-patroni-archive-$stanza.prom"
echo "dropped=$total last_drop=$last failing=$failing error=$error"
