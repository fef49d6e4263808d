# The first delete of a whole stand's destroy (it depends on every step of
# the cluster, so Pulumi deletes it before them): the machines are switched
# off at once and MARKER says so, so every step's delete is skipped instead
# of handing over, draining and cleaning hosts that are about to vanish. A
# host removed alone by `pulumi up` still leaves gracefully.
# Env: MACHINES, STAND, NAMES (the stand's machines, space separated),
# MARKER, PULUMI_PATRONI_SUBNET_PREFIX.
mkdir -p "$(dirname "$MARKER")"
: >"$MARKER"
# All at once: one after another took 3 s each.
for name in $NAMES; do
  "$MACHINES/machine.sh" kill "$name" --stand "$STAND" >/dev/null 2>&1 &
done
wait
echo "stand $STAND switched off for its destroy"
