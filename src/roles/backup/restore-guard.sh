# Before a restored stack deploys anything (PreviewCheck: it runs at preview
# and at the start of pulumi up), on the repository host: may this cluster be
# restored from SOURCE_STANZA into a stanza STANZA of its own, to this target?
#   - STANZA must hold no WAL and no backup: another cluster's history there
#     would get this cluster's WAL mixed in (a restored cluster has its
#     source's system id, so pgBackRest would not notice). Once this stack
#     has restored it (PREVIOUSLY_CREATED=1 and WAL there), that WAL is its own.
#   - SOURCE_STANZA must be readable and hold a backup;
#   - a time target must not be before the end of the oldest backup, an LSN
#     target neither before it nor after the newest archived WAL. (A time
#     after the newest WAL, a restore point or a transaction id that is not
#     there can only be found by recovering: the deploy then fails with
#     PostgreSQL's reason, see wait-restore.sh.)
# Exits 1 with the reason, which the preview shows.
# Env: STANZA, SOURCE_STANZA, TARGET_TYPE, TARGET_VALUE, PREVIOUSLY_CREATED.
cd /tmp || exit 1
info() { runuser -u postgres -- pgbackrest --stanza="$1" --log-level-console=error --output=json info; }
own=$(info "$STANZA")
wal=$(printf '%s' "$own" | jq -r '[.[0].archive[]? | select(.min != null) | "\(.min)..\(.max)"] | join(" ")')
backups=$(printf '%s' "$own" | jq -r '.[0].backup // [] | length')
code=$(printf '%s' "$own" | jq -r '.[0].status.code')
if [ "$code" != 1 ] && [ "$code" != 2 ] && [ "$code" != 0 ]; then
  echo "cannot read stanza $STANZA in the repository: $(printf '%s' "$own" | jq -r '[.[0].repo[]?.status.message] | join("; ")')"
  exit 1
fi
if [ -n "$wal" ] || [ "$backups" != 0 ]; then
  if [ "$PREVIOUSLY_CREATED" = 1 ]; then
    echo "stanza $STANZA holds this cluster's own WAL (restored already): nothing to check"
    exit 0
  fi
  echo "stanza $STANZA already holds WAL ($wal) and $backups backup(s) in the repository: another cluster's history."
  echo "A new cluster must not archive into it; give cluster.name another value (or delete that stanza: pgbackrest --stanza=$STANZA stop; pgbackrest --stanza=$STANZA stanza-delete)."
  exit 1
fi
src=$(info "$SOURCE_STANZA")
code=$(printf '%s' "$src" | jq -r '.[0].status.code')
if [ "$code" != 0 ]; then
  echo "source stanza $SOURCE_STANZA cannot be restored: status $code ($(printf '%s' "$src" | jq -r '.[0].status.message'); $(printf '%s' "$src" | jq -r '[.[0].repo[]?.status.message] | join("; ")'))"
  exit 1
fi
oldest_stop=$(printf '%s' "$src" | jq -r '[.[0].backup[].timestamp.stop] | min')
oldest_lsn=$(printf '%s' "$src" | jq -r '.[0].backup | min_by(.timestamp.stop) | .lsn.stop')
max_wal=$(printf '%s' "$src" | jq -r '[.[0].archive[] | select(.max != null)] | last | .max // ""')
lsn() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi << 32) + 16#$lo)); }
case "$TARGET_TYPE" in
  time)
    t=$(date -d "$TARGET_VALUE" +%s) || { echo "restore.target.value: $TARGET_VALUE is not a time the host can read"; exit 1; }
    if [ "$t" -lt "$oldest_stop" ]; then
      echo "restore.target: $TARGET_VALUE is before the end of the oldest backup of $SOURCE_STANZA ($(date -u -d "@$oldest_stop" '+%F %T+00')): no backup can recover to it"
      exit 1
    fi
    ;;
  lsn)
    target=$(lsn "$TARGET_VALUE")
    if [ "$target" -lt "$(lsn "$oldest_lsn")" ]; then
      echo "restore.target: LSN $TARGET_VALUE is before the end of the oldest backup of $SOURCE_STANZA (LSN $oldest_lsn): no backup can recover to it"
      exit 1
    fi
    # The newest archived segment TTTTTTTTXXXXXXXXYYYYYYYY ends at LSN X/(Y+1)*16MB.
    end=$(((16#${max_wal:8:8} << 32) + (16#${max_wal:16:8} + 1) * 16777216))
    if [ -n "$max_wal" ] && [ "$target" -gt "$end" ]; then
      echo "restore.target: LSN $TARGET_VALUE is after the newest archived WAL of $SOURCE_STANZA (segment $max_wal ends at $(printf '%X/%X' $((end >> 32)) $((end & 0xFFFFFFFF)))): recovery would end before it"
      exit 1
    fi
    ;;
esac
echo "restore $SOURCE_STANZA -> $STANZA ($TARGET_TYPE${TARGET_VALUE:+ $TARGET_VALUE}): $(printf '%s' "$src" | jq -r '.[0].backup | length') backup(s), WAL up to $max_wal"
