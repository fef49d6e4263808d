# The exporters of this host (re)started with their files, the ones no longer
# wanted here stopped, and the hourly certificate-expiry collector enabled
# and run once. ACTION: start (create, update) or stop (destroy).
# Env: ACTION, UNITS (the exporters wanted here), UNWANTED (exporters of other
# roles, stopped if running), TIMER (the certificate-expiry timer, without .timer).
systemctl daemon-reload
if [ "$ACTION" = stop ]; then
  if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): exporters left running"; exit 0; fi
  for unit in $UNITS "$TIMER.timer"; do systemctl disable --now "$unit" 2>/dev/null || true; done
  echo "stopped: $UNITS $TIMER.timer"
  exit 0
fi
for unit in $UNWANTED; do
  if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit"; then
    systemctl disable --now "$unit" 2>/dev/null || true
    echo "stopped $unit (not wanted on this host)"
  fi
done
for unit in $UNITS; do
  systemctl enable "$unit" >/dev/null 2>&1 || true
  systemctl restart "$unit"
done
systemctl enable --now "$TIMER.timer" >/dev/null 2>&1
systemctl start "$TIMER.service"
for unit in $UNITS; do printf '%s %s\n' "$unit" "$(systemctl is-active "$unit")"; done
