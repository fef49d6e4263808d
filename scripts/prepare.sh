#!/usr/bin/env bash
# Installs what the controller needs, once, and reuses it after:
#   Node.js 20+ and Go (from Debian's packages where the release has recent
#   enough ones; Debian 13 does, and its Go 1.24 fetches the newer Go the
#   toolchain asks for from the Go module proxy), Debian packages
#   (debootstrap, systemd-nspawn, apt-cacher-ng, ssh, haproxy for `haproxy -c`,
#   prometheus for promtool (the alert rules' unit tests), shellcheck in the
#   checks; chromium with PREPARE_BROWSER=1, for the cluster page's test in a
#   headless browser), npm dependencies, the offline Pulumi toolchain
#   (scripts/toolchain.sh). Prints the toolchain's bin dir.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[prepare] %s\n' "$*" >&2; }

# Node.js 20 or later (and npm), and a Go that can fetch newer Go toolchains (1.21+).
node_ok() { command -v node >/dev/null && command -v npm >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; }
go_ok() {
  command -v go >/dev/null || return 1
  local v; v=$(go env GOVERSION 2>/dev/null) || return 1   # go1.24.4; absent before Go 1.21
  [[ $v =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 21))
}
candidate_major() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*:\)\{0,1\}\([0-9]*\)\.\([0-9]*\).*/\2 \3/p'; }
runtimes=()
# A new machine may have no package lists yet: read them before asking for candidates.
if ! node_ok || ! go_ok; then [[ $(id -u) != 0 ]] || apt-get update -qq >&2; fi
if ! node_ok; then
  read -r major _ <<<"$(candidate_major nodejs)"
  ((${major:-0} >= 20)) || { say "error: Node.js 20 or later is needed and this release's apt has none (nodejs ${major:-none}); install it (e.g. from nodejs.org) and run again"; exit 1; }
  runtimes+=(nodejs npm)
fi
if ! go_ok; then
  read -r major minor <<<"$(candidate_major golang-go)"
  ((${major:-0} == 1 && ${minor:-0} >= 21)) || { say "error: Go 1.21 or later is needed and this release's apt has none (golang-go ${major:-none}.${minor:-}); install it (go.dev/dl) and run again"; exit 1; }
  runtimes+=(golang-go)
fi

packages=(debootstrap systemd-container apt-cacher-ng iproute2 openssh-client haproxy prometheus curl ca-certificates util-linux shellcheck)
# The cluster page's browser test (a capability test, not npm test) asks for chromium: a large package
# npm test does not need.
if [[ ${PREPARE_BROWSER:-} == 1 ]]; then packages+=(chromium); fi
missing=()
for p in "${runtimes[@]}" "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { say "error: run as root to install: ${missing[*]}"; exit 1; }
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the controller's own haproxy/apt-cacher-ng from starting on install: the stand runs its own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  rm -f /usr/sbin/policy-rc.d
fi

# npm install only when the lockfile changed since the last install. Not
# `npm ci`: the registry here serves no other platforms' optional packages
# (rollup, esbuild), so the lockfile lacks them and `npm ci` refuses it;
# `npm install` still installs the locked versions.
stamp=$repo/node_modules/.package-lock.sha256
lock_hash() { sha256sum "$repo/package-lock.json" "$repo/package.json" | sha256sum | cut -d' ' -f1; }
if [[ ! -f $stamp || $(cat "$stamp") != "$(lock_hash)" ]]; then
  say "installing npm dependencies"
  (cd "$repo" && npm install --no-audit --no-fund --loglevel=error >&2)
  lock_hash > "$stamp"
fi

"$repo/scripts/toolchain.sh"
