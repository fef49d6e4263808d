# Health gate: HAProxy sees exactly one primary and the expected replicas up.
# Env: PRIMARY_BACKEND, REPLICA_BACKEND, REPLICAS (count expected up), TIMEOUT.
deadline=$(( $(date +%s) + ${TIMEOUT:-90} ))
while :; do
  stat=$(echo "show stat" | socat stdio /run/haproxy/admin.sock 2>/dev/null || true)
  primary_up=$(echo "$stat" | awk -F, -v b="$PRIMARY_BACKEND" '$1 == b && $2 != "FRONTEND" && $2 != "BACKEND" && $18 == "UP"' | wc -l)
  replicas_up=$(echo "$stat" | awk -F, -v b="$REPLICA_BACKEND" '$1 == b && $2 != "FRONTEND" && $2 != "BACKEND" && $18 == "UP"' | wc -l)
  if [ "$primary_up" = 1 ] && [ "$replicas_up" -ge "$REPLICAS" ]; then
    echo "haproxy: 1 primary up, $replicas_up replicas up"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "haproxy backends not ready after ${TIMEOUT:-90}s: primary up=$primary_up (want 1), replicas up=$replicas_up (want $REPLICAS)" >&2
    echo "$stat" | cut -d, -f1,2,18,37 >&2
    exit 1
  fi
  sleep 1
done
