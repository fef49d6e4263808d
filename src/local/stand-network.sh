# The local stand's network on the controller: its bridge, the apt proxy on
# the bridge address, and the base image its machines are made from.
# ACTION: up (create), down (delete; a bridge other stands' machines still
# use stays), check (diff: a non-zero exit means they are gone, after a
# controller reboot say, and `up` runs again). Several stands may share a
# bridge, its address and its apt proxy.
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
    # This stand's machines are gone by now. Another stand may share the bridge (a
    # restored stack next to its source's repository host): its machines still
    # need the bridge and the apt proxy, and the last stand to go takes them down.
    others=$(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' ')
    if [ -n "${others// /}" ]; then
      echo "bridge $BRIDGE still has machines of another stand ($others): it and its apt proxy stay for them"
      exit 0
    fi
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
