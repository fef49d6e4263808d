#!/usr/bin/env bash
# npm run bench [-- --quick]: deploy, day-2 and client-path benchmarks on
# their own local stand (bench/bench.ts; about 25 minutes on 2 cores, 12
# with --quick, which skips the 5- and 7-node deploys). Installs what it
# needs on first use, like npm test. Figures: bench/results/bench-<date>.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/scripts/prepare.sh" >/dev/null
exec npx vite-node bench/bench.ts -- "$@"
