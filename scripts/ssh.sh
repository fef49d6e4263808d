#!/usr/bin/env bash
# Open a shell (or run a command) on a machine of a stack over SSH with the
# stack's key: npm run --silent ssh -- pg01 [command...]
# Env: STACK (default local). The key goes to a 0600 file that is removed on exit.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack=${STACK:-local}
[[ $# -ge 1 ]] || { echo "usage: npm run --silent ssh -- HOST [command...]" >&2; exit 2; }
host=$1; shift
dir=$(mktemp -d); chmod 700 "$dir"; trap 'rm -rf "$dir"' EXIT
# Outputs (with the key) stay in files and pipes, never in a command line.
(umask 077; "$repo/scripts/pulumi.sh" stack output --stack "$stack" --json --show-secrets > "$dir/outputs.json")
address=$(node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); const h=(o.hosts||{})[process.argv[1]]; if(!h){console.error(`no host ${process.argv[1]} in stack outputs; hosts: ${Object.keys(o.hosts||{}).join(", ")}`);process.exit(1)} console.log(h.address)' "$host" < "$dir/outputs.json")
(umask 077; node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8")).sshPrivateKey)' < "$dir/outputs.json" > "$dir/key")
tty=(); [[ -t 0 && $# -eq 0 ]] && tty=(-t)
ssh "${tty[@]}" -i "$dir/key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$address" "$@"
