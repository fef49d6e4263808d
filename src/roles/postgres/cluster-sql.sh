# Roles and databases on the primary, idempotently. stdin: first line the
# superuser password, then the SQL (which may set passwords): nothing secret
# ever appears on a command line. Env: REST (local Patroni); facts PG_PORT,
# SUPERUSER, CURL_TLS, PG_SSL (libpq verifies the leader).
IFS= read -r PGPASSWORD; export PGPASSWORD
sql=$(cat)
leader_host() { curl -fsS -K "$CURL_TLS" --max-time 3 "$REST/cluster" | jq -er '.members[] | select(.role == "leader") | .host'; }
leader=$(wait_until 120 "a leader to run the cluster SQL on" leader_host)
printf '%s\n' "$sql" | psql -X -q -v ON_ERROR_STOP=1 "host=$leader port=$PG_PORT user=$SUPERUSER dbname=postgres connect_timeout=10 $PG_SSL" -f -
echo "cluster SQL applied on leader $leader"
