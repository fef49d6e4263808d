# Health gate: HAProxy sees exactly one primary and the expected replicas up.
# Env: PRIMARY_BACKEND, REPLICA_BACKEND, REPLICAS (count expected up), TIMEOUT; fact HAPROXY_SOCKET.
backends_up() {
  local stat primary_up replicas_up
  stat=$(echo "show stat" | socat stdio "$HAPROXY_SOCKET" 2>/dev/null || true)
  primary_up=$(echo "$stat" | awk -F, -v b="$PRIMARY_BACKEND" '$1 == b && $2 != "FRONTEND" && $2 != "BACKEND" && $18 == "UP"' | wc -l)
  replicas_up=$(echo "$stat" | awk -F, -v b="$REPLICA_BACKEND" '$1 == b && $2 != "FRONTEND" && $2 != "BACKEND" && $18 == "UP"' | wc -l)
  echo "haproxy: primary up=$primary_up (want 1), replicas up=$replicas_up (want $REPLICAS)"
  [ "$primary_up" = 1 ] && [ "$replicas_up" -ge "$REPLICAS" ] && return 0
  echo "$stat" | cut -d, -f1,2,18,37
  return 1
}
wait_until "$TIMEOUT" "haproxy backends" backends_up | head -n 1
