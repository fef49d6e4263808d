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
  };
}
