#!/usr/bin/env bash
# README's test command: the whole suite. Installs what it needs on first use
# (scripts/prepare.sh), then runs
#   unit: config validation, renderers, component graph (mocks), a tiny real
#         program through the engine;
#   e2e:  the real local stand: machines, cluster, checks a DBA would make,
#         idempotence, destroy.
# Ends with a line "N passed, N failed". Extra arguments go to vitest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/scripts/prepare.sh" >/dev/null
echo "=== typecheck (tsc --noEmit) ==="
npx tsc --noEmit
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
for project in unit e2e; do
  echo "=== $project tests ==="
  npx vitest run --project "$project" --reporter=default --reporter=json --outputFile="$results/$project.json" "$@" || status=1
done
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${f}`, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + (r.numRuntimeErrorTests || 0);
  }
  console.log(`${passed} passed, ${failed} failed`);
' "$results"
exit $status
