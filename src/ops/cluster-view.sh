# What `npm run ctl` reads on a PostgreSQL host: the scope, synchronous_mode
# and Patroni's view of the cluster (GET /config and GET /cluster need no
# credentials). Three parts on stdout: scope line, synchronous_mode line, the
# /cluster JSON. The REST API's scheme and the certificates curl verifies it
# with and shows come from the node's own config (its ctl section, as
# patronictl's). Env: PATRONI_CONFIG.
read_config() { python3 -c "import os, sys, yaml; c = yaml.safe_load(open(os.environ['PATRONI_CONFIG'])); print(eval(sys.argv[1]))" "$1"; }
read_config 'c["scope"]'
scheme=$(read_config '"https" if c["restapi"].get("certfile") else "http"')
api="$scheme://$(read_config 'c["restapi"]["connect_address"]')"
tls=()
if [ "$scheme" = https ]; then
  tls=(--cacert "$(read_config 'c["ctl"]["cacert"]')" --cert "$(read_config 'c["ctl"]["certfile"]')" --key "$(read_config 'c["ctl"]["keyfile"]')")
fi
curl -fsS --max-time 5 "${tls[@]}" "$api/config" | jq -r '.synchronous_mode // false'
curl -fsS --max-time 5 "${tls[@]}" "$api/cluster"
