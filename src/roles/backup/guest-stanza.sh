# A restored stack's stanza in another stack's repository, on that
# repository's host: the repository is there already (its path is in the
# repository's own pgbackrest.conf). ACTION:
#   create  checks that the repository is there
#   delete  the stanza's backups and WAL are kept, and said so
# Env: ACTION, STANZA, PGBACKREST_CONFIG.
repo=$(sed -n 's/^repo1-path=//p' "$PGBACKREST_CONFIG")
if [ -z "$repo" ] || [ ! -d "$repo" ]; then
  echo "no pgBackRest repository on $(hostname) ($PGBACKREST_CONFIG names none)" >&2
  exit 1
fi
case "$ACTION" in
  create) echo "repository $repo on $(hostname) holds stanza $STANZA" ;;
  delete)
    echo "kept stanza $STANZA (its backups and WAL) in $repo on $(hostname); to delete them: pgbackrest --stanza=$STANZA stop && pgbackrest --stanza=$STANZA stanza-delete"
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
