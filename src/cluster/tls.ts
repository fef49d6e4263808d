// The cluster's TLS material: its CA (generated and kept in the state, or
// supplied in the stack's config), one certificate per host with every
// name it is reached at (src/tls/names.ts), and one for the controller (npm
// run ctl, the tests' harness, monitoring: the REST API and etcd want a
// client certificate of the cluster's CA). And each host's TLS files, as
// the hosts' TLS step and the TLS rollout write them.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { hasRole } from "../config/topology";
import { ClusterCa, HostCertificate } from "../providers/tlsCertificates";
import { HAPROXY_ROLE, clientEntryPoints } from "../roles/haproxy/slice";
import { MONITOR_ROLE } from "../roles/monitor/monitored";
import { POSTGRES_ROLE } from "../roles/postgres/slice";
import { HostConfig, StackConfig } from "../stack/stackConfig";
import { certificateNames } from "../tls/names";
import { CA_VALIDITY_DAYS, TLS_KEY_GROUP, TLS_PATHS } from "../tls/settings";

/** The controller's certificate: a client of the REST API and of etcd (its CN says whose). */
export const CONTROLLER_CERTIFICATE_NAME = "pulumi-patroni-controller";

export interface ClusterTls {
  /** The CAs every host trusts (PEM): what clients verify the cluster with. */
  readonly trust: pulumi.Output<string>;
  /** The CA that signs the certificates. */
  readonly issuer: pulumi.Output<string>;
  readonly caNotAfter: pulumi.Output<string>;
  readonly hosts: Readonly<Record<string, HostCertificate>>;
  readonly controller: HostCertificate;
}

/**
 * The names of `host`'s certificate. HAProxy sends client sessions to the
 * PostgreSQL hosts (to their PgBouncer when they have one), so those carry
 * every place clients dial (clientEntryPoints) too. An HAProxy host serves
 * its stats page over https on the VIP as well (haproxy.vip): it names the VIP.
 */
export const certificateNamesOf = (config: StackConfig, host: HostConfig) =>
  certificateNames(
    host,
    hasRole(host, POSTGRES_ROLE)
      ? clientEntryPoints(config)
      : hasRole(host, HAPROXY_ROLE) && config.haproxy.vip
        ? [{ address: config.haproxy.vip.address }]
        : [],
  );

export function clusterTls(
  parent: pulumi.Resource,
  name: string,
  config: StackConfig,
  suppliedCaKey: pulumi.Output<string> | undefined,
): ClusterTls {
  const t = config.tls;
  let issuer: pulumi.Output<string>;
  let issuerKey: pulumi.Output<string>;
  let trust: pulumi.Output<string>;
  let caNotAfter: pulumi.Output<string>;
  if (t.ca) {
    issuer = pulumi.output(t.ca.certificate);
    issuerKey = pulumi.secret(suppliedCaKey!);
    trust = issuer.apply((c) => `${c.trim()}\n`);
    caNotAfter = issuer.apply((c) => new Date(new crypto.X509Certificate(c).validTo).toISOString());
  } else {
    const ca = new ClusterCa(
      `${name}-tls-ca`,
      {
        commonName: `pulumi-patroni ${config.cluster.name} CA`,
        generation: t.caGeneration,
        validityDays: CA_VALIDITY_DAYS,
        renewBeforeDays: t.renewBeforeDays,
      },
      { parent },
    );
    issuer = ca.certificate;
    issuerKey = pulumi.secret(ca.key);
    trust = pulumi.all([ca.certificate, ca.nextCertificate]).apply(([c, n]) => `${c.trim()}\n${n.trim()}\n`);
    caNotAfter = ca.notAfter;
  }
  const issue = (resource: string, names: ReturnType<typeof certificateNames>) =>
    new HostCertificate(
      resource,
      {
        caCertificate: issuer,
        caKey: issuerKey,
        ...names,
        validityDays: t.validityDays,
        renewBeforeDays: t.renewBeforeDays,
        generation: t.rotation,
      },
      { parent },
    );
  const hosts = Object.fromEntries(
    config.hosts.map((h) => [h.name, issue(`${name}-${h.name}-tls-certificate`, certificateNamesOf(config, h))]),
  );
  const controller = issue(`${name}-controller-tls-certificate`, {
    commonName: CONTROLLER_CERTIFICATE_NAME,
    dnsNames: [CONTROLLER_CERTIFICATE_NAME],
    ipAddresses: [],
  });
  return { trust, issuer, caNotAfter, hosts, controller };
}

interface TlsFile {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly content: string;
}

/** tls-files.sh's stdin: "PATH MODE OWNER GROUP BASE64" per file. */
const fileLines = (files: readonly TlsFile[]) =>
  files.map((f) => `${f.path} ${f.mode} ${f.owner} ${f.group} ${Buffer.from(f.content).toString("base64")}\n`).join("");

/** curl -K: verify against the cluster's CAs and show this host's certificate. */
export const CURL_TLS_CONFIG = [
  `cacert = "${TLS_PATHS.ca}"`,
  `cert = "${TLS_PATHS.cert}"`,
  `key = "${TLS_PATHS.key}"`,
  "",
].join("\n");

/**
 * A host's TLS files (secret: the key): `final`, everything; `twin`, its
 * certificate's twin with the same key (the middle of a CA rotation), the
 * trust left as it is. The key is replaced before its certificate.
 */
export function tlsFilesOf(
  host: HostConfig,
  trust: pulumi.Output<string>,
  cert: HostCertificate,
): pulumi.Output<{ final: string; twin: string }> {
  return pulumi.secret(
    pulumi.all([trust, cert.certificate, cert.twinCertificate, cert.key]).apply(([ca, crt, twin, key]) => {
      const keyFile = { path: TLS_PATHS.key, mode: "0640", owner: "root", group: TLS_KEY_GROUP, content: key };
      const certFiles = (c: string): TlsFile[] => [
        keyFile,
        { path: TLS_PATHS.cert, mode: "0644", owner: "root", group: "root", content: c },
        // HAProxy reads it as root (its master process), at start and on every reload.
        ...(hasRole(host, HAPROXY_ROLE)
          ? [{ path: TLS_PATHS.haproxyPem, mode: "0600", owner: "root", group: "root", content: c + key }]
          : []),
        // Prometheus and Alertmanager (both run as prometheus) serve their https listeners with it;
        // one file, so a renewal never shows them a certificate without its key.
        ...(hasRole(host, MONITOR_ROLE)
          ? [{ path: TLS_PATHS.monitorPem, mode: "0640", owner: "root", group: "prometheus", content: c + key }]
          : []),
      ];
      return {
        final: fileLines([
          { path: TLS_PATHS.ca, mode: "0644", owner: "root", group: "root", content: ca },
          ...certFiles(crt),
          { path: TLS_PATHS.curlConfig, mode: "0644", owner: "root", group: "root", content: CURL_TLS_CONFIG },
        ]),
        twin: fileLines(certFiles(twin)),
      };
    }),
  );
}
