# The leader hands over to a streaming replica (it restarts as a replica).
# Env: FROM, TO (set by the rolling restart for each action); fact CLUSTER.
patronictl switchover --leader "$FROM" --candidate "$TO" --force "$CLUSTER" >/dev/null
