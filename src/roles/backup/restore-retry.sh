# A restore that failed left DATA_DIR.failed (Patroni renames the data
# directory it could not bootstrap), and the bootstrap wrapper refuses to
# restore again while it is there. A changed restore section is a new
# attempt: the marker goes (it only held the failed restore's files; the
# backups are in the repository) and systemd forgets Patroni's failed starts.
# Env: ACTION (create: nothing to clear; retry), DATA_DIR.
if [ "$ACTION" = retry ] && [ -e "$DATA_DIR.failed" ]; then
  rm -rf "${DATA_DIR:?}.failed"
  systemctl reset-failed patroni 2>/dev/null || true
  echo "cleared the failed restore in $DATA_DIR.failed: Patroni restores again when it starts"
else
  echo "no failed restore to clear"
fi
