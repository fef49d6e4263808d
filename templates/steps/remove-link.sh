# Remove the symlink LINK if it is still ours.
[ -L "$LINK" ] && rm -f "$LINK" || true
