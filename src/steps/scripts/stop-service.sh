# On destroy: stop and disable the unit; data stays on disk (nothing lost).
# Env: UNIT.
if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): $UNIT left running"; exit 0; fi
systemctl disable --now "$UNIT" 2>/dev/null || true
