# Bring a unit to the wanted state. Env: UNIT, ACTION:
#   start   - daemon-reload, enable, start (create)
#   reload  - reload a running unit, start it if it is not running (update)
#   restart - restart (for settings the daemon cannot reload)
systemctl daemon-reload
case "$ACTION" in
  start) systemctl enable "$UNIT" >/dev/null 2>&1 || true; systemctl start "$UNIT" ;;
  reload) if systemctl is-active --quiet "$UNIT"; then systemctl reload "$UNIT"; else systemctl enable "$UNIT" >/dev/null 2>&1 || true; systemctl start "$UNIT"; fi ;;
  restart) systemctl enable "$UNIT" >/dev/null 2>&1 || true; systemctl restart "$UNIT" ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
systemctl is-active "$UNIT"
