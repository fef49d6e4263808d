# Install the packages of this host's roles that are missing (installed ones
# are never upgraded behind a running cluster's back), non-interactively,
# without letting any of them start a default service we would have to undo
# (Debian's main cluster on 5432, a single-node etcd). The platform step has
# already read the apt sources. Env: PACKAGES (space separated).
export DEBIAN_FRONTEND=noninteractive

# No default PostgreSQL cluster: Patroni creates its own data directory.
mkdir -p /etc/postgresql-common/createcluster.d
printf '# %s: Patroni owns the clusters on this host.\ncreate_main_cluster = false\n' "$MANAGED_MARKER" \
  > /etc/postgresql-common/createcluster.d/pulumi-patroni.conf

read -r -a wanted <<< "$PACKAGES"
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  # policy-rc.d 101 = "do not start services from maintainer scripts".
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  for attempt in 1 2 3; do
    # DPkg::Lock::Timeout: wait (bounded) for another apt or dpkg to finish.
    if apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends "${missing[@]}"; then break; fi
    [ "$attempt" = 3 ] && { echo "apt-get install failed 3 times" >&2; exit 1; }
    sleep 5
    apt-get -o DPkg::Lock::Timeout=120 update -q || true
  done
fi

# A default cluster left from an earlier manual install must not hold port 5432:
# stop and disable it, but never delete its data.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | while read -r version name port status _; do
    if [ -f "/etc/postgresql/$version/$name/postgresql.conf" ]; then
      echo "stopping Debian cluster $version/$name (port $port, $status): Patroni manages PostgreSQL here"
      systemctl disable --now "postgresql@$version-$name" 2>/dev/null || true
      echo manual > "/etc/postgresql/$version/$name/start.conf"
    fi
  done
fi
# The package's single-node etcd (data in /var/lib/etcd/default) must not run with defaults.
if [ -f "$ETCD_ENV" ] && ! grep -qF "$MANAGED_MARKER" "$ETCD_ENV"; then
  systemctl stop etcd 2>/dev/null || true
fi
echo "packages ready: ${missing[*]:-nothing to install} (of $PACKAGES)"
