# A restored stack's stanza in another stack's repository, on that
# repository's host: the repository is there already (its path is in the
# repository's own pgbackrest.conf). ACTION:
#   create  checks that the repository is there
#   delete  REMOVE=1: this stanza's backups and WAL are deleted; REMOVE=0:
#           they are kept (the default), and said so
# Env: ACTION, STANZA, REMOVE, PGBACKREST_CONFIG.
repo=$(sed -n 's/^repo1-path=//p' "$PGBACKREST_CONFIG")
if [ -z "$repo" ] || [ ! -d "$repo" ]; then
  echo "no pgBackRest repository on $(hostname) ($PGBACKREST_CONFIG names none)" >&2
  exit 1
fi
case "$ACTION" in
  create) echo "repository $repo on $(hostname) holds stanza $STANZA" ;;
  delete)
    if [ "$REMOVE" = 1 ]; then
      rm -rf "${repo:?}/archive/$STANZA" "${repo:?}/backup/$STANZA"
      echo "removed stanza $STANZA (its backups and WAL) from $repo on $(hostname) (backup.removeRepositoryOnDestroy is true)"
    else
      echo "kept stanza $STANZA (its backups and WAL) in $repo on $(hostname) (backup.removeRepositoryOnDestroy is false)"
    fi
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
