# What `npm run ctl` reads on a PostgreSQL host: the scope, synchronous_mode
# and Patroni's view of the cluster (GET /config and GET /cluster need no
# credentials). Three parts on stdout: scope line, synchronous_mode line, the
# /cluster JSON. Env: PATRONI_CONFIG.
read_config() { python3 -c "import os, sys, yaml; c = yaml.safe_load(open(os.environ['PATRONI_CONFIG'])); print(eval(sys.argv[1]))" "$1"; }
read_config 'c["scope"]'
api="http://$(read_config 'c["restapi"]["connect_address"]')"
curl -fsS --max-time 5 "$api/config" | jq -r '.synchronous_mode // false'
curl -fsS --max-time 5 "$api/cluster"
