#!/usr/bin/env bash
# npm run lint: every rule that keeps the house as it is, zero warnings.
#   ESLint (typescript-eslint, type-aware: no floating promises), Prettier,
#   the import floors and cycles (scripts/check-imports.ts), shellcheck on
#   every tracked shell script (.shellcheckrc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npx eslint . --max-warnings 0
npx prettier --check . --log-level warn
npx vite-node scripts/check-imports.ts
git ls-files -z '*.sh' | xargs -0 shellcheck
echo "lint: eslint, prettier, import floors, shellcheck passed"
