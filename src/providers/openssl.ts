// Certificates made with the controller's openssl (OpenSSL 3.0 on Debian 12
// and 13): no ASN.1 of our own, and the same tool an operator would use to
// inspect them. Keys never appear in argv, a log or a file outside a 0700
// directory of ours that is removed afterwards: the CA key goes in on
// stdin, a new key comes out on file descriptor 3, the certificate on stdout.
// EC P-256 keys; every leaf is for servers and clients both (etcd dials its
// own gRPC and its peers with the server certificate). Random 128-bit
// serials: Patroni notices a new REST certificate by its serial.
import * as childProcess from "child_process";
import * as crypto from "crypto";

export interface CertificateAuthority {
  readonly certificate: string;
  readonly key: string;
}

export interface IssuedCertificate {
  readonly certificate: string;
  readonly key: string;
}

export interface CertificateFacts {
  /** Uppercase hex, as openssl prints it. */
  readonly serial: string;
  /** ISO 8601, UTC. */
  readonly notAfter: string;
  /** SHA-256 of the DER, uppercase hex with colons (openssl's form). */
  readonly fingerprint: string;
}

const PREAMBLE = `set -euo pipefail
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
`;

/** Runs `script` with bash: `input` on stdin; returns stdout and what it wrote on fd 3. */
function run(script: string, args: readonly string[], input: string): Promise<{ stdout: string; fd3: string }> {
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn("bash", ["-c", PREAMBLE + script, "openssl-step", ...args], {
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let fd3 = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => (fd3 += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      // stderr is openssl's diagnostics: never a key (keys only travel on stdin and fd 3).
      if (code === 0) resolve({ stdout, fd3 });
      else reject(new Error(`openssl failed (exit ${code}): ${stderr.trim().slice(-2000)}`));
    });
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(input);
  });
}

const NEW_KEY = `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$work/key.pem"`;
const SERIAL = `-set_serial "0x$(openssl rand -hex 16)"`;

/** A new CA: its key and a self-signed certificate valid for `days`. Args: subject, days. */
export async function generateCa(commonName: string, days: number): Promise<CertificateAuthority> {
  const { stdout, fd3 } = await run(
    `${NEW_KEY}
openssl req -x509 -new -key "$work/key.pem" -sha256 -days "$2" -subj "/CN=$1" ${SERIAL} \\
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \\
  -addext "subjectKeyIdentifier=hash"
cat "$work/key.pem" >&3`,
    [commonName, String(days)],
    "",
  );
  return { certificate: stdout, key: fd3 };
}

export interface LeafRequest {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly days: number;
}

const NAME = /^[A-Za-z0-9.*-]+$/;
const IP = /^[0-9a-fA-F.:]+$/;

/**
 * A new key and a certificate for it signed by `ca`, and its twin: a second
 * certificate for the same key and names with another serial (see
 * HostCertificate: it lets Patroni's REST API reload its trust).
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  request: LeafRequest,
): Promise<IssuedCertificate & { twin: string }> {
  for (const n of [request.commonName, ...request.dnsNames])
    if (!NAME.test(n)) throw new Error(`certificate name ${JSON.stringify(n)} is not a DNS name`);
  for (const a of request.ipAddresses)
    if (!IP.test(a)) throw new Error(`certificate address ${JSON.stringify(a)} is not an IP address`);
  const san = [...request.dnsNames.map((n) => `DNS:${n}`), ...request.ipAddresses.map((a) => `IP:${a}`)].join(",");
  // stdin: the CA key, then the CA certificate (split by the script).
  const { stdout, fd3 } = await run(
    `awk '/BEGIN CERTIFICATE/ {cert = 1} {print > (cert ? "'"$work"'/ca.crt" : "'"$work"'/ca.key")}'
${NEW_KEY}
openssl req -new -key "$work/key.pem" -subj "/CN=$1" -out "$work/req.csr"
printf '%s\\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \\
  "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$2" \\
  "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" > "$work/ext.cnf"
for _ in 1 2; do
  openssl x509 -req -in "$work/req.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -sha256 -days "$3" ${SERIAL} \\
    -extfile "$work/ext.cnf" 2>/dev/null
done
cat "$work/key.pem" >&3`,
    [request.commonName, san, String(request.days)],
    `${ca.key.trim()}\n${ca.certificate.trim()}\n`,
  );
  const certs = pemBlocks(stdout);
  if (certs.length !== 2) throw new Error(`openssl printed ${certs.length} certificates, expected 2`);
  return { certificate: certs[0], twin: certs[1], key: fd3 };
}

/** The PEM certificates in `text`, each ending with a newline. */
export function pemBlocks(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

/** Serial, expiry and fingerprint of a PEM certificate (node's X.509 parser). */
export function certificateFacts(pem: string): CertificateFacts {
  const cert = new crypto.X509Certificate(pem);
  return {
    serial: cert.serialNumber.toUpperCase(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint: cert.fingerprint256,
  };
}
