#!/usr/bin/env bash
# Installs what the controller needs, once, and reuses it after:
#   Debian packages (debootstrap, systemd-nspawn, apt-cacher-ng, ssh, haproxy
#   for `haproxy -c` and prometheus for promtool in the unit tests), npm
#   dependencies, the offline Pulumi toolchain (scripts/toolchain.sh). Prints
#   the toolchain's bin dir. With --browser: only Debian's chromium, for the
#   test that opens the cluster page in a headless browser (prints its path).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[prepare] %s\n' "$*" >&2; }

packages=(debootstrap systemd-container apt-cacher-ng iproute2 openssh-client haproxy prometheus curl ca-certificates util-linux shellcheck)
if [[ ${1:-} == --browser ]]; then packages=(chromium); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { say "error: run as root to install: ${missing[*]}"; exit 1; }
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the controller's own haproxy/apt-cacher-ng/prometheus from starting on install: the stand runs its own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  rm -f /usr/sbin/policy-rc.d
fi
if [[ ${1:-} == --browser ]]; then command -v chromium; exit 0; fi

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
