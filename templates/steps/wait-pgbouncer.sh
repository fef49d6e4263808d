# Health gate: PgBouncer accepts the admin user and reaches PostgreSQL.
# stdin: the superuser password. Env: PORT, TIMEOUT.
IFS= read -r PGPASSWORD; export PGPASSWORD
deadline=$(( $(date +%s) + ${TIMEOUT:-60} ))
until out=$(psql -X -At "host=127.0.0.1 port=$PORT user=postgres dbname=postgres connect_timeout=3" -c 'select 1' 2>&1) && [ "$out" = 1 ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "pgbouncer on port $PORT not serving: $out" >&2; exit 1; fi
  sleep 1
done
psql -X -At "host=127.0.0.1 port=$PORT user=postgres dbname=pgbouncer" -c 'SHOW VERSION' >/dev/null
echo "pgbouncer on port $PORT serves sessions and its admin console"
