#!/usr/bin/env bash
# Power control for the local stand's machines, for users and fault tests:
#   npm run --silent power -- off  pg01    clean poweroff (SIGRTMIN+4 to the machine's init)
#   npm run --silent power -- kill pg01    abrupt power loss (SIGKILL of the machine's init)
#   npm run --silent power -- on   pg01    boot it again (same disk)
#   npm run --silent power -- status pg01
#   npm run --silent power -- link-down pg01   its network link down (link-up: up again)
# Env: STACK (default local). `pulumi up` also powers on any stopped machine.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -eq 2 ]] || { sed -n '2,9p' "$0" >&2; exit 2; }
action=$1 host=$2
case $action in
  off) verb=poweroff ;;
  kill) verb="kill" ;;
  on) verb=start ;;
  status) verb=status ;;
  link-down | link-up) verb=$action ;;
  *) echo "unknown action $action: use off, kill, on, status, link-down or link-up" >&2; exit 2 ;;
esac
exec "$repo/src/local/machines/machine.sh" "$verb" "$host" --stand "${STACK:-local}"
