#!/bin/sh
# Writes the notAfter of every certificate under /etc/pulumi-patroni/tls as a
# Unix time for node-exporter's textfile collector (the CertificateExpiresSoon
# alert). Run hourly by pulumi-patroni-tls-expiry.timer. Output, written
# atomically: /var/lib/prometheus/node-exporter/tls_certificates.prom
set -eu
dir=/var/lib/prometheus/node-exporter
mkdir -p "$dir"
tmp=$(mktemp "$dir/.tls_certificates.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP tls_certificate_not_after_timestamp_seconds notAfter of the certificate, Unix time."
  echo "# TYPE tls_certificate_not_after_timestamp_seconds gauge"
  if command -v openssl >/dev/null; then
    for f in /etc/pulumi-patroni/tls/*.crt; do
      [ -f "$f" ] || continue
      end=$(openssl x509 -noout -enddate -in "$f" | cut -d= -f2)
      echo "tls_certificate_not_after_timestamp_seconds{path=\"$f\"} $(date -d "$end" +%s)"
    done
  fi
} > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$dir/tls_certificates.prom"
trap - EXIT
