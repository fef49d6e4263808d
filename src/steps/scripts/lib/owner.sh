# owned_here: whether this host still belongs to the resources running the
# step (HOST_OWNER = "stack/host name"). The platform step writes the owner
# file; when a host was renamed (same machine, new name), the old name's
# deletes find the new owner and leave the machine alone.
owned_here() {
  [ -z "${HOST_OWNER:-}" ] || [ ! -f "$OWNER_FILE" ] || [ "$(cat "$OWNER_FILE")" = "$HOST_OWNER" ]
}
# The owner, for the message of a step that leaves the host alone.
current_owner() { cat "$OWNER_FILE"; }
