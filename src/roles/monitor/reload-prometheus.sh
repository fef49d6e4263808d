# Prometheus reads its changed configuration and rules: SIGHUP (systemctl
# reload), then proof it took them, since the reload itself reports success
# even when Prometheus keeps the old configuration (promtool checked the
# files before they were written). Started when it is not running.
# Env: URL (Prometheus; https with TLS, verified with the facts' CURL_TLS), TIMEOUT.
runtime() { curl -fsS --max-time 3 -K "$CURL_TLS" "$URL/api/v1/status/runtimeinfo"; }
if ! systemctl is-active --quiet prometheus; then
  systemctl start prometheus
  echo "prometheus started"
  exit 0
fi
before=$(wait_until "$TIMEOUT" "prometheus answering" runtime | jq -r .data.lastConfigTime)
systemctl reload prometheus
reloaded() {
  local info
  info=$(runtime) || return 1
  [ "$(jq -r .data.lastConfigTime <<<"$info")" != "$before" ] && jq -e .data.reloadConfigSuccess <<<"$info" >/dev/null
}
wait_until "$TIMEOUT" "prometheus reloading its configuration" reloaded
echo "prometheus reloaded its configuration and rules"
