// The `tls` section: TLS with full verification on every hop (etcd clients
// and peers, Patroni's REST API, PostgreSQL and its replication, PgBouncer,
// HAProxy's checks and stats page, the client host), where each host's
// certificate and the cluster CA live on the hosts, and the facts the host
// scripts share about them. Not a host role: every host gets its files.
// Pure: no Pulumi, no role.
import * as crypto from "crypto";
import { z } from "zod";
import { FieldClasses, live } from "../config/fieldClasses";
import { positiveInt } from "../config/primitives";

/** The config key of a CA's private key supplied with tls.ca (a Pulumi secret). */
export const TLS_CA_KEY = "tlsCaKey";

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\s*$/;

export const tlsSettingsSchema = z
  .object({
    // Off when absent, so an upgraded stack never moves to TLS unasked; the
    // stack files a new stack starts from (stacks/local.yaml, the README's
    // example) set it.
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "TLS with full verification on every hop: etcd (clients and peers need a certificate), Patroni's REST API, PostgreSQL and replication, PgBouncer, HAProxy's checks and stats page. New stacks set it (stacks/local.yaml does); a stack without it stays plain text.",
      ),
    validityDays: positiveInt.max(3650).default(825).describe("How long a host's certificate is valid, in days."),
    renewBeforeDays: positiveInt
      .default(30)
      .describe(
        "A certificate (or the cluster CA) that expires within this many days is renewed by the next pulumi up; pulumi preview shows which.",
      ),
    rotation: z.number().int().min(0).default(0).describe("Raise to re-issue every host's certificate now (same CA)."),
    caGeneration: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Raise to rotate the cluster CA: the next CA, trusted everywhere since the last rotation, issues every certificate, and the old one is dropped.",
      ),
    allowPlainClients: z
      .boolean()
      .default(false)
      .describe(
        "Also accept client sessions without TLS at PgBouncer and PostgreSQL (replication, etcd, the REST API and HAProxy's checks stay TLS).",
      ),
    ca: z
      .object({
        certificate: z
          .string()
          .regex(PEM_CERTIFICATE, "must be one PEM certificate (-----BEGIN CERTIFICATE----- ...)")
          .describe(`The CA certificate (PEM); its key goes in the secret ${TLS_CA_KEY}.`),
      })
      .strict()
      .optional()
      .describe(
        "A CA of your own that issues the hosts' certificates instead of the generated cluster CA; a changed one is rotated bundle-first.",
      ),
  })
  .strict();
export type TlsSettings = z.infer<typeof tlsSettingsSchema>;

export interface TlsView {
  readonly tls: TlsSettings;
}

/** Where every host keeps its TLS files (layout and modes: README, section Security). */
export const TLS_DIR = "/etc/pulumi-patroni/tls";
export const TLS_PATHS = {
  /** The CAs this host trusts (PEM bundle). */
  ca: `${TLS_DIR}/ca.crt`,
  /** This host's certificate: server and client. */
  cert: `${TLS_DIR}/host.crt`,
  /** Its key: root:ssl-cert 0640 (PostgreSQL, Patroni, PgBouncer and etcd read it through the group). */
  key: `${TLS_DIR}/host.key`,
  /** Certificate and key in one file, as HAProxy reads them (HAProxy hosts only; root 0600). */
  haproxyPem: `${TLS_DIR}/haproxy.pem`,
  /**
   * Certificate and key in one file for Prometheus' and Alertmanager's https
   * listeners (monitor hosts only; root:prometheus 0640: readable by the
   * user both run as, not by the ssl-cert group).
   */
  monitorPem: `${TLS_DIR}/monitor.pem`,
  /** The cacert/cert/key lines every step script's curl reads (curl -K). */
  curlConfig: `${TLS_DIR}/curl.conf`,
} as const;
export type TlsPaths = Readonly<Record<keyof typeof TLS_PATHS, string>>;

/** The group that may read host.key (Debian's ssl-cert package). */
export const TLS_KEY_GROUP = "ssl-cert";

/** How long a generated cluster CA is valid (it is renewed within renewBeforeDays of this, like a leaf). */
export const CA_VALIDITY_DAYS = 3650;

/** libpq's settings for a verified session (sslmode verify-full against the cluster's CAs). */
export const verifyFull = (paths: Pick<TlsPaths, "ca"> = TLS_PATHS) => `sslmode=verify-full sslrootcert=${paths.ca}`;

/**
 * The TLS facts of the host scripts: paths, and what curl, etcdctl and psql
 * need to verify (and show this host's certificate). With TLS off, curl
 * reads an empty config and libpq keeps its default.
 */
export function tlsFacts(c: TlsView): Readonly<Record<string, string>> {
  const paths = {
    TLS_DIR,
    TLS_CA: TLS_PATHS.ca,
    TLS_CERT: TLS_PATHS.cert,
    TLS_KEY: TLS_PATHS.key,
    TLS_KEY_GROUP,
  };
  if (!c.tls.enabled) return { ...paths, CURL_TLS: "/dev/null", PG_SSL: "sslmode=prefer" };
  return {
    ...paths,
    CURL_TLS: TLS_PATHS.curlConfig,
    // etcdctl reads these from its environment (scripts/lib/etcdctl.sh names them).
    ETCDCTL_CACERT: TLS_PATHS.ca,
    ETCDCTL_CERT: TLS_PATHS.cert,
    ETCDCTL_KEY: TLS_PATHS.key,
    PG_SSL: verifyFull(),
  };
}

/** What is wrong with a supplied CA: not a CA, or a key that does not belong to it. */
export function suppliedCaProblems(certificate: string, key: string | undefined): string[] {
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certificate);
  } catch (e) {
    return [`tls.ca.certificate: is not a readable certificate (${(e as Error).message})`];
  }
  const problems: string[] = [];
  if (!cert.ca) problems.push("tls.ca.certificate: is not a CA certificate (basicConstraints CA:TRUE)");
  if (new Date(cert.validTo).getTime() < Date.now()) problems.push(`tls.ca.certificate: expired on ${cert.validTo}`);
  if (key === undefined) {
    problems.push(`tls.ca: needs the CA's private key as a secret: pulumi config set --secret ${TLS_CA_KEY} < ca.key`);
    return problems;
  }
  try {
    if (!cert.checkPrivateKey(crypto.createPrivateKey(key)))
      problems.push(`${TLS_CA_KEY}: is not the private key of tls.ca.certificate`);
  } catch {
    problems.push(`${TLS_CA_KEY}: is not a PEM private key`);
  }
  return problems;
}

export function tlsProblems(c: TlsView): string[] {
  const problems: string[] = [];
  if (2 * c.tls.renewBeforeDays > c.tls.validityDays) {
    problems.push(
      `tls.renewBeforeDays: must be at most half of tls.validityDays (${Math.floor(c.tls.validityDays / 2)}), or a new certificate would soon be renewed again; got ${c.tls.renewBeforeDays}`,
    );
  }
  if (c.tls.ca && c.tls.caGeneration > 0) {
    problems.push(
      "tls.caGeneration: rotates the generated cluster CA; with tls.ca, rotate by setting the new CA certificate and its key",
    );
  }
  return problems;
}

export const TLS_FIELD_CLASSES: FieldClasses = {
  "tls.enabled": live(
    "false to true moves a running plain-text cluster to TLS in an order that keeps writes and etcd's quorum (README, Security); true to false is refused at preview",
  ),
  "tls.validityDays": live("every host's certificate is re-issued with the new validity; services reload it"),
  "tls.renewBeforeDays": live("certificates now inside the window are renewed; services reload them"),
  "tls.rotation": live("every host's certificate is re-issued; services reload it (etcd reads it per connection)"),
  "tls.caGeneration": live(
    "the CA is rotated bundle-first: new certificates from the next CA (already trusted), then the old CA dropped; etcd members restart one at a time",
  ),
  "tls.allowPlainClients": live("pg_hba (patroni.yml) and PgBouncer's TLS mode, reloaded"),
  "tls.ca": live("a changed CA is rotated bundle-first (old and new trusted, new certificates, old dropped)"),
  [TLS_CA_KEY]: live("the key that signs the hosts' certificates; a new key goes with a new tls.ca.certificate"),
};
