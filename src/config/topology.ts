// Plain facts derived from the validated config that several renderers and
// components need; computed in one place so they never disagree.
import { HostConfig, Role, StackConfig } from "./schema";

export interface Topology {
  readonly hosts: readonly HostConfig[];
  readonly postgresHosts: readonly HostConfig[];
  readonly etcdHosts: readonly HostConfig[];
  readonly haproxyHosts: readonly HostConfig[];
  readonly clientHosts: readonly HostConfig[];
  /** etcd client URLs, e.g. http://10.0.0.11:2379, in host order. */
  readonly etcdClientUrls: readonly string[];
  /** etcd --initial-cluster value: name=peerUrl,... */
  readonly etcdInitialCluster: string;
  /**
   * Addresses that may open sessions to PostgreSQL: every host's, and the
   * controller's on a local stand (it sits on the hosts' bridge, so the fault
   * harness and a DBA at the controller reach every node directly).
   */
  readonly sessionAddresses: readonly string[];
  /** The hosts share the controller's CPU (local machines), so installs are staggered. */
  readonly hostsShareCpu: boolean;
}

export const hasRole = (host: HostConfig, role: Role): boolean => host.roles.includes(role);

export function deriveTopology(config: StackConfig): Topology {
  const by = (role: Role) => config.hosts.filter((h) => hasRole(h, role));
  const etcdHosts = by("etcd");
  return {
    hosts: config.hosts,
    postgresHosts: by("postgres"),
    etcdHosts,
    haproxyHosts: by("haproxy"),
    clientHosts: by("client"),
    etcdClientUrls: etcdHosts.map((h) => `http://${h.address}:${config.etcd.clientPort}`),
    etcdInitialCluster: etcdHosts.map((h) => `${h.name}=http://${h.address}:${config.etcd.peerPort}`).join(","),
    sessionAddresses: [
      ...config.hosts.map((h) => h.address),
      ...(config.hostSource === "local-machines" ? [config.localMachines.bridgeAddress.split("/")[0]] : []),
    ],
    hostsShareCpu: config.hostSource === "local-machines",
  };
}
