# The CA bundle the repository's TLS server checks client certificates
# against: the cluster's CA and the CAs of other stacks' hosts that use this
# repository (a restored cluster's, in CA_DIR). Rebuilt when it differs
# (check exits 1 then), and pgBackRest's server reloaded to read it.
# Env: ACTION (create|check), CA_FILE, CA_DIR, BUNDLE.
[ -r "$CA_FILE" ] || { echo "no cluster CA at $CA_FILE on $(hostname): pgBackRest's TLS uses the certificates TLS (tls.enabled) writes there; they must be in place first" >&2; exit 1; }
wanted() { cat "$CA_FILE"; for f in "$CA_DIR"/*.crt; do [ -f "$f" ] && cat "$f"; done; return 0; }
if [ "$ACTION" = check ]; then
  [ -f "$BUNDLE" ] && [ "$(cat "$BUNDLE")" = "$(wanted)" ]
  exit
fi
tmp=$(mktemp "$(dirname "$BUNDLE")/.bundle.XXXXXX")
trap 'rm -f "$tmp"' EXIT
wanted > "$tmp"
chmod 0644 "$tmp"
if [ -f "$BUNDLE" ] && cmp -s "$tmp" "$BUNDLE"; then echo "CA bundle unchanged"; exit 0; fi
mv -f "$tmp" "$BUNDLE"
if systemctl is-active --quiet pgbackrest; then systemctl reload pgbackrest; fi
echo "CA bundle: $(grep -c 'BEGIN CERTIFICATE' "$BUNDLE") certificate(s)"
