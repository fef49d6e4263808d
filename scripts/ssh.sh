#!/usr/bin/env bash
# A shell on a host of a stack, or one command run there, over SSH with the
# stack's key and the host key the stack recorded (never "trust anything"):
#   npm run --silent ssh -- HOST                 interactive shell
#   npm run --silent ssh -- HOST command args... runs the command with its
#                                                arguments exactly as given
# Env: STACK (default local). The key goes to a 0600 file in a 0700
# directory that is removed on exit; it never appears on a command line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack=${STACK:-local}
[[ $# -ge 1 ]] || { echo "usage: npm run --silent ssh -- HOST [command args...]" >&2; exit 2; }
host=$1; shift
dir=$(mktemp -d); chmod 700 "$dir"; trap 'rm -rf "$dir"' EXIT
(umask 077; "$repo/scripts/pulumi.sh" stack output --stack "$stack" --json --show-secrets > "$dir/outputs.json")
# Address, port, user, host key and private key of HOST, from the outputs.
read -r -d '' pick <<'JS' || true
const fs = require("fs");
const [host, dir] = process.argv.slice(1);
const o = JSON.parse(fs.readFileSync(0, "utf8"));
const h = (o.hosts || {})[host];
if (!h) { console.error(`no host ${host} in the stack's outputs; hosts: ${Object.keys(o.hosts || {}).join(", ")}`); process.exit(2); }
const ssh = o.ssh || { user: "root", port: 22 };
const key = (o.hostKeys || {})[host];
if (!key) { console.error(`the stack has no recorded host key for ${host}: run pulumi up first`); process.exit(2); }
fs.writeFileSync(`${dir}/key`, o.sshPrivateKey.endsWith("\n") ? o.sshPrivateKey : `${o.sshPrivateKey}\n`, { mode: 0o600 });
const address = (ssh.addresses || {})[host] || h.address;
const port = (ssh.ports || {})[host] || ssh.port;
fs.writeFileSync(`${dir}/known_hosts`, `${port === 22 ? address : `[${address}]:${port}`} ${key}\n`);
fs.writeFileSync(`${dir}/target`, `${ssh.user}@${address}\n${port}\n`);
JS
(umask 077; node -e "$pick" "$host" "$dir" < "$dir/outputs.json")
{ read -r target; read -r port; } < "$dir/target"
opts=(-i "$dir/key" -p "$port" -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR)
if (($# == 0)); then
  exec ssh -t "${opts[@]}" "$target"
fi
# ssh joins its arguments with spaces for the remote shell: quote each one so
# `psql -c 'select pg_is_in_recovery()'` arrives as three arguments.
remote=$(printf '%q ' "$@")
# shellcheck disable=SC2029 # quoted above on purpose: the remote shell splits it back into "$@"
ssh "${opts[@]}" "$target" "${remote% }"
