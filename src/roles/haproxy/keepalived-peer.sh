# One unicast peer of this host's keepalived: a file of its own in
# PEERS_DIR holding the peer's address, which keepalived.conf's unicast_peer
# block includes. Env: ACTION (add: write the file; the host's reload step
# follows; remove: the peer left the stack), PEERS_DIR, PEER, ADDRESS.
# remove runs in pulumi's delete phase, after the departing host's own
# keepalived stopped (its service step depends on this step): until then
# this host keeps sending it adverts, so it never hears silence and takes
# the VIP from a healthy holder while it waits to be removed.
file="$PEERS_DIR/$PEER.conf"
case "$ACTION" in
  add)
    mkdir -p "$PEERS_DIR"
    printf '%s\n' "$ADDRESS" >"$file.tmp"
    mv "$file.tmp" "$file"
    ;;
  remove)
    if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): $file kept"; exit 0; fi
    rm -f "$file"
    if systemctl is-active --quiet keepalived; then systemctl reload keepalived; fi
    echo "keepalived: no longer sends adverts to $PEER ($ADDRESS)"
    ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
