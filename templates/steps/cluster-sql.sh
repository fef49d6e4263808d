# Roles and databases on the primary, idempotently. stdin: first line the
# superuser password, then the SQL (which may set passwords): nothing secret
# ever appears on a command line. Env: REST (local Patroni), PGPORT.
IFS= read -r PGPASSWORD; export PGPASSWORD
sql=$(cat)
deadline=$(( $(date +%s) + 120 ))
until leader=$(curl -fsS --max-time 3 "$REST/cluster" | jq -er '.members[] | select(.role == "leader") | .host'); do
  [ "$(date +%s)" -ge "$deadline" ] && { echo "no leader to run cluster SQL on" >&2; exit 1; }
  sleep 2
done
printf '%s\n' "$sql" | psql -X -q -v ON_ERROR_STOP=1 "host=$leader port=$PGPORT user=postgres dbname=postgres connect_timeout=10" -f -
echo "cluster SQL applied on leader $leader"
