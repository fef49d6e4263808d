// /etc/default/etcd, read by Debian's etcd.service (EnvironmentFile=).
// https://etcd.io/docs/v3.5/op-guide/configuration/
// https://etcd.io/docs/v3.5/op-guide/security/
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { TLS_PATHS, TlsPaths } from "../../tls/settings";
import { EtcdStage, stageMarker } from "../../tls/stages";
import { etcdDataDirectory, etcdHosts, etcdMetricsListener, EtcdView } from "./slice";

export { ETCD_ENVIRONMENT_PATH } from "./slice";

/** What a member that joined a running cluster starts with besides (written by etcd-member.sh). */
export const ETCD_JOIN_ENVIRONMENT_PATH = "/etc/default/etcd-join";

export interface EtcdEnvironmentInput {
  readonly clusterName: string;
  readonly memberName: string;
  /** This member's address: it listens there and on 127.0.0.1 (the host's own clients). */
  readonly address: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /**
   * The plain /health and /metrics listener (from the first TLS stage on, or
   * whenever the monitor scrapes it); absent: none.
   */
  readonly metricsPort?: number;
  /** Every member, for the initial cluster. */
  readonly members: readonly { readonly name: string; readonly address: string }[];
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /**
   * plain: http; dual: clients on http and https (the TLS files set for
   * clients and for the peer transport, peers still listening on http);
   * tls: https only, client certificates required from clients and peers.
   */
  readonly stage: EtcdStage;
  readonly tls: Pick<TlsPaths, "ca" | "cert" | "key">;
}

/** The environment of member `host` at `stage`. */
export function etcdEnvironmentInput(
  c: EtcdView,
  host: { readonly name: string; readonly address: string },
  stage: EtcdStage,
): EtcdEnvironmentInput {
  return {
    clusterName: c.cluster.name,
    memberName: host.name,
    address: host.address,
    clientPort: c.etcd.clientPort,
    peerPort: c.etcd.peerPort,
    ...(etcdMetricsListener(c, stage) ? { metricsPort: c.etcd.metricsPort } : {}),
    members: etcdHosts(c),
    heartbeatIntervalMs: c.etcd.heartbeatIntervalMs,
    electionTimeoutMs: c.etcd.electionTimeoutMs,
    stage,
    tls: TLS_PATHS,
  };
}

export function renderEtcdEnvironment(ctx: ManagedFileContext, e: EtcdEnvironmentInput): string {
  const peerScheme = e.stage === "tls" ? "https" : "http";
  const url = (scheme: string, address: string, port: number) => `${scheme}://${address}:${port}`;
  const clientSchemes = { plain: ["http"], dual: ["http", "https"], tls: ["https"] }[e.stage];
  const clientListen = [e.address, "127.0.0.1"].flatMap((a) => clientSchemes.map((s) => url(s, a, e.clientPort)));
  const peerUrl = url(peerScheme, e.address, e.peerPort);
  const vars: [string, string][] = [
    ["ETCD_NAME", e.memberName],
    ["ETCD_DATA_DIR", etcdDataDirectory(e.clusterName)],
    ["ETCD_LISTEN_PEER_URLS", peerUrl],
    ["ETCD_LISTEN_CLIENT_URLS", clientListen.join(",")],
    ["ETCD_INITIAL_ADVERTISE_PEER_URLS", peerUrl],
    // Patroni follows the advertised scheme, whatever its own etcd3.protocol says.
    ["ETCD_ADVERTISE_CLIENT_URLS", url(e.stage === "tls" ? "https" : "http", e.address, e.clientPort)],
    ["ETCD_INITIAL_CLUSTER", e.members.map((m) => `${m.name}=${url(peerScheme, m.address, e.peerPort)}`).join(",")],
    ["ETCD_INITIAL_CLUSTER_TOKEN", e.clusterName],
    // Only read when the data dir is empty, by a member of the first deploy; a
    // member added later joins with ETCD_JOIN_ENVIRONMENT_PATH (state existing).
    ["ETCD_INITIAL_CLUSTER_STATE", "new"],
    ["ETCD_HEARTBEAT_INTERVAL", String(e.heartbeatIntervalMs)],
    ["ETCD_ELECTION_TIMEOUT", String(e.electionTimeoutMs)],
    ["ETCD_AUTO_COMPACTION_MODE", "periodic"],
    ["ETCD_AUTO_COMPACTION_RETENTION", "1h"],
    // Patroni's etcd3 DCS talks to the v3 JSON gateway; nothing needs v2.
    ["ETCD_ENABLE_V2", "false"],
  ];
  const metricsPort = e.metricsPort;
  if (metricsPort !== undefined)
    // Monitoring reaches /health and /metrics without a certificate; nothing else is served there.
    vars.push(["ETCD_LISTEN_METRICS_URLS", [e.address, "127.0.0.1"].map((a) => url("http", a, metricsPort)).join(",")]);
  if (e.stage !== "plain") {
    vars.push(
      // The certificates are re-read per connection (a renewal needs no restart); the CA only at start.
      ["ETCD_CERT_FILE", e.tls.cert],
      ["ETCD_KEY_FILE", e.tls.key],
      ["ETCD_TRUSTED_CA_FILE", e.tls.ca],
      ["ETCD_CLIENT_CERT_AUTH", "true"],
      // Set while peers still listen on http: the outgoing peer transport uses
      // them as soon as a member's peer URL turns https.
      ["ETCD_PEER_CERT_FILE", e.tls.cert],
      ["ETCD_PEER_KEY_FILE", e.tls.key],
      ["ETCD_PEER_TRUSTED_CA_FILE", e.tls.ca],
      ["ETCD_PEER_CLIENT_CERT_AUTH", "true"],
    );
  }
  return managedHeader(ctx) + stageMarker(e.stage) + vars.map(([k, v]) => `${k}="${v}"`).join("\n") + "\n";
}
