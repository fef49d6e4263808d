# Remove files this stack wrote. Env: TARGETS (space separated).
if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): $TARGETS kept"; exit 0; fi
for target in $TARGETS; do rm -f "$target"; done
