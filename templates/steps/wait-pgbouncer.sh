# Health gate: PgBouncer accepts the admin user and reaches PostgreSQL, and
# its admin console answers. stdin: the admin user's password.
# Env: PORT, ADMIN_USER, TIMEOUT.
IFS= read -r PGPASSWORD; export PGPASSWORD
serves_sessions() { [ "$(psql -X -At "host=127.0.0.1 port=$PORT user=$ADMIN_USER dbname=postgres connect_timeout=3" -c 'select 1' 2>&1)" = 1 ]; }
wait_until "${TIMEOUT:-60}" "pgbouncer on port $PORT serving sessions" serves_sessions
psql -X -At "host=127.0.0.1 port=$PORT user=$ADMIN_USER dbname=pgbouncer connect_timeout=3" -c 'SHOW VERSION' >/dev/null
echo "pgbouncer on port $PORT serves sessions and its admin console"
