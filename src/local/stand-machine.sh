# One machine of the local stand. ACTION:
#   create   a new machine (a leftover root filesystem of the same name is
#            destroyed first: its cluster data would not match this state's
#            passwords), booted, ready; prints its SSH host key
#   ensure   boot it if it is stopped (its disk is kept); prints its host key
#   destroy  remove it and everything it used
#   check    exit 0 when it runs (diff: a stopped machine is booted by ensure)
# stdin (create, ensure): the public key authorized for root.
# Env: ACTION, MACHINES (the machine scripts' folder), NAME, STAND, ADDRESS
# (with prefix), GATEWAY, BRIDGE, APT_PROXY, CAPABILITY (beyond nspawn's
# defaults, or none; a running machine whose capabilities change is booted
# again), PULUMI_PATRONI_SUBNET_PREFIX,
# IMAGE_PACKAGES (empty: the plain base image; else an image with them installed),
# DATA_DISK (optional, "MIB PATH": a filesystem of its own at PATH, made at create).
machine() { "$MACHINES/machine.sh" "$1" "$NAME" --stand "$STAND" "${@:2}"; }
ensure() {
  keys=$(mktemp)
  trap 'rm -f "$keys"' EXIT
  cat >"$keys"
  local image=()
  [ -z "$IMAGE_PACKAGES" ] || image=(--image-packages "$IMAGE_PACKAGES")
  [ -z "${DATA_DISK:-}" ] || image+=(--data-disk "${DATA_DISK%% *}" --data-disk-at "${DATA_DISK#* }")
  machine create --address "$ADDRESS" --gateway "$GATEWAY" --bridge "$BRIDGE" --apt-proxy "$APT_PROXY" \
    --capability "$CAPABILITY" \
    --authorized-keys-file "$keys" "${image[@]}" >&2
  # Booted is not enough: the steps that follow need sshd and systemd up.
  machine wait-ready --timeout 90 >&2
  machine host-key
}
case "$ACTION" in
  create) machine destroy >&2; ensure ;;
  ensure) ensure ;;
  destroy) machine destroy ;;
  check) [ "$(machine status)" = running ] ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
