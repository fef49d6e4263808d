# Health gate: every configured etcd member answers and is a started member
# (while members are being removed the cluster may still have more).
# Env: MEMBERS (count), TIMEOUT; facts ETCD_ENDPOINTS (comma separated), CURL_TLS.
all_members_healthy() {
  local healthy started
  healthy=$(etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy' || true)
  started=$(etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=3s member list 2>/dev/null | grep -c started || true)
  echo "$healthy/$MEMBERS endpoints healthy, $started members started"
  [ "$healthy" = "$MEMBERS" ] && [ "$started" -ge "$MEMBERS" ] && cluster_version_agreed
}
# Patroni picks its etcd API from the cluster version the first time it
# connects: a cluster that has just formed reports 3.0.0 until its members
# agree on one, and Patroni then waits 5 s before it tries again.
cluster_version_agreed() {
  local ep version
  for ep in ${ETCD_ENDPOINTS//,/ }; do
    version=$(curl -fsS --max-time 3 -K "$CURL_TLS" "$ep/version" 2>/dev/null | jq -r '.etcdcluster // "none"' 2>/dev/null || echo none)
    case "$version" in
      3.[3-9].* | 3.[1-9][0-9].* | [4-9].*) ;;
      *) echo "$ep: cluster version $version (members still agreeing on one)"; return 1 ;;
    esac
  done
}
wait_until "$TIMEOUT" "etcd with $MEMBERS healthy members" all_members_healthy
