# Alertmanager reads its changed configuration: SIGHUP (systemctl reload),
# then proof it took it (the time of its last successful reload moves; amtool
# checked the file before it was written). Started when it is not running.
# Env: URL (Alertmanager; https with TLS, verified with the facts' CURL_TLS), TIMEOUT.
last_reload() {
  curl -fsS --max-time 3 -K "$CURL_TLS" "$URL/metrics" | awk '/^alertmanager_config_last_reload_success_timestamp_seconds / {print $2}' | grep .
}
if ! systemctl is-active --quiet prometheus-alertmanager; then
  systemctl start prometheus-alertmanager
  echo "alertmanager started"
  exit 0
fi
before=$(wait_until "$TIMEOUT" "alertmanager answering" last_reload)
# The timestamp has a resolution of one second.
sleep 1
systemctl reload prometheus-alertmanager
reloaded() { [ "$(last_reload)" != "$before" ]; }
wait_until "$TIMEOUT" "alertmanager reloading its configuration" reloaded
echo "alertmanager reloaded its configuration"
