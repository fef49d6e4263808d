# The repository's directories on the backup host, and what pulumi destroy
# does with this stack's stanza in it. ACTION:
#   create  the repository (postgres 0750) and pgBackRest's config directories
#   delete  the stanza's backups and WAL are kept, and said so: a deleted
#           stack's backups are what a restore needs; deleting them is the
#           operator's own pgBackRest command
# Env: ACTION, REPO_PATH, STANZA, PGBACKREST_CONFIG (its directory).
conf_dir=$(dirname "$PGBACKREST_CONFIG")
case "$ACTION" in
  create)
    install -d -o postgres -g postgres -m 0750 "$REPO_PATH"
    install -d -o root -g postgres -m 0750 "$conf_dir" "$conf_dir/conf.d" "$conf_dir/tls" "$conf_dir/tls/ca.d"
    echo "repository $REPO_PATH ready"
    ;;
  delete)
    if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): repository kept"; exit 0; fi
    echo "kept stanza $STANZA (its backups and WAL) in $REPO_PATH on $(hostname); to delete them: pgbackrest --stanza=$STANZA stop && pgbackrest --stanza=$STANZA stanza-delete"
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
