# Install the packages of this host's roles, non-interactively, without
# letting any of them start a default service we would have to undo
# (Debian's 15/main cluster on 5432, a single-node etcd).
# Env: PACKAGES (space separated), APT_SOURCES (newline separated, may be empty).
export DEBIAN_FRONTEND=noninteractive

# No default PostgreSQL cluster: Patroni creates its own data directory.
mkdir -p /etc/postgresql-common/createcluster.d
printf '# Managed by pulumi-patroni: Patroni owns the clusters on this host.\ncreate_main_cluster = false\n' \
  > /etc/postgresql-common/createcluster.d/pulumi-patroni.conf

if [ -n "${APT_SOURCES:-}" ]; then
  printf '%s\n' "# Managed by pulumi-patroni" "$APT_SOURCES" > /etc/apt/sources.list.d/pulumi-patroni.list
else
  rm -f /etc/apt/sources.list.d/pulumi-patroni.list
fi

missing=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PACKAGES 2>/dev/null | awk '$2 != "ii" {print $1}' || true)
installed_count=$(dpkg-query -W -f='${db:Status-Abbrev}\n' $PACKAGES 2>/dev/null | grep -c '^ii' || true)
if [ "$installed_count" -ne "$(echo $PACKAGES | wc -w)" ] || [ -n "$missing" ]; then
  # policy-rc.d 101 = "do not start services from maintainer scripts".
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  for attempt in 1 2 3; do
    if apt-get update -q && apt-get install -y -q --no-install-recommends $PACKAGES; then break; fi
    [ "$attempt" = 3 ] && { echo "apt-get install failed 3 times" >&2; exit 1; }
    sleep 5
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
if [ -f /etc/default/etcd ] && ! grep -q "Managed by pulumi-patroni" /etc/default/etcd; then
  systemctl stop etcd 2>/dev/null || true
fi
echo "packages ready: $PACKAGES"
