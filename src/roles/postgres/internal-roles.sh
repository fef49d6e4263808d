# Rotation of the passwords Patroni's own roles use (superuser, replication,
# rewind): the new verifiers are set on the primary before patroni.yml changes
# on any member, so a replica that reconnects with the new password finds it.
# Runs on every PostgreSQL host: only the one whose PostgreSQL is a primary
# acts; where none runs yet (the first deploy) there is nothing to do.
# stdin: lines "ROLE SCRAM-VERIFIER". Facts: PG_PORT, PG_SOCKET_DIR.
psql_local() { PGCONNECT_TIMEOUT=10 runuser -u "$SUPERUSER" -- psql -X -At -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres "$@"; }
if ! in_recovery=$(psql_local -c 'select pg_is_in_recovery()' 2>/dev/null); then
  echo "no PostgreSQL running here yet: nothing to rotate"
  exit 0
fi
if [ "$in_recovery" != f ]; then
  echo "a replica: the primary sets the roles"
  exit 0
fi
sql=""
while read -r role verifier; do
  [ -n "$role" ] || continue
  sql="$sql
SELECT format('ALTER ROLE %I PASSWORD %L', r.rolname, v.verifier) FROM pg_authid r, (VALUES ('$verifier')) v(verifier)
 WHERE r.rolname = '$role' AND r.rolpassword IS DISTINCT FROM v.verifier \\gexec"
done
printf '%s\n' "$sql" | psql_local -q -f - >/dev/null
echo "roles' passwords as the stack says (on the primary)"
