#!/usr/bin/env bash
# TEMPORARY, until the tls branch (the cluster CA and the host certificates)
# is merged: puts the files the tls role will write at
# /etc/pulumi-patroni/tls/{ca.crt,host.crt,host.key} (notes/tls.md section 1)
# into running local machines, so the backup role's pgBackRest TLS can be
# developed and tested. Not product code: delete it once the program writes
# these files itself.
#
#   dev-tls.sh STACK NAME=ADDRESS...
#   DEV_TLS_WAIT=SECONDS dev-tls.sh ...   waits for each machine to run first
#     (start it in the background before `pulumi up` creates the machines:
#     the files are in place seconds after a machine boots, long before the
#     packages that use them are installed)
#
# One CA per stack (EC P-256, kept 0600 under the stands' state root), one
# leaf per host with CN=NAME, SAN DNS:NAME, IP:ADDRESS, EKU serverAuth and
# clientAuth, written through machine.sh exec (no SSH needed).
set -euo pipefail
stack=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
machine=$here/../../src/local/machines/machine.sh
dir=${PULUMI_PATRONI_STATE:-/var/lib/pulumi-patroni}/dev-tls/$stack
umask 077
mkdir -p "$dir"
if [[ ! -s $dir/ca.key ]]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=pulumi-patroni $stack dev CA" \
    -set_serial "0x$(openssl rand -hex 16)" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectKeyIdentifier=hash" -out "$dir/ca.crt" 2>/dev/null
fi
for pair in "$@"; do
  name=${pair%%=*} addr=${pair#*=}
  deadline=$(($(date +%s) + ${DEV_TLS_WAIT:-0}))
  until [[ $("$machine" status "$name" --stand "$stack" 2>/dev/null) == running ]]; do
    if (($(date +%s) >= deadline)); then echo "dev-tls: $stack/$name is not running" >&2; exit 1; fi
    sleep 0.5
  done
  work=$(mktemp -d)
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$work/host.key"
  openssl req -new -key "$work/host.key" -subj "/CN=$name" -out "$work/host.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$name,DNS:localhost,IP:$addr,IP:127.0.0.1" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" > "$work/ext.cnf"
  openssl x509 -req -in "$work/host.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -sha256 -days 825 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$work/ext.cnf" -out "$work/host.crt" 2>/dev/null
  # One stream: the three files, each preceded by its name (the machine side expands its own variables).
  # shellcheck disable=SC2016
  { for f in ca.crt host.crt host.key; do
      printf '=== %s\n' "$f"
      if [[ $f == ca.crt ]]; then cat "$dir/ca.crt"; else cat "$work/$f"; fi
    done; } | "$machine" exec "$name" --stand "$stack" -- sh -c '
      set -e
      getent group ssl-cert >/dev/null || groupadd --system ssl-cert
      d=/etc/pulumi-patroni/tls
      mkdir -p "$d"; chmod 0755 "$d"
      awk -v d="$d" "/^=== /{f=d \"/\" \$2 \".new\"; next} {print > f}"
      chown root:root "$d/ca.crt.new" "$d/host.crt.new"; chmod 0644 "$d/ca.crt.new" "$d/host.crt.new"
      chown root:ssl-cert "$d/host.key.new"; chmod 0640 "$d/host.key.new"
      mv -f "$d/host.key.new" "$d/host.key"; mv -f "$d/host.crt.new" "$d/host.crt"; mv -f "$d/ca.crt.new" "$d/ca.crt"'
  rm -rf "$work"
  echo "dev-tls: $stack/$name ($addr)"
done
