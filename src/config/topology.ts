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

/** Packages a host needs for its roles, sorted so the install step is byte-stable. */
export function packagesFor(host: HostConfig, config: StackConfig): string[] {
  const v = config.cluster.postgresVersion;
  // Not ca-certificates: naming it upgrades it, and its postinst rebuilds
  // every certificate link (25 s per host); curl pulls it in when missing.
  const pkgs = new Set<string>(["curl", "jq"]);
  for (const role of host.roles) {
    switch (role) {
      case "etcd":
        ["etcd-server", "etcd-client"].forEach((p) => pkgs.add(p));
        break;
      case "postgres":
        [`postgresql-${v}`, `postgresql-client-${v}`, "patroni", "python3-etcd", "python3-psycopg2", "etcd-client"].forEach((p) => pkgs.add(p));
        break;
      case "pgbouncer":
        pkgs.add("pgbouncer");
        break;
      case "haproxy":
        ["haproxy", "socat"].forEach((p) => pkgs.add(p));
        break;
      case "client":
        // pgbench ships in the server package on Debian; no cluster is created (see install step).
        [`postgresql-client-${v}`, `postgresql-${v}`].forEach((p) => pkgs.add(p));
        break;
    }
  }
  return [...pkgs].sort();
}
