// /etc/default/etcd, read by Debian's etcd.service (EnvironmentFile=).
// https://etcd.io/docs/v3.5/op-guide/configuration/
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { etcdDataDirectory } from "./slice";

export { ETCD_ENVIRONMENT_PATH } from "./slice";

/** What a member that joined a running cluster starts with besides (written by etcd-member.sh). */
export const ETCD_JOIN_ENVIRONMENT_PATH = "/etc/default/etcd-join";

export interface EtcdEnvironmentInput {
  readonly clusterName: string;
  readonly memberName: string;
  /** This member's peer URL and client URL (etcd/slice.ts). */
  readonly peerUrl: string;
  readonly clientUrl: string;
  /** The same client port on the loopback address, for the host's own clients. */
  readonly loopbackClientUrl: string;
  /** The metrics listener on the member's address and on the loopback (/metrics and /health). */
  readonly metricsUrls: readonly string[];
  /** name=http://addr:peerPort,... for every member. */
  readonly initialCluster: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
}

export function renderEtcdEnvironment(ctx: ManagedFileContext, e: EtcdEnvironmentInput): string {
  const vars: [string, string][] = [
    ["ETCD_NAME", e.memberName],
    ["ETCD_DATA_DIR", etcdDataDirectory(e.clusterName)],
    ["ETCD_LISTEN_PEER_URLS", e.peerUrl],
    ["ETCD_LISTEN_CLIENT_URLS", `${e.clientUrl},${e.loopbackClientUrl}`],
    ["ETCD_LISTEN_METRICS_URLS", e.metricsUrls.join(",")],
    ["ETCD_INITIAL_ADVERTISE_PEER_URLS", e.peerUrl],
    ["ETCD_ADVERTISE_CLIENT_URLS", e.clientUrl],
    ["ETCD_INITIAL_CLUSTER", e.initialCluster],
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
  return managedHeader(ctx) + vars.map(([k, v]) => `${k}="${v}"`).join("\n") + "\n";
}
