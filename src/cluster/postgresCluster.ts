// The whole cluster from a validated StackConfig and a way to reach each
// host, in the runbook's order: hosts ready -> etcd members -> etcd healthy
// -> Patroni nodes -> leader and streaming replicas -> dynamic configuration
// -> roles and databases -> PgBouncer -> HAProxy -> client. Each stage is one
// component per host role (src/roles/) or a cross-host step (clusterSteps.ts).
import * as pulumi from "@pulumi/pulumi";
import { HostConfig, StackConfig } from "../config/schema";
import { deriveTopology, hasRole } from "../config/topology";
import { HostPlatform, resolveHostPlatform } from "../platform/platform";
import { SshConnection } from "../providers/shellCommand";
import { ManagedFileContext } from "../render/managedHeader";
import { ClientHost } from "../roles/client/clientHost";
import { EtcdMember } from "../roles/etcd/etcdMember";
import { HaproxyNode } from "../roles/haproxy/haproxyNode";
import { HostBase } from "../roles/host/hostBase";
import { PatroniNode } from "../roles/patroni/patroniNode";
import { SUPERUSER } from "../roles/patroni/patroniConfig";
import { PgbouncerNode } from "../roles/pgbouncer/pgbouncerNode";
import { ClusterSteps } from "./clusterSteps";
import { ClusterPasswords } from "./passwords";

export interface PostgresClusterArgs {
  readonly config: StackConfig;
  /** Stack name, written into every managed file's header. */
  readonly stack: string;
  /** SSH connection per host name (the private key is a secret). */
  readonly connections: Readonly<Record<string, pulumi.Input<SshConnection>>>;
  /** All passwords, resolved once (secret). */
  readonly passwords: pulumi.Output<ClusterPasswords>;
  /** Resources that must exist before any host step (e.g. local machines). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * The hosts share the controller's CPU (local machines): install the
   * database hosts' packages first, the others while the database bootstraps.
   * Real servers each have their own CPU and install all at once.
   */
  readonly hostsShareCpu?: boolean;
  /** The controller's address when it sits on the hosts' network (a local stand): it may open sessions like a cluster host. */
  readonly controllerAddress?: string;
}

export class PostgresCluster extends pulumi.ComponentResource {
  /** libpq URI of the primary through the first HAProxy (secret). */
  readonly primaryUri: pulumi.Output<string>;
  /** libpq URI of the replicas through the first HAProxy (secret). */
  readonly replicasUri: pulumi.Output<string>;
  readonly haproxyStatsUrl: string;
  readonly etcdEndpoints: string[];
  readonly hostRoles: Record<string, { address: string; roles: string[] }>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:PostgresCluster", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:PostgresCluster" }] });
    const { config, passwords } = args;
    const topology = deriveTopology(config);
    const managed: ManagedFileContext = { stack: args.stack };
    const host = (h: HostConfig) => ({ ...h, connection: args.connections[h.name] });
    const child = { parent: this };
    const named = (h: HostConfig, role = "") => `${name}-${h.name}${role}`;
    const steps = new ClusterSteps(this, name, config, topology, (h) => args.connections[h.name]);

    // 1. Every host: reachable and its platform read; once every platform is accepted, packages.
    const bases = new Map(config.hosts.map((h) => [h.name, new HostBase(named(h), { config, host: host(h), dependsOn: args.dependsOn }, child)]));
    const platforms = this.acceptPlatforms(config, bases);
    const accepted = platforms.apply(() => "every host's platform accepted");
    const isDatabaseHost = (h: HostConfig) => hasRole(h, "postgres") || hasRole(h, "etcd");
    const databasePackages = config.hosts.filter(isDatabaseHost).map((h) => bases.get(h.name)!.installPackages(accepted));
    config.hosts.filter((h) => !isDatabaseHost(h)).forEach((h) => bases.get(h.name)!.installPackages(accepted, args.hostsShareCpu ? databasePackages : []));
    const ready = (h: HostConfig) => [bases.get(h.name)!.ready];

    // 2. etcd members, then every one of them healthy.
    const etcd = topology.etcdHosts.map((h) => new EtcdMember(named(h, "-etcd"), { config, topology, host: host(h), managed, dependsOn: ready(h) }, child));
    const etcdHealthy = steps.etcdHealthy(etcd.map((m) => m.ready));

    // 3. Patroni nodes, then one leader and every replica streaming; then the DCS config.
    const extraClientAddresses = args.controllerAddress ? [args.controllerAddress] : [];
    const patroni = topology.postgresHosts.map((h) =>
      new PatroniNode(named(h, "-patroni"), { config, topology, host: host(h), managed, passwords, extraClientAddresses, dependsOn: [...ready(h), etcdHealthy] }, child),
    );
    const patroniHealthy = steps.patroniHealthy(patroni.map((p) => p.ready));
    const dynamicConfig = steps.dynamicConfiguration([patroniHealthy]);

    // 4. Roles, databases and PgBouncer's auth function on the primary; then PgBouncer.
    const sql = steps.rolesAndDatabases(passwords, [dynamicConfig]);
    const pgbouncers = topology.postgresHosts
      .filter((h) => hasRole(h, "pgbouncer"))
      .map((h) =>
        new PgbouncerNode(named(h, "-pgbouncer"), { config, host: host(h), platform: platforms.apply((p) => p[h.name]), managed, passwords, dependsOn: [...ready(h), sql] }, child),
      );

    // 5. HAProxy in front of them, then the client hosts through the first HAProxy.
    const haproxies = topology.haproxyHosts.map((h) =>
      new HaproxyNode(named(h, "-haproxy"), { config, topology, host: host(h), managed, passwords, dependsOn: [...ready(h), ...pgbouncers.map((b) => b.ready), sql] }, child),
    );
    topology.clientHosts.forEach((h) =>
      new ClientHost(named(h, "-client"), { config, topology, host: host(h), managed, passwords, dependsOn: [...ready(h), ...haproxies.map((x) => x.ready)] }, child),
    );

    const entry = topology.haproxyHosts[0];
    const uri = (port: number) => pulumi.secret(passwords.apply((p) => `postgresql://${SUPERUSER}:${encodeURIComponent(p.superuser)}@${entry.address}:${port}/postgres`));
    this.primaryUri = uri(config.haproxy.primaryPort);
    this.replicasUri = uri(config.haproxy.replicaPort);
    this.haproxyStatsUrl = `http://${entry.address}:${config.haproxy.statsPort}/`;
    this.etcdEndpoints = [...topology.etcdClientUrls];
    this.hostRoles = Object.fromEntries(config.hosts.map((h) => [h.name, { address: h.address, roles: [...h.roles] }]));
    this.registerOutputs({ primaryUri: this.primaryUri, replicasUri: this.replicasUri, haproxyStatsUrl: this.haproxyStatsUrl, etcdEndpoints: this.etcdEndpoints, hosts: this.hostRoles });
  }

  /** Every host's platform, or an error naming each host that cannot run its roles (then no host installs anything). */
  private acceptPlatforms(config: StackConfig, bases: Map<string, HostBase>): pulumi.Output<Record<string, HostPlatform>> {
    return pulumi.all(Object.fromEntries([...bases].map(([h, base]) => [h, base.facts]))).apply((facts) => {
      const accepted: Record<string, HostPlatform> = {};
      const problems: string[] = [];
      for (const h of config.hosts) {
        const r = resolveHostPlatform({ hostName: h.name, roles: h.roles, postgresVersion: config.cluster.postgresVersion }, facts[h.name]);
        problems.push(...r.problems);
        if (r.platform) accepted[h.name] = r.platform;
      }
      if (problems.length > 0) throw new pulumi.ResourceError(`no host was changed; these hosts cannot run their roles:\n${problems.map((p) => `  - ${p}`).join("\n")}`, this);
      return accepted;
    });
  }
}
