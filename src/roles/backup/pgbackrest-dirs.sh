# pgBackRest's config directories on a database host: readable by postgres
# (archive_command and the TLS server run as postgres), writable by root.
# Env: PGBACKREST_CONFIG_DIR.
install -d -o root -g postgres -m 0750 "$PGBACKREST_CONFIG_DIR" "$PGBACKREST_CONFIG_DIR/tls"
echo "$PGBACKREST_CONFIG_DIR ready"
