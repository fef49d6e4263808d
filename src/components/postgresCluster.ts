// The whole cluster from a validated StackConfig and a way to reach each
// host. Wires one component per host role in the runbook's order:
// hosts ready -> etcd members -> etcd healthy -> Patroni nodes -> leader and
// streaming replicas -> roles and databases -> PgBouncer -> HAProxy -> client.
import * as pulumi from "@pulumi/pulumi";
import { HostConfig, StackConfig } from "../config/schema";
import { deriveTopology, hasRole } from "../config/topology";
import { HostPlatform, packagesFor, pgbouncerHasAuthDbname, resolveHostPlatform } from "../platform/platform";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { renderPgpass, renderPgService } from "../render/clientConnection";
import { HaproxyBackendServer, renderHaproxyConfig } from "../render/haproxyConfig";
import { ManagedFileContext } from "../render/managedHeader";
import { ClusterPasswords, renderDynamicConfig, renderPatroniConfig, SUPERUSER } from "../render/patroniConfig";
import { PGBOUNCER_AUTH_USER, renderPgbouncerIni } from "../render/pgbouncerIni";
import { renderPgbouncerUserlist } from "../render/pgbouncerUserlist";
import { renderClusterSql } from "../render/clusterSql";
import { renderStepScript } from "../render/stepScript";
import { ClientHost } from "./clientHost";
import { EtcdMember } from "./etcdMember";
import { HaproxyNode } from "./haproxyNode";
import { healthGate, HostContext } from "./hostSteps";
import { HostBase } from "./hostBase";
import { PatroniNode } from "./patroniNode";
import { PgbouncerNode } from "./pgbouncerNode";

export interface PostgresClusterPasswords extends ClusterPasswords {
  readonly pgbouncerAuth: string;
  readonly haproxyStats: string;
  /** One per cluster.users entry, by role name. */
  readonly users: Readonly<Record<string, string>>;
}

export interface PostgresClusterArgs {
  readonly config: StackConfig;
  /** Stack name, written into every managed file's header. */
  readonly stack: string;
  /** SSH connection per host name (the private key is a secret). */
  readonly connections: Readonly<Record<string, pulumi.Input<SshConnection>>>;
  /** All passwords, resolved (secret). */
  readonly passwords: pulumi.Input<PostgresClusterPasswords>;
  /** Resources that must exist before any host step (e.g. local machines). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * The hosts share the controller's CPU (local machines): install the
   * database hosts' packages first, the others while the database bootstraps.
   * Real servers each have their own CPU and install all at once.
   */
  readonly hostsShareCpu?: boolean;
  /**
   * The controller's own address when it sits on the hosts' network (the
   * local stand's bridge): it may open sessions like a cluster host, so the
   * fault harness and a DBA at the controller reach every node directly.
   */
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
    super("pulumi-patroni:PostgresCluster", name, {}, opts);
    const { config } = args;
    const topo = deriveTopology(config);
    const managed: ManagedFileContext = { stack: args.stack };
    const passwords = pulumi.secret(args.passwords);
    const hostCtx = (h: HostConfig): Omit<HostContext, "parent"> => ({ hostName: h.name, connection: args.connections[h.name] });
    const gateCtx = (h: HostConfig): HostContext => ({ ...hostCtx(h), parent: this });

    // 1. Every host: reachable, its platform read, then (once every host's
    // platform is accepted) its packages.
    const bases = new Map<string, HostBase>();
    config.hosts.forEach((h) =>
      bases.set(
        h.name,
        new HostBase(
          `${name}-${h.name}`,
          {
            hostName: h.name,
            connection: args.connections[h.name],
            packages: packagesFor(h.roles, config.cluster.postgresVersion),
            aptSources: config.cluster.aptSources,
            aptKeyrings: config.cluster.aptKeyrings,
          },
          { parent: this, dependsOn: args.dependsOn },
        ),
      ),
    );
    const platforms: pulumi.Output<Record<string, HostPlatform>> = pulumi
      .all(Object.fromEntries([...bases].map(([host, base]) => [host, base.facts])))
      .apply((facts) => {
        const accepted: Record<string, HostPlatform> = {};
        const problems: string[] = [];
        for (const h of config.hosts) {
          const r = resolveHostPlatform({ hostName: h.name, roles: h.roles, postgresVersion: config.cluster.postgresVersion }, facts[h.name]);
          problems.push(...r.problems);
          if (r.platform) accepted[h.name] = r.platform;
        }
        if (problems.length > 0) {
          throw new pulumi.ResourceError(`no host was changed; these hosts cannot run their roles:\n${problems.map((p) => `  - ${p}`).join("\n")}`, this);
        }
        return accepted;
      });
    const accepted = platforms.apply(() => "every host's platform accepted");
    const platformOf = (h: HostConfig) => platforms.apply((p) => p[h.name]);
    const critical = config.hosts.filter((h) => hasRole(h, "postgres") || hasRole(h, "etcd"));
    critical.forEach((h) => bases.get(h.name)!.installPackages(accepted));
    const criticalPackages = critical.map((h) => bases.get(h.name)!.ready);
    config.hosts
      .filter((h) => !critical.includes(h))
      .forEach((h) => bases.get(h.name)!.installPackages(accepted, args.hostsShareCpu ? criticalPackages : []));
    const ready = (h: HostConfig) => [bases.get(h.name)!.ready];

    // 2. etcd members, then one gate that sees all of them healthy.
    const etcdMembers = topo.etcdHosts.map(
      (h) =>
        new EtcdMember(
          `${name}-${h.name}-etcd`,
          {
            host: hostCtx(h),
            managed,
            environment: {
              clusterName: config.cluster.name,
              memberName: h.name,
              address: h.address,
              clientPort: config.etcd.clientPort,
              peerPort: config.etcd.peerPort,
              initialCluster: topo.etcdInitialCluster,
              heartbeatIntervalMs: config.etcd.heartbeatIntervalMs,
              electionTimeoutMs: config.etcd.electionTimeoutMs,
            },
            dependsOn: ready(h),
          },
          { parent: this },
        ),
    );
    const etcdGate = healthGate(
      gateCtx(topo.etcdHosts[0]),
      {
        name: "etcd-cluster",
        template: "wait-etcd",
        env: { ENDPOINTS: topo.etcdClientUrls.join(","), MEMBERS: topo.etcdHosts.length, TIMEOUT: 120 },
        triggers: [topo.etcdInitialCluster],
      },
      etcdMembers.map((m) => m.service),
    );

    // 3. Patroni nodes, then one gate: a leader and every replica streaming.
    const allAddresses = [...config.hosts.map((h) => h.address), ...(args.controllerAddress ? [args.controllerAddress] : [])];
    const postgresAddresses = topo.postgresHosts.map((h) => h.address);
    const etcdHostPorts = topo.etcdHosts.map((h) => `${h.address}:${config.etcd.clientPort}`);
    const patroniNodes = topo.postgresHosts.map(
      (h) =>
        new PatroniNode(
          `${name}-${h.name}-patroni`,
          {
            host: hostCtx(h),
            managed,
            patroniConfig: passwords.apply((p) =>
              renderPatroniConfig(managed, {
                cluster: config.cluster,
                host: h,
                clusterAddresses: allAddresses,
                replicationAddresses: postgresAddresses,
                etcdHosts: etcdHostPorts,
                passwords: p,
              }),
            ),
            dependsOn: [...ready(h), etcdGate],
          },
          { parent: this },
        ),
    );
    const firstPostgres = topo.postgresHosts[0];
    const restUrl = `http://${firstPostgres.address}:${config.cluster.restApiPort}`;
    const patroniTriggers = [JSON.stringify(renderDynamicConfig(config.cluster)), ...topo.postgresHosts.map((h) => h.name)];
    const patroniGate = healthGate(
      gateCtx(firstPostgres),
      { name: "patroni-cluster", template: "wait-patroni", env: { REST: restUrl, MEMBERS: topo.postgresHosts.length, TIMEOUT: 300 }, triggers: patroniTriggers },
      patroniNodes.map((n) => n.service),
    );

    // 4. Day-2 safe: the DCS config the stack wants, with a rolling restart
    // of members that need one. A no-op on the first deploy (bootstrap.dcs).
    const dynamicConfig = new ShellCommand(
      `${name}-dynamic-config`,
      {
        description: `${firstPostgres.name}: apply Patroni dynamic configuration`,
        connection: args.connections[firstPostgres.name],
        create: renderStepScript("apply-dynamic-config", { CLUSTER: config.cluster.name, LOOP_WAIT: config.cluster.dcs.loopWait, TIMEOUT: 300 }),
        stdin: JSON.stringify(renderDynamicConfig(config.cluster)),
      },
      { parent: this, dependsOn: [patroniGate] },
    );

    // 5. Roles and databases, and PgBouncer's auth_query function, on the leader.
    const clusterSql = new ShellCommand(
      `${name}-cluster-sql`,
      {
        description: `${firstPostgres.name}: roles and databases on the primary`,
        connection: args.connections[firstPostgres.name],
        create: renderStepScript("cluster-sql", { REST: restUrl, PGPORT: config.cluster.postgresPort }),
        stdin: passwords.apply((p) => `${p.superuser}\n${renderClusterSql(config.cluster, p.pgbouncerAuth, p.users)}`),
      },
      { parent: this, dependsOn: [dynamicConfig] },
    );

    // 6. PgBouncer on every postgres host that has the role.
    const pgbouncers = topo.postgresHosts
      .filter((h) => hasRole(h, "pgbouncer"))
      .map(
        (h) =>
          new PgbouncerNode(
            `${name}-${h.name}-pgbouncer`,
            {
              host: hostCtx(h),
              managed,
              ini: platformOf(h).apply((platform) => renderPgbouncerIni(managed, {
                listenAddress: h.address,
                authDbname: pgbouncerHasAuthDbname(platform) ? "postgres" : undefined,
                port: config.pgbouncer.port,
                postgresPort: config.cluster.postgresPort,
                poolMode: config.pgbouncer.poolMode,
                defaultPoolSize: config.pgbouncer.defaultPoolSize,
                maxClientConn: config.pgbouncer.maxClientConn,
                authType: config.pgbouncer.authType,
                adminUsers: [SUPERUSER],
              })),
              userlist: passwords.apply((p) => renderPgbouncerUserlist(managed, { [PGBOUNCER_AUTH_USER]: p.pgbouncerAuth, [SUPERUSER]: p.superuser })),
              port: config.pgbouncer.port,
              superuserPassword: passwords.apply((p) => p.superuser),
              dependsOn: [...ready(h), clusterSql],
            },
            { parent: this },
          ),
      );

    // 7. HAProxy: primary and replicas ports in front of PgBouncer (or PostgreSQL).
    const servers: HaproxyBackendServer[] = topo.postgresHosts.map((h) => ({
      name: h.name,
      address: h.address,
      port: hasRole(h, "pgbouncer") ? config.pgbouncer.port : config.cluster.postgresPort,
    }));
    const primaryBackend = `${config.cluster.name}-primary`;
    const replicaBackend = `${config.cluster.name}-replicas`;
    const loadBalancedReplicas = topo.postgresHosts.filter((h) => !h.tags.noloadbalance).length - 1;
    const haproxies = topo.haproxyHosts.map(
      (h) =>
        new HaproxyNode(
          `${name}-${h.name}-haproxy`,
          {
            host: hostCtx(h),
            managed,
            config: passwords.apply((p) =>
              renderHaproxyConfig(managed, {
                clusterName: config.cluster.name,
                listenAddress: h.address,
                primaryPort: config.haproxy.primaryPort,
                replicaPort: config.haproxy.replicaPort,
                statsPort: config.haproxy.statsPort,
                maxConn: config.haproxy.maxConn,
                restApiPort: config.cluster.restApiPort,
                replicaMaxLag: config.haproxy.replicaMaxLag,
                checkIntervalMs: config.haproxy.checkIntervalMs,
                fastCheckIntervalMs: config.haproxy.fastCheckIntervalMs,
                fall: config.haproxy.fall,
                rise: config.haproxy.rise,
                servers,
                statsPassword: p.haproxyStats,
              }),
            ),
            primaryBackend,
            replicaBackend,
            expectedReplicas: Math.max(0, loadBalancedReplicas),
            dependsOn: [...ready(h), ...pgbouncers.map((b) => b.gate), clusterSql],
          },
          { parent: this },
        ),
    );

    // 8. Client hosts, through the first HAProxy.
    const entry = topo.haproxyHosts[0];
    topo.clientHosts.forEach(
      (h) =>
        new ClientHost(
          `${name}-${h.name}-client`,
          {
            host: hostCtx(h),
            pgService: renderPgService(managed, { host: entry.address, primaryPort: config.haproxy.primaryPort, replicaPort: config.haproxy.replicaPort }, SUPERUSER),
            pgpass: passwords.apply((p) =>
              renderPgpass(
                managed,
                [config.haproxy.primaryPort, config.haproxy.replicaPort].map((port) => ({ host: entry.address, port, user: SUPERUSER, password: p.superuser })),
              ),
            ),
            dependsOn: [...ready(h), ...haproxies.map((x) => x.gate)],
          },
          { parent: this },
        ),
    );

    const uri = (port: number) =>
      pulumi.secret(passwords.apply((p) => `postgresql://${SUPERUSER}:${encodeURIComponent(p.superuser)}@${entry.address}:${port}/postgres`));
    this.primaryUri = uri(config.haproxy.primaryPort);
    this.replicasUri = uri(config.haproxy.replicaPort);
    this.haproxyStatsUrl = `http://${entry.address}:${config.haproxy.statsPort}/`;
    this.etcdEndpoints = [...topo.etcdClientUrls];
    this.hostRoles = Object.fromEntries(config.hosts.map((h) => [h.name, { address: h.address, roles: [...h.roles] }]));
    this.registerOutputs({ primaryUri: this.primaryUri, replicasUri: this.replicasUri });
  }
}
