# Before a PostgreSQL host leaves the stack: if it is the leader, a
# switchover to a healthy member that stays, while HAProxy still routes to
# both. A no-op when the leader is one of the configured members.
# Env: MEMBER_NAMES (space separated), TIMEOUT; fact CLUSTER.
members() { patronictl list -f json "$CLUSTER"; }
leader_now() { members | jq -er '.[] | select(.Role == "Leader" and .State == "running") | .Member'; }
# On the first deploy the members have only just started: wait for a leader.
leader=$(wait_until "$TIMEOUT" "a running leader" leader_now)
case " $MEMBER_NAMES " in
  *" $leader "*) echo "leader $leader stays in the cluster"; exit 0 ;;
esac
candidate=$(members | jq -r --arg names " $MEMBER_NAMES " '[.[] | select(.State == "streaming" and (" \(.Member) " as $m | $names | contains($m)))] | sort_by(."Lag in MB" // 0) | .[0].Member // empty')
[ -n "$candidate" ] || { echo "leader $leader leaves the stack, but no configured member is streaming to take over" >&2; exit 1; }
echo "leader $leader leaves the stack: switchover to $candidate first"
patronictl switchover --leader "$leader" --candidate "$candidate" --force "$CLUSTER" >/dev/null
new_leader() { [ "$(members | jq -r '.[] | select(.Role == "Leader" and .State == "running") | .Member')" = "$candidate" ]; }
wait_until "$TIMEOUT" "$candidate leading after the switchover" new_leader
echo "switchover done: $candidate leads"
