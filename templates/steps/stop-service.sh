# On destroy: stop and disable the unit; data stays on disk (nothing lost).
# Env: UNIT.
systemctl disable --now "$UNIT" 2>/dev/null || true
