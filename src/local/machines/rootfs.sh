#!/usr/bin/env bash
# Builds (once) and caches the Debian 13 (trixie) base root filesystem every
# local machine is made from. The directory name carries a hash of the recipe
# (suite, package list, preparation code), so changing the recipe builds a new
# base and machines made from an older one keep working.
#
#   rootfs.sh ensure [--apt-proxy http://10.213.0.1:3142 | --no-proxy] [--with-packages "P1 P2 ..."]
#                                                                         -> prints the base path
#   rootfs.sh path                                                        -> prints the path (may not exist yet)
#   rootfs.sh list                                                        -> cached bases
#   rootfs.sh prune                                                       -> delete bases that are
#                                            neither current nor used by an existing machine
#
# debootstrap goes through the stand's apt proxy when it answers (so a rebuild
# reuses the proxy cache), directly to the mirror otherwise.
#
# --with-packages: an image made from the base with those packages installed
# but nothing of theirs running or enabled (no default PostgreSQL cluster, no
# service the packages enable), as a cloud image or a Vagrant box would be.
# Cached by the base and the sorted package list; a machine made from it has
# nothing to install.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Debian 13: its Patroni (4.0.7) has the etcd3 leader-key fix that Debian 12's
# 3.0.2 lacks (README, Supported platforms).
SUITE=trixie
MIRROR=http://deb.debian.org/debian
# What the provisioner's commands may rely on being present on every machine.
PACKAGES=(
  systemd systemd-sysv dbus libpam-systemd openssh-server openssh-client
  iproute2 iputils-ping netbase netcat-openbsd curl ca-certificates gnupg
  python3 sudo procps less locales tzdata apt-utils
)

# Everything done to the freshly bootstrapped tree. Its source text is part of
# the recipe hash: edit it and a new base is built.
prepare_base() {
  local R=$1
  # apt: same suites as a normal Debian 13 host. The proxy is written per
  # machine by machine.sh (its address is a create argument).
  cat >"$R/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian trixie main
deb http://deb.debian.org/debian trixie-updates main
deb http://deb.debian.org/debian-security trixie-security main
EOF
  cat >"$R/etc/apt/apt.conf.d/20pulumi-patroni" <<'EOF'
Acquire::Languages "none";
Acquire::Retries "3";
EOF
  # The package lists, kept in the base (see below); through the proxy when
  # debootstrap used it. Best effort: a machine updates them itself anyway.
  chroot "$R" env "${envp[@]}" apt-get update -q >/dev/null 2>&1 || log "apt-get update in the base failed: machines will fetch the full lists"
  # The machines' "disks" are host directories and a machine's power loss is
  # a process kill: the host page cache survives it, so dpkg's fsyncs only
  # slow provisioning down.
  echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/10pulumi-patroni-unsafe-io"
  # No DNS inside the stand: names come from /etc/hosts, apt resolves through
  # the proxy. An empty resolv.conf makes lookups fail fast instead of trying
  # an address outside the stand.
  : >"$R/etc/resolv.conf"
  # Identity is per machine: empty machine-id (machine.sh writes one per copy),
  # no hostname, no ssh host keys.
  : >"$R/etc/machine-id"
  rm -f "$R/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$R/var/lib/dbus/machine-id"
  echo localhost >"$R/etc/hostname"
  rm -f "$R"/etc/ssh/ssh_host_*
  # sshd: root by key only. Pulumi opens many short parallel sessions, so
  # raise the unauthenticated-connection throttle.
  cat >"$R/etc/ssh/sshd_config.d/10-pulumi-patroni.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
MaxStartups 100:30:200
MaxSessions 64
EOF
  # No logind session per SSH login: in a container, a login arriving while
  # the previous session's user manager (user@0.service) stops waits for it,
  # up to minutes, and every provisioning step is a fresh login.
  sed -i '/pam_systemd\.so/d' "$R/etc/pam.d/common-session"
  install -d -m 0700 "$R/root/.ssh"
  # Locale: C.UTF-8 is built into glibc; en_US.UTF-8 generated for tools that want it.
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$R/etc/locale.gen"
  chroot "$R" /usr/sbin/locale-gen >/dev/null
  echo 'LANG=C.UTF-8' >"$R/etc/default/locale"
  # The address, route and link are configured from the host inside the
  # machine's network namespace before it boots (machine.sh): nothing inside
  # may reconfigure eth0.
  chroot "$R" systemctl disable systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service >/dev/null 2>&1 || true
  # Boot was checked to reach "running" with no failed unit, so nothing is
  # masked for that. Masked instead: timers that would take the dpkg lock at a
  # random moment (apt-daily*) and make the provisioner's apt-get fail, and
  # disk maintenance that is meaningless on a directory root.
  local u
  for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
    ln -sf /dev/null "$R/etc/systemd/system/$u"
  done
  # Like cloud and container images: no manuals, docs or translations. Every
  # machine unpacks the same packages on 2 shared cores; this is a third less.
  cat >"$R/etc/dpkg/dpkg.cfg.d/10-pulumi-patroni-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  # Keep the journal small: many machines share the host's disk.
  mkdir -p "$R/etc/systemd/journald.conf.d"
  printf '[Journal]\nSystemMaxUse=64M\n' >"$R/etc/systemd/journald.conf.d/10-pulumi-patroni.conf"
  # Drop downloaded .debs and build-time logs. The package lists and apt's
  # binary cache of them stay: the provisioner's apt-get update then fetches
  # only what changed since the base was built, and apt rebuilds its cache
  # only then (otherwise every machine downloads and parses the full lists,
  # about a CPU second each, on the same two cores, before its first install).
  find "$R/var/cache/apt/archives" -name '*.deb' -delete
  rm -rf "$R"/var/log/*.log "$R"/var/log/apt/* "$R"/var/cache/debconf/*-old
  echo "$SUITE base built by pulumi-patroni scripts/local/rootfs.sh" >"$R/etc/pulumi-patroni-base"
}

recipe_hash() {
  { echo "$SUITE"; echo "${PACKAGES[*]}"; declare -f prepare_base; } | sha256sum | cut -c1-12
}
base_path() { echo "$PP_CACHE_ROOT/rootfs/$SUITE-$(recipe_hash)"; }

debootstrap_failed() {
  tail -n 30 "$1.log" >&2 || true
  [[ -f $1/debootstrap/debootstrap.log ]] && tail -n 30 "$1/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (full log: $1.log; partial tree: $1)"
}

ensure() {
  local dest; dest=$(base_path)
  if [[ -f $dest/.complete ]]; then echo "$dest"; return 0; fi
  require_cmds debootstrap chroot curl unshare
  mkdir -p "$PP_CACHE_ROOT/rootfs"
  local tmp="$dest.tmp"
  rm -rf --one-file-system "$tmp"

  local -a envp=()
  if [[ -n $proxy ]] && http_ok "$proxy/acng-report.html" 3; then
    log "debootstrap via apt proxy $proxy"
    envp=(http_proxy="$proxy" HTTP_PROXY="$proxy")
  else
    log "apt proxy ${proxy:-(none)} not answering: debootstrap directly from $MIRROR"
  fi
  log "building $SUITE base into $dest (debootstrap minbase, 2-4 min on 2 cores)"
  local t0=$SECONDS
  local include; include=$(IFS=,; echo "${PACKAGES[*]}")
  # In a private mount namespace: the /proc and /sys mounts debootstrap makes
  # inside the target vanish with it, even when it fails half-way.
  if ! env "${envp[@]}" unshare --mount --propagation private \
      debootstrap --variant=minbase --components=main --include="$include" \
      "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
    debootstrap_failed "$tmp"
  fi
  log "debootstrap done in $((SECONDS - t0)) s; preparing the base"
  prepare_base "$tmp"
  touch "$tmp/.complete"
  mv "$tmp.log" "$tmp/.debootstrap.log"
  mv -T "$tmp" "$dest"
  log "base ready in $((SECONDS - t0)) s, $(du -sh --one-file-system "$dest" | cut -f1)"
  echo "$dest"
}

# The image of `base` with `packages` installed: nothing of theirs enabled or
# running, no default PostgreSQL cluster, no downloaded .debs kept.
with_packages() {
  local base=$1; shift
  local list; list=$(printf '%s\n' "$@" | sort -u | paste -sd' ' -)
  local dest; dest="$base-pkgs-$(printf '%s' "$list" | sha256sum | cut -c1-12)"
  if [[ -f $dest/.complete ]]; then echo "$dest"; return 0; fi
  require_cmds systemd-nspawn
  local tmp="$dest.tmp" t0=$SECONDS
  rm -rf --one-file-system "$tmp"
  log "building an image with $list (once per package list)"
  # The base's contents (it may be reached through a symlink): never the base itself.
  mkdir -p "$tmp"
  cp -a --reflink=auto "$(readlink -f "$base")/." "$tmp/"
  rm -f "$tmp/.complete"
  mkdir -p "$tmp/etc/postgresql-common/createcluster.d"
  printf 'create_main_cluster = false\n' >"$tmp/etc/postgresql-common/createcluster.d/pulumi-patroni.conf"
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"
  local -a proxy_opt=()
  [[ -n $proxy ]] && proxy_opt=(-o "Acquire::http::Proxy=$proxy")
  # Not booted: the packages' postinst scripts run without systemd, so no
  # service starts; the units they enable are disabled again below.
  systemctl_enabled() { systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe -- systemctl list-unit-files --state=enabled --no-legend 2>/dev/null | awk '{print $1}' | sort; }
  local before; before=$(systemctl_enabled)
  # shellcheck disable=SC2086 # the package list is split into words on purpose
  if ! systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe -E DEBIAN_FRONTEND=noninteractive -- \
      sh -c "apt-get ${proxy_opt[*]} update -q && apt-get ${proxy_opt[*]} install -y -q --no-install-recommends $list" >"$tmp.log" 2>&1; then
    tail -n 30 "$tmp.log" >&2
    die "installing the image's packages failed (log: $tmp.log)"
  fi
  local enabled; enabled=$(comm -13 <(echo "$before") <(systemctl_enabled) | grep -E '\.(service|timer|socket)$' || true)
  # shellcheck disable=SC2086 # one unit name per word
  [[ -z $enabled ]] || systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe -- systemctl disable $enabled >/dev/null 2>&1
  rm -f "$tmp/usr/sbin/policy-rc.d"
  find "$tmp/var/cache/apt/archives" -name '*.deb' -delete
  rm -rf "$tmp"/var/log/apt/*
  echo "$list" >"$tmp/etc/pulumi-patroni-image-packages"
  touch "$tmp/.complete"
  mv "$tmp.log" "$tmp/.image.log"
  mv -T "$tmp" "$dest"
  log "image ready in $((SECONDS - t0)) s (units disabled: ${enabled//$'\n'/ })"
  echo "$dest"
}

prune() {
  local cur b; cur=$(base_path)
  for b in "$PP_CACHE_ROOT"/rootfs/*; do
    [[ -d $b && $b != "$cur" ]] || continue
    # Overlay machines read their base live: never delete one in use.
    if grep -qsx "BASE=$b" "$PP_STATE_ROOT"/*/*/machine.env; then log "keeping $b (in use)"; continue; fi
    log "removing $b"
    rm -rf --one-file-system "$b"
    echo "$b"
  done
}

cmd=${1:-}; [[ -n $cmd ]] || usage; shift
proxy=http://10.213.0.1:3142 packages=""
while (($#)); do
  case $1 in
    --apt-proxy) proxy=${2:?}; shift 2 ;;
    --no-proxy) proxy=; shift ;;
    --with-packages) packages=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $cmd in
  ensure)
    require_root
    base=$(with_lock rootfs ensure)
    if [[ -z $packages ]]; then echo "$base"; else
      # shellcheck disable=SC2086 # one package per word
      with_lock rootfs with_packages "$base" $packages
    fi ;;
  path) base_path ;;
  prune) require_root; with_lock rootfs prune ;;
  list) for b in "$PP_CACHE_ROOT"/rootfs/*/; do [[ -d $b ]] && echo "${b%/}"; done; true ;;
  *) usage ;;
esac
