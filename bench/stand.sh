#!/usr/bin/env bash
# Deploy-time benchmark of the local stand: prints figures and their ratio to
# the targets (issues "local machines" and "cluster provisioning"):
#   fresh machines -> healthy cluster (warm apt cache)   target 120 s
#   no-change pulumi up                                  target  20 s
#   destroy                                              (no target)
# Uses the e2e stack (Pulumi.e2e.yaml); run it when no test uses that stack.
# Usage: bench/stand.sh [runs]   (default 1)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-1}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-e2e-stand-passphrase}
pulumi() { "$repo/scripts/pulumi.sh" "$@" --stack e2e --non-interactive; }
"$repo/scripts/prepare.sh" >/dev/null
"$repo/scripts/pulumi.sh" stack select --create e2e --non-interactive >/dev/null
pulumi destroy --yes --skip-preview >/dev/null
# Build the machine base image outside the timed runs (a one-time cost).
"$repo/scripts/local/rootfs.sh" ensure >/dev/null

timed() { local t0; t0=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $t0" | bc; }
printf '%-44s %10s %10s %8s\n' "step" "seconds" "target" "ratio"
for ((i = 1; i <= runs; i++)); do
  up=$(timed pulumi up --yes --skip-preview)
  noop=$(timed pulumi up --yes --skip-preview)
  down=$(timed pulumi destroy --yes --skip-preview)
  printf '%-44s %10.1f %10s %8.2f\n' "run $i: fresh machines -> healthy cluster" "$up" 120 "$(echo "$up / 120" | bc -l)"
  printf '%-44s %10.1f %10s %8.2f\n' "run $i: no-change pulumi up" "$noop" 20 "$(echo "$noop / 20" | bc -l)"
  printf '%-44s %10.1f %10s %8s\n' "run $i: pulumi destroy" "$down" "-" "-"
done
