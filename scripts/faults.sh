#!/usr/bin/env bash
# npm run faults: the whole fault suite (test/faults) on its own local stand,
# about an hour on 2 cores (61 min measured); npm test runs a representative few of the same
# scenarios. Installs what it needs on first use (scripts/prepare.sh), like
# npm test. The figures go to bench/results/faults-<date>.{json,md}. Extra
# arguments go to vitest (-t NAME runs the matching faults only).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/scripts/prepare.sh" >/dev/null
exec npx vitest run --project faults "$@"
