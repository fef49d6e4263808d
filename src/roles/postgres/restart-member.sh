# One member's PostgreSQL restarted by Patroni for its pending change.
# Env: MEMBER (set by the rolling restart for each action); fact CLUSTER.
patronictl restart --pending --force "$CLUSTER" "$MEMBER" >/dev/null
