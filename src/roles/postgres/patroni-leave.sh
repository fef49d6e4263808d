# A PostgreSQL member leaves the cluster (its host was removed from the
# stack; HAProxy no longer routes to it): a switchover first if it still
# leads, then Patroni (and PostgreSQL) stopped, its member key deleted from
# the DCS and its replication slot dropped everywhere. The data directory is
# kept. On a destroy of the whole cluster there is no one to hand over to.
# Env: NAME, LOOP_WAIT; facts CLUSTER, ETCD_ENDPOINTS, DCS_NAMESPACE,
# PATRONI_CONFIG, REST_SCHEME, REST_PORT, PG_PORT, SUPERUSER, CURL_TLS, PG_SSL.
if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): patroni left running"; exit 0; fi
list=$(patronictl list -f json "$CLUSTER" 2>/dev/null || echo '[]')
others=$(printf '%s' "$list" | jq -r --arg me "$NAME" '[.[] | select(.Member != $me and (.State == "running" or .State == "streaming"))] | length')
if [ "$others" -gt 0 ] && [ "$(printf '%s' "$list" | jq -r '.[] | select(.Role == "Leader") | .Member')" = "$NAME" ]; then
  candidate=$(printf '%s' "$list" | jq -r --arg me "$NAME" '[.[] | select(.Member != $me and .State == "streaming")] | .[0].Member // empty')
  if [ -n "$candidate" ]; then
    patronictl switchover --leader "$NAME" --candidate "$candidate" --force "$CLUSTER" >/dev/null || true
    sleep 5
  fi
fi
systemctl disable --now patroni 2>/dev/null || true
if [ "$others" -eq 0 ]; then echo "patroni stopped (no other member)"; exit 0; fi
etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=5s del "$DCS_NAMESPACE$CLUSTER/members/$NAME" >/dev/null || true
# Patroni keeps an absent member's slot for member_slots_ttl (30 min): let
# this one go now, then restore the default.
auth="" superuser_password=""
eval "$(python3 -c '
import os, shlex, yaml
c = yaml.safe_load(open(os.environ["PATRONI_CONFIG"]))
a = c["restapi"]["authentication"]
print("auth=" + shlex.quote("user = \"%s:%s\"" % (a["username"], a["password"])))
print("superuser_password=" + shlex.quote(c["postgresql"]["authentication"]["superuser"]["password"]))
')"
# On a destroy of the whole cluster every member leaves at once: with no
# leader left there is no slot to drop and no DCS config to edit.
leader=$(patronictl list -f json "$CLUSTER" 2>/dev/null | jq -r '.[] | select(.Role == "Leader") | .Host' 2>/dev/null || true)
if [ -z "$leader" ]; then echo "patroni stopped; no leader left (the cluster is being removed), nothing else to clean"; exit 0; fi
api=$REST_SCHEME://$leader:$REST_PORT
slot=$(printf '%s' "$NAME" | tr '[:upper:]' '[:lower:]' | sed 's/[^a-z0-9_]/_/g')
patch() { printf '%s' "$1" | curl -fsS -K "$CURL_TLS" --max-time 10 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$api/config" >/dev/null; }
if ! patch '{"member_slots_ttl": 0}'; then echo "patroni stopped; the leader's REST API did not take member_slots_ttl, the slot $slot goes within member_slots_ttl"; exit 0; fi
slot_gone() { [ "$(PGPASSWORD=$superuser_password psql -X -At "host=$leader port=$PG_PORT user=$SUPERUSER dbname=postgres connect_timeout=5 $PG_SSL" -c "select count(*) from pg_replication_slots where slot_name = '$slot'")" = 0 ]; }
gone=0
if wait_until $((LOOP_WAIT * 3 + 10)) "replication slot $slot dropped on $leader" slot_gone; then gone=1; fi
patch '{"member_slots_ttl": null}' || echo "warning: could not restore member_slots_ttl to its default on $leader; check patronictl show-config" >&2
if [ "$gone" = 1 ]; then
  echo "$NAME left the cluster: stopped, member key deleted, slot $slot dropped"
else
  echo "$NAME stopped; its slot $slot is dropped by Patroni within member_slots_ttl"
fi
