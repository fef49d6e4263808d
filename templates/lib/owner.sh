# owned_here: whether this host still belongs to the resources running the
# step (OWNER = "stack/host name"). The platform step writes the owner; when
# a host was renamed (same machine, new name), the old name's deletes find
# the new owner and leave the machine alone.
owned_here() {
  [ -z "${OWNER:-}" ] || [ ! -f /etc/pulumi-patroni/owner ] || [ "$(cat /etc/pulumi-patroni/owner)" = "$OWNER" ]
}
