# The first pass of a CA rotation: this host trusts the CAs it trusted and
# the new ones (stdin: PEM certificates), so certificates from either verify.
# Prints "changed" or "unchanged". Fact: TLS_CA.
want=$(cat)
certificates() { awk '/-----BEGIN CERTIFICATE-----/ {b = ""} {b = b $0 "\n"} /-----END CERTIFICATE-----/ {if (!seen[b]++) printf "%s", b}'; }
current=$(certificates < "$TLS_CA" 2>/dev/null || true)
union=$(printf '%s\n%s\n' "$current" "$want" | certificates)
if [ "$union" = "$current" ]; then echo unchanged; exit 0; fi
tmp=$(mktemp "$(dirname "$TLS_CA")/.pulumi-patroni.XXXXXX")
printf '%s\n' "$union" > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$TLS_CA"
echo changed
