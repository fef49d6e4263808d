# Apply a changed patroni.yml: `systemctl reload` only sends SIGHUP, and
# Patroni reads the file at the top of its next loop, rewriting pg_hba.conf
# and reloading PostgreSQL then (0.4 s later measured, up to loop_wait when
# the loop does not wake). Wait for that, so the steps after this one (and
# the user's next connection) meet the new rules, not the old ones.
# Patroni not running: start it, as the shared service script would.
# Env: LOOP_WAIT; fact PATRONI_CONFIG.
systemctl daemon-reload
if ! systemctl is-active --quiet patroni; then
  systemctl enable patroni >/dev/null 2>&1 || true
  systemctl start patroni
  systemctl is-active patroni
  exit 0
fi
# The cursor of Patroni's newest journal line: only lines after it count.
cursor=$(journalctl -u patroni -n 1 -q --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl reload patroni
# SIGHUP does not wake Patroni's loop (it sleeps up to loop_wait); a PATCH of
# /config with a value it already has writes nothing and wakes it. Best effort:
# without it the wait below is one loop_wait at most.
python3 - "$PATRONI_CONFIG" <<'PY' >/dev/null 2>&1 || true
import base64, json, ssl, sys, urllib.request, yaml
c = yaml.safe_load(open(sys.argv[1]))
rest, ctl = c["restapi"], c.get("ctl") or {}
scheme = "https" if rest.get("certfile") else "http"
url = f"{scheme}://{rest['connect_address']}/config"
tls = None
if scheme == "https":
    tls = ssl.create_default_context(cafile=ctl.get("cacert"))
    tls.load_cert_chain(ctl["certfile"], ctl["keyfile"])
auth = (ctl.get("authentication") or {})
headers = {"Content-Type": "application/json"}
if auth:
    headers["Authorization"] = "Basic " + base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
loop_wait = json.load(urllib.request.urlopen(url, context=tls, timeout=5))["loop_wait"]
body = json.dumps({"loop_wait": loop_wait}).encode()
urllib.request.urlopen(urllib.request.Request(url, body, headers, method="PATCH"), context=tls, timeout=5)
PY
bound=$((LOOP_WAIT * 3 > 60 ? LOOP_WAIT * 3 : 60))
deadline=$((SECONDS + bound))
while ((SECONDS < deadline)); do
  log=$(journalctl -u patroni -o cat -q ${cursor:+--after-cursor="$cursor"} 2>/dev/null || true)
  if grep -q "Failed to reload config_file" <<<"$log"; then
    echo "patroni did not apply its new configuration:" >&2
    grep -A5 "Failed to reload config_file" <<<"$log" >&2
    exit 1
  fi
  if grep -q "Reloading PostgreSQL configuration" <<<"$log"; then
    systemctl is-active patroni
    exit 0
  fi
  sleep 0.2
done
echo "patroni got the reload signal but did not apply its configuration within ${bound} s (its main loop is busy or stuck: journalctl -u patroni)" >&2
exit 1
