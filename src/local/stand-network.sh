# The local stand's network on the controller: its bridge, the apt proxy on
# the bridge address, and the base image its machines are made from.
# ACTION: up (create), down (delete), check (diff: a non-zero exit means they
# are gone, after a controller reboot say, and `up` runs again).
# Env: ACTION, MACHINES (the machine scripts' folder), BRIDGE, BRIDGE_ADDRESS,
# LISTEN (the bridge's address), APT_PROXY_PORT, MARKER (a whole-stand destroy's
# mark, see stand-teardown.sh: gone once the stand is up again or destroyed),
# PULUMI_PATRONI_SUBNET_PREFIX (the only addresses a stand may use;
# machines/lib.sh refuses others).
case "$ACTION" in
  up)
    rm -f "$MARKER"
    "$MACHINES/network.sh" up --bridge "$BRIDGE" --address "$BRIDGE_ADDRESS"
    "$MACHINES/apt-proxy.sh" up --listen "$LISTEN" --port "$APT_PROXY_PORT"
    "$MACHINES/rootfs.sh" ensure >/dev/null
    ;;
  down)
    "$MACHINES/apt-proxy.sh" down --listen "$LISTEN" --port "$APT_PROXY_PORT"
    "$MACHINES/network.sh" down --bridge "$BRIDGE" --address "$BRIDGE_ADDRESS"
    rm -f "$MARKER"
    ;;
  check)
    "$MACHINES/network.sh" status --bridge "$BRIDGE" --address "$BRIDGE_ADDRESS" >/dev/null &&
      "$MACHINES/apt-proxy.sh" status --listen "$LISTEN" --port "$APT_PROXY_PORT" >/dev/null
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
