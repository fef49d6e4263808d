# Health gate for the client host: the ready-made services reach the
# primary (read-write) and a replica (read-only) through HAProxy.
deadline=$(( $(date +%s) + ${TIMEOUT:-60} ))
until [ "$(psql -X -At service=primary -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; do
  [ "$(date +%s)" -ge "$deadline" ] && { echo "service=primary does not reach a primary" >&2; exit 1; }
  sleep 1
done
echo "client: service=primary reaches the primary"
