#!/usr/bin/env bash
# README's main command: bring up the local stand (five systemd-nspawn
# machines and the cluster on them). Installs what it needs on first use.
# Any extra arguments go to `pulumi up` (e.g. --refresh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/prepare.sh" >/dev/null
pulumi=("$repo/scripts/pulumi.sh")
"${pulumi[@]}" stack select --create local >/dev/null
start=$SECONDS
"${pulumi[@]}" up --stack local --yes --skip-preview "$@"
echo "local stand is up after $((SECONDS - start)) s. Try:"
echo "  npm run --silent ssh -- client01 psql service=primary -c 'select pg_is_in_recovery()'"
echo "  npm run --silent ssh -- pg01 patronictl -c /etc/patroni/patroni.yml list"
echo "  npm run pulumi -- stack output --stack local"
