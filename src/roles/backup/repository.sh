# The repository's directories on the backup host, and what pulumi destroy
# does with this stack's stanza in it. ACTION:
#   create  the repository (postgres 0750) and pgBackRest's config directories
#   delete  REMOVE=1: this stack's stanza (its backups and WAL) is deleted,
#           and the repository directory too once no stanza is left in it;
#           REMOVE=0: everything is kept (the default), and said so
# Env: ACTION, REPO_PATH, STANZA, REMOVE, PGBACKREST_CONFIG (its directory).
conf_dir=$(dirname "$PGBACKREST_CONFIG")
case "$ACTION" in
  create)
    install -d -o postgres -g postgres -m 0750 "$REPO_PATH"
    install -d -o root -g postgres -m 0750 "$conf_dir" "$conf_dir/conf.d" "$conf_dir/tls" "$conf_dir/tls/ca.d"
    echo "repository $REPO_PATH ready"
    ;;
  delete)
    if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): repository kept"; exit 0; fi
    if [ "$REMOVE" = 1 ]; then
      rm -rf "${REPO_PATH:?}/archive/$STANZA" "${REPO_PATH:?}/backup/$STANZA"
      if rmdir "$REPO_PATH/archive" "$REPO_PATH/backup" 2>/dev/null; then rmdir "$REPO_PATH" 2>/dev/null || true; fi
      echo "removed stanza $STANZA (its backups and WAL) from $REPO_PATH (backup.removeRepositoryOnDestroy is true)"
    else
      echo "kept stanza $STANZA (its backups and WAL) in $REPO_PATH on $(hostname) (backup.removeRepositoryOnDestroy is false)"
    fi
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
