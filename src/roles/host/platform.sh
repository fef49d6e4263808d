# The host's platform, read before anything is installed anywhere: its
# release and, for each package of its roles, the installed and the candidate
# version once apt has read the configured sources. Prints one JSON line; the
# program (src/platform/platform.ts) decides whether the host can run its
# roles, and no host installs a package until every host passed.
# It also names what already runs here that this stack did not create (a
# PostgreSQL cluster, an etcd, another stack's Patroni): the program refuses
# to take such a host over unless its config says so.
# Env: PACKAGES (space separated), APT_SOURCES (newline separated, may be
# empty), APT_KEYRINGS (lines "NAME BASE64-OF-ARMORED-KEY", may be empty),
# Host facts: STACK (this stack's name), HOST_OWNER ("stack/host name"),
# OWNER_FILE, MANAGED_MARKER, PATRONI_CONFIG, ETCD_ENV.
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release

# Whose host this is (the delete steps of a renamed host's old name check it).
mkdir -p "$(dirname "$OWNER_FILE")"
printf '%s\n' "$HOST_OWNER" > "$OWNER_FILE"

# Our apt sources and their keys; sources we no longer list are removed.
mkdir -p /etc/apt/keyrings
wanted_keyrings=" "
while read -r name key; do
  [ -n "$name" ] || continue
  printf '%s' "$key" | base64 -d > "/etc/apt/keyrings/.pulumi-patroni-$name.asc.tmp"
  chmod 0644 "/etc/apt/keyrings/.pulumi-patroni-$name.asc.tmp"
  mv -f "/etc/apt/keyrings/.pulumi-patroni-$name.asc.tmp" "/etc/apt/keyrings/pulumi-patroni-$name.asc"
  wanted_keyrings="$wanted_keyrings$name "
done <<< "$APT_KEYRINGS"
for f in /etc/apt/keyrings/pulumi-patroni-*.asc; do
  [ -e "$f" ] || continue
  name=${f#/etc/apt/keyrings/pulumi-patroni-}; name=${name%.asc}
  case "$wanted_keyrings" in *" $name "*) ;; *) rm -f "$f" ;; esac
done
if [ -n "$APT_SOURCES" ]; then
  printf '%s\n' "# $MANAGED_MARKER" "$APT_SOURCES" > /etc/apt/sources.list.d/pulumi-patroni.list
else
  rm -f /etc/apt/sources.list.d/pulumi-patroni.list
fi

# apt-daily or an operator may hold the lists lock for a while: wait, bounded.
attempt=0
until apt-get -o DPkg::Lock::Timeout=60 update -q >/tmp/pulumi-patroni-apt-update.log 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 3 ]; then
    echo "apt-get update failed 3 times:" >&2
    tail -n 20 /tmp/pulumi-patroni-apt-update.log >&2
    exit 1
  fi
  sleep 5
done

mapfile -t foreign < <(foreign_services)

json_escape() { printf '%s' "$1" | sed 's/[^A-Za-z0-9.:+~_ ,/()-]//g'; }
read -r -a wanted <<< "$PACKAGES"
candidates=$(apt-cache policy "${wanted[@]}" 2>/dev/null | awk '/^[^ ]/ {pkg=$1; sub(":$", "", pkg)} /^  Candidate:/ {print pkg, $2}' || true)
printf '{"id":"%s","versionId":"%s","codename":"%s","packages":{' "$(json_escape "${ID:-}")" "$(json_escape "${VERSION_ID:-}")" "$(json_escape "${VERSION_CODENAME:-}")"
sep=""
for pkg in "${wanted[@]}"; do
  installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$pkg" 2>/dev/null | awk '$1 == "ii" {print $2}' || true)
  candidate=$(printf '%s\n' "$candidates" | awk -v p="$pkg" '$1 == p && $2 != "(none)" {print $2}')
  printf '%s"%s":{"installed":"%s","candidate":"%s"}' "$sep" "$pkg" "$(json_escape "$installed")" "$(json_escape "$candidate")"
  sep=","
done
printf '},"foreign":['
sep=""
for f in "${foreign[@]}"; do
  printf '%s"%s"' "$sep" "$(json_escape "$f")"
  sep=","
done
printf ']}\n'
