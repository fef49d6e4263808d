#!/usr/bin/env bash
# README's main command: bring up the local stand (six systemd-nspawn
# machines and the cluster on them). Installs what it needs on first use.
# Any extra arguments go to `pulumi up` (e.g. --refresh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/prepare.sh" >/dev/null
pulumi=("$repo/scripts/pulumi.sh")
"${pulumi[@]}" stack select --create local >/dev/null
start=$SECONDS
"${pulumi[@]}" up --stack local --yes --skip-preview "$@"
stats=$("${pulumi[@]}" stack output --stack local haproxyStatsUrl)
# Empty when the stack has no monitor host.
page=$("${pulumi[@]}" stack output --stack local clusterPageUrl 2>/dev/null || true)
# test/e2e/readme.test.ts runs every command printed below the "Try:" line.
cat <<HINTS
local stand is up after $((SECONDS - start)) s. Try:
  npm run --silent ssh -- client01 psql service=primary -c 'select pg_is_in_recovery()'
  npm run --silent ssh -- pg01 patronictl list
  npm run pulumi -- stack output --stack local
  npm run --silent ctl -- status
HAProxy's stats page is $stats (user admin, the cluster's CA: stack output tlsCaCertificate); print its password with:
  npm run --silent pulumi -- stack output --stack local --show-secrets haproxyStatsPassword
${page:+The cluster page (Prometheus) is $page; npm run ctl -- status lists the firing alerts.}
HINTS
