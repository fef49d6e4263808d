# Health gate for the client host: the ready-made service reaches the
# primary (read-write) through HAProxy. Env: SERVICE, TIMEOUT.
primary_reached() { [ "$(psql -X -At "service=$SERVICE connect_timeout=3" -c 'select pg_is_in_recovery()' 2>&1)" = f ]; }
wait_until "$TIMEOUT" "service=$SERVICE reaches a primary" primary_reached
echo "client: service=$SERVICE reaches the primary"
