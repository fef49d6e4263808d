# Health gate: PgBouncer accepts the admin user and reaches PostgreSQL, and
# its admin console answers. stdin: the admin user's password.
# Env: TIMEOUT; facts PGBOUNCER_PORT, SUPERUSER (its admin user), PG_SSL (libpq
# verifies PgBouncer's certificate: it names 127.0.0.1).
IFS= read -r PGPASSWORD; export PGPASSWORD
serves_sessions() { [ "$(psql -X -At "host=127.0.0.1 port=$PGBOUNCER_PORT user=$SUPERUSER dbname=postgres connect_timeout=3 $PG_SSL" -c 'select 1' 2>&1)" = 1 ]; }
wait_until "$TIMEOUT" "pgbouncer on port $PGBOUNCER_PORT serving sessions" serves_sessions
psql -X -At "host=127.0.0.1 port=$PGBOUNCER_PORT user=$SUPERUSER dbname=pgbouncer connect_timeout=3 $PG_SSL" -c 'SHOW VERSION' >/dev/null
echo "pgbouncer on port $PGBOUNCER_PORT serves sessions and its admin console"
