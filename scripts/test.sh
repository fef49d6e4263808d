#!/usr/bin/env bash
# README's test command: the whole suite. Installs what it needs on first use
# (scripts/prepare.sh), then runs
#   lint: ESLint and Prettier, zero warnings;
#   typecheck;
#   unit: config validation, renderers, component graph (mocks), real
#         programs through the engine;
#   e2e:  real local stands: machines, cluster, the checks a DBA would make,
#         the README's commands, npm run ctl, day-2 changes, scale,
#         idempotence, destroy;
#   faults: a representative few of the fault scenarios on their own stand
#           (`npm run faults` runs every one).
# Ends with a line "N passed, N failed"; a suite that fails outside a test
# (its setup, say) counts as failed, never as "0 failed". Extra arguments go
# to vitest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/scripts/prepare.sh" >/dev/null
echo "=== lint (eslint, prettier) ==="
npm run --silent lint
echo "=== typecheck (tsc --noEmit) ==="
npx tsc --noEmit
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
for project in unit e2e faults; do
  echo "=== $project tests ==="
  code=0
  PULUMI_PATRONI_FAULTS=quick npx vitest run --project "$project" --reporter=default --reporter=json \
    --outputFile="$results/$project.json" "$@" || code=$?
  echo "$code" >"$results/$project.code"
  ((code == 0)) || status=1
done
node "$repo/scripts/test-summary.mjs" "$results"
exit $status
