#!/usr/bin/env bash
# Bootstraps the pinned, offline Pulumi toolchain and prints its bin dir on
# stdout (progress goes to stderr). Idempotent: a warm run only checks files.
#
# Why build from source: get.pulumi.com and GitHub releases are unreachable
# here; only the Go module proxy is. The bin dir holds three programs that
# must sit side by side (the CLI looks for its bundled plugins next to itself):
#   pulumi                         CLI, built from github.com/pulumi/pulumi/pkg/v3
#   pulumi-language-nodejs         our minimal host (toolchain/language-host),
#                                  because the official one is not on the proxy
#   pulumi-resource-pulumi-nodejs  shim that runs the SDK's dynamic provider
#                                  (toolchain/language-host/ too)
#
# Env: PULUMI_PATRONI_CACHE (default ~/.cache/pulumi-patroni) holds the
# binaries, keyed by version and a hash of the language host sources. Go's own
# module and build caches (GOMODCACHE, GOCACHE) are used as configured.
set -euo pipefail

PULUMI_VERSION=3.248.0 # keep equal to @pulumi/pulumi in package.json
# pkg/v3's go.mod replaces atotto/clipboard; replace directives of
# dependencies are ignored, so the throwaway module must repeat it.
CLIPBOARD_REPLACE=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lh_src=$repo/toolchain/language-host
say() { printf '[toolchain] %s\n' "$*" >&2; }

has_toolchain() { # $1 = dir holding pulumi + both plugins of our version
  [[ -x $1/pulumi && -x $1/pulumi-language-nodejs && -x $1/pulumi-resource-pulumi-nodejs ]] &&
    [[ $("$1/pulumi" version 2>/dev/null) == "v$PULUMI_VERSION" ]]
}

# 1. A suitable CLI already on PATH (e.g. an official install) wins.
if ambient=$(command -v pulumi 2>/dev/null) && has_toolchain "$(dirname "$ambient")"; then
  dirname "$ambient"
  exit 0
fi

# 2. Our cache. The key changes when the language host or shim sources change.
hash=$(cd "$lh_src" && cat go.mod go.sum ./*.go pulumi-resource-pulumi-nodejs | sha256sum | cut -c1-12)
cache=${PULUMI_PATRONI_CACHE:-$HOME/.cache/pulumi-patroni}
root=$cache/toolchain/v$PULUMI_VERSION-$hash
bin=$root/bin
if [[ -f $root/.complete ]] && has_toolchain "$bin"; then
  echo "$bin"
  exit 0
fi

# 3. Cold build. Serialise concurrent callers (two `npm run pulumi` at once).
command -v go >/dev/null || { say "error: Go is required to build the toolchain"; exit 1; }
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [[ -f $root/.complete ]] && has_toolchain "$bin"; then echo "$bin"; exit 0; fi

# The checksum database is unreachable here; go.sum files still pin hashes
# once written. Set GOSUMDB yourself where sum.golang.org is reachable.
export GOSUMDB=${GOSUMDB:-off} CGO_ENABLED=0
# Upstream release flags; the version stamp makes `pulumi version` non-empty.
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
stage=$root/stage
rm -rf "$stage" && mkdir -p "$stage"
t0=$SECONDS

say "building pulumi v$PULUMI_VERSION CLI (cold: ~1 GB of modules and many minutes on 2 cores)"
mod=$root/cli-module # throwaway module: pkg/v3 cannot be `go install`ed (replace directives)
mkdir -p "$mod"
(
  cd "$mod"
  [[ -f go.mod ]] || go mod init local/pulumi-toolchain >/dev/null 2>&1
  go mod edit -replace "$CLIPBOARD_REPLACE"
  say "resolving modules (go get pkg/v3 + sdk/v3 @ v$PULUMI_VERSION)"
  GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" 2>"$root/build.log"
  # MVS could lift sdk/v3 above pkg/v3's pin; the two must match.
  got=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3 github.com/pulumi/pulumi/sdk/v3 | sort -u)
  [[ $got == "v$PULUMI_VERSION" ]] || { say "error: pkg/sdk resolved to: $got"; exit 1; }
  say "compiling CLI (~1500 packages; full log: $root/build.log)"
  # -v lists each package as it compiles: count them as progress.
  GOFLAGS=-mod=mod go build -v -trimpath -tags osusergo -ldflags "$ldflags" \
    -o "$stage/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>&1 |
    tee -a "$root/build.log" | awk '++n % 100 == 0 { printf "[toolchain]   %d packages compiled\n", n > "/dev/stderr" }'
) || { say "error: CLI build failed; last lines of $root/build.log:"; { tail -n 20 "$root/build.log" || true; } >&2; exit 1; }
say "CLI built after $((SECONDS - t0)) s"

say "building pulumi-language-nodejs from toolchain/language-host"
# -mod=readonly: use the committed go.mod/go.sum, never rewrite them.
(cd "$lh_src" && GOFLAGS=-mod=readonly go build -trimpath \
  -ldflags "-s -w -X main.version=$PULUMI_VERSION" -o "$stage/pulumi-language-nodejs" .)

# Dynamic providers (pulumi.dynamic.Resource) run through this shell shim.
install -m 0755 "$lh_src/pulumi-resource-pulumi-nodejs" "$stage/"

rm -rf "$bin" && mv "$stage" "$bin"
has_toolchain "$bin" || { say "error: built toolchain does not report v$PULUMI_VERSION"; exit 1; }
touch "$root/.complete"
say "toolchain ready in $((SECONDS - t0)) s: $bin"
echo "$bin"
