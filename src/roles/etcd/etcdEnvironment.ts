// /etc/default/etcd, read by Debian's etcd.service (EnvironmentFile=).
// https://etcd.io/docs/v3.4/op-guide/configuration/
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export const ETCD_ENVIRONMENT_PATH = "/etc/default/etcd";
/** What a member that joined a running cluster starts with besides (written by templates/steps/etcd-member.sh). */
export const ETCD_JOIN_ENVIRONMENT_PATH = "/etc/default/etcd-join";

export interface EtcdEnvironmentInput {
  readonly clusterName: string;
  readonly memberName: string;
  readonly address: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** name=http://addr:peerPort,... for every member. */
  readonly initialCluster: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
}

/** A data dir of our own: the package's default member ("default") must never join our cluster. */
export const etcdDataDirectory = (clusterName: string) => `/var/lib/etcd/${clusterName}`;

export function renderEtcdEnvironment(ctx: ManagedFileContext, e: EtcdEnvironmentInput): string {
  const vars: [string, string][] = [
    ["ETCD_NAME", e.memberName],
    ["ETCD_DATA_DIR", etcdDataDirectory(e.clusterName)],
    ["ETCD_LISTEN_PEER_URLS", `http://${e.address}:${e.peerPort}`],
    ["ETCD_LISTEN_CLIENT_URLS", `http://${e.address}:${e.clientPort},http://127.0.0.1:${e.clientPort}`],
    ["ETCD_INITIAL_ADVERTISE_PEER_URLS", `http://${e.address}:${e.peerPort}`],
    ["ETCD_ADVERTISE_CLIENT_URLS", `http://${e.address}:${e.clientPort}`],
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
