# This host's TLS files (TLS_DIR: the CAs it trusts, its certificate and
# key, HAProxy's pem, curl's config), each replaced atomically with its final
# owner and mode (the key before its certificate). Reloads nothing: the TLS
# rollout (or the roles' first start) makes the services read them.
# stdin: one line per file, "PATH MODE OWNER GROUP BASE64-OF-CONTENT".
# Prints the files that changed. Facts: TLS_DIR, TLS_KEY_GROUP.
mkdir -p "$TLS_DIR"
chmod 0755 "$TLS_DIR"
# The group that reads the key: Debian's ssl-cert package makes it (its
# postinst accepts one made here first, on a host that installs it later).
getent group "$TLS_KEY_GROUP" >/dev/null || groupadd --system "$TLS_KEY_GROUP"
# etcd reads the key through the group (postgres is in it already: postgresql-common).
if id etcd >/dev/null 2>&1 && ! id -nG etcd | tr ' ' '\n' | grep -qx "$TLS_KEY_GROUP"; then
  usermod -aG "$TLS_KEY_GROUP" etcd
fi
changed=()
while read -r path mode owner group content; do
  [ -n "$path" ] || continue
  tmp=$(mktemp "$(dirname "$path")/.pulumi-patroni.XXXXXX")
  chmod 600 "$tmp"
  printf '%s' "$content" | base64 -d > "$tmp"
  chown "$owner:$group" "$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chown "$owner:$group" "$path"; chmod "$mode" "$path"
  else
    mv -f "$tmp" "$path"
    changed+=("$(basename "$path")")
  fi
done
echo "TLS files: ${changed[*]:-unchanged}"
