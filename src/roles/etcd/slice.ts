// The etcd role (the DCS Patroni keeps the cluster's state in) and its
// `etcd` section: ports, timings, the members' URLs every other role uses.
import { z } from "zod";
import { CoreHost } from "../../config/core";
import { FieldClasses, identity, NEW_STACK, rolling } from "../../config/fieldClasses";
import { port, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { Topology } from "../../config/topology";
import { UnitSections } from "../../render/systemdUnit";
import { TlsView } from "../../tls/settings";
import { monitored } from "../monitor/monitored";
import { ClusterView } from "../postgres/slice";

export const etcdSettingsSchema = z
  .object({
    clientPort: port.default(2379).describe("etcd client port."),
    peerPort: port.default(2380).describe("etcd peer port."),
    metricsPort: port
      .default(2381)
      .describe(
        "With TLS or a monitor host: the plain listener for /health and /metrics (no certificate needed), on the host's address and 127.0.0.1; the monitor scrapes it.",
      ),
    heartbeatIntervalMs: positiveInt.default(1000).describe("etcd heartbeat interval."),
    electionTimeoutMs: positiveInt.default(5000).describe("etcd election timeout."),
  })
  .strict();
export type EtcdSettings = z.infer<typeof etcdSettingsSchema>;

export interface EtcdView extends ClusterView, TlsView {
  readonly etcd: EtcdSettings;
}

export const ETCD_ROLE = "etcd";
/** Read by Debian's etcd.service (EnvironmentFile=). */
export const ETCD_ENVIRONMENT_PATH = "/etc/default/etcd";

/** The etcd members, in configuration order. */
export const etcdHosts = <H extends CoreHost>(c: { readonly hosts: readonly H[] }): H[] =>
  c.hosts.filter((h) => h.roles.includes(ETCD_ROLE));

/** How clients and peers speak to etcd. */
export const etcdScheme = (c: TlsView): "http" | "https" => (c.tls.enabled ? "https" : "http");

/**
 * Whether the members run the plain /health and /metrics listener: with TLS
 * (from its first stage on: health checks need no certificate there), or
 * when a monitor host scrapes it. `stage` narrows TLS to the migration's.
 */
export const etcdMetricsListener = (
  c: TlsView & { readonly hosts: readonly { readonly roles: readonly string[] }[] },
  stage?: string,
): boolean => (stage === undefined ? c.tls.enabled : stage !== "plain") || monitored(c);

type EtcdUrlView = TlsView & { readonly etcd: EtcdSettings };

/** A member's client URL (https://10.0.0.11:2379): where Patroni, etcdctl and the steps reach it. */
export const etcdClientUrl = (c: EtcdUrlView, h: { readonly address: string }) =>
  `${etcdScheme(c)}://${h.address}:${c.etcd.clientPort}`;
export const etcdPeerUrl = (c: EtcdUrlView, h: { readonly address: string }) =>
  `${etcdScheme(c)}://${h.address}:${c.etcd.peerPort}`;

/** Every member's client address and port (address:2379), as Patroni's etcd3.hosts lists them. */
export const etcdClientHostPorts = (c: EtcdView): string[] =>
  etcdHosts(c).map((h) => `${h.address}:${c.etcd.clientPort}`);

/** Every member's client URL, in host order. */
export const etcdClientUrls = (c: EtcdView): string[] => etcdHosts(c).map((h) => etcdClientUrl(c, h));

/** etcd's --initial-cluster value: name=peerUrl,... */
export const etcdInitialCluster = (c: EtcdView): string =>
  etcdHosts(c)
    .map((h) => `${h.name}=${etcdPeerUrl(c, h)}`)
    .join(",");

/** A data dir of our own: the package's default member ("default") must never join our cluster. */
export const etcdDataDirectory = (clusterName: string) => `/var/lib/etcd/${clusterName}`;

/** etcd must not start before its address exists (else it fails: "cannot assign requested address"). */
export const ETCD_DROP_IN: UnitSections = {
  Unit: { After: "network-online.target", Wants: "network-online.target" },
  Service: { Restart: "on-failure", RestartSec: "2s" },
};

function etcdProblems(c: EtcdView, topology: Topology): string[] {
  const problems: string[] = [];
  const members = topology.withRole(ETCD_ROLE).length;
  if (members === 0)
    problems.push(`hosts: no host has the etcd role; Patroni needs etcd as its DCS (1, 3 or 5 members)`);
  else if (members % 2 === 0) {
    problems.push(
      `hosts: ${members} hosts have the etcd role; etcd needs an odd number of members (1, 3, 5, 7) to keep a majority`,
    );
  }
  if (c.etcd.electionTimeoutMs < 5 * c.etcd.heartbeatIntervalMs) {
    problems.push(
      `etcd.electionTimeoutMs: must be at least 5 x heartbeatIntervalMs (${5 * c.etcd.heartbeatIntervalMs}), got ${c.etcd.electionTimeoutMs}`,
    );
  }
  return problems;
}

const FIELD_CLASSES: FieldClasses = {
  "etcd.clientPort": identity("Patroni and every member reach etcd there; " + NEW_STACK),
  "etcd.peerPort": identity("the members reach each other there; " + NEW_STACK),
  "etcd.metricsPort": rolling("every etcd member restarts, one at a time, each healthy before the next"),
  "etcd.heartbeatIntervalMs": rolling("every etcd member restarts, one at a time, each healthy before the next"),
  "etcd.electionTimeoutMs": rolling("every etcd member restarts, one at a time, each healthy before the next"),
};

export const etcdSlice = {
  role: ETCD_ROLE,
  summary: "etcd (the DCS)",
  settings: { key: "etcd", schema: etcdSettingsSchema, description: "etcd (the DCS)." },
  ports: (c) => [
    { port: c.etcd.clientPort, field: "etcd.clientPort" },
    { port: c.etcd.peerPort, field: "etcd.peerPort" },
    ...(etcdMetricsListener(c) ? [{ port: c.etcd.metricsPort, field: "etcd.metricsPort" }] : []),
  ],
  problems: etcdProblems,
  packages: () => ["etcd-server", "etcd-client"],
  fieldClasses: FIELD_CLASSES,
  facts: (c) => ({
    ETCD_ENDPOINTS: etcdClientUrls(c).join(","),
    ETCD_DATA_DIR: etcdDataDirectory(c.cluster.name),
    ETCD_ENV: ETCD_ENVIRONMENT_PATH,
  }),
} as const satisfies RoleSlice<EtcdView>;
