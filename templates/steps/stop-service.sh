# On destroy: stop and disable the unit; data stays on disk (nothing lost).
# Env: UNIT, OWNER.
if ! owned_here; then echo "$(hostname) now belongs to $(cat /etc/pulumi-patroni/owner): $UNIT left running"; exit 0; fi
systemctl disable --now "$UNIT" 2>/dev/null || true
