# What `npm run ctl -- status` reads of a host's TLS: its certificate's end
# and serial and the end of each CA it trusts, as JSON ({"cas": []} without
# TLS). Env: TLS_CERT, TLS_CA (src/tls/settings.ts).
end() { date -u -d "$(openssl x509 -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ; }
cert=null
if [ -r "$TLS_CERT" ]; then
  cert=$(printf '{"notAfter":"%s","serial":"%s"}' "$(end < "$TLS_CERT")" "$(openssl x509 -in "$TLS_CERT" -noout -serial | cut -d= -f2)")
fi
cas=""
if [ -r "$TLS_CA" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  awk -v d="$dir" '/-----BEGIN CERTIFICATE-----/ {n++} n {print > (d "/" n ".pem")}' "$TLS_CA"
  for f in "$dir"/*.pem; do
    [ -e "$f" ] || continue
    cas="$cas${cas:+,}$(printf '{"notAfter":"%s","subject":"%s"}' "$(end < "$f")" "$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//; s/"//g')")"
  done
fi
printf '{"certificate":%s,"cas":[%s]}\n' "$cert" "$cas"
