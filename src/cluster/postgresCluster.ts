// The whole cluster from a validated StackConfig and a way to reach each
// host, in the runbook's order: hosts ready -> etcd members -> etcd healthy
// -> Patroni nodes -> leader and streaming replicas -> dynamic configuration
// -> roles and databases -> PgBouncer -> HAProxy -> client; with a monitor
// host, each host's exporters once its roles run, and the monitor (whose
// services start early, its gate last). Each stage is one
// component per host role (src/roles/<role>/) or a cluster-wide step of a
// role (etcdCluster.ts, patroniCluster.ts).
import * as pulumi from "@pulumi/pulumi";
import { hasRole } from "../config/topology";
import { SshConnection } from "../providers/shellCommand";
import { ClientHost } from "../roles/client/clientHost";
import { CLIENT_ROLE } from "../roles/client/slice";
import { EtcdCluster } from "../roles/etcd/etcdCluster";
import { EtcdMember } from "../roles/etcd/etcdMember";
import { ETCD_ROLE, etcdClientUrls } from "../roles/etcd/slice";
import { HaproxyNode } from "../roles/haproxy/haproxyNode";
import { HAPROXY_ROLE } from "../roles/haproxy/slice";
import { HostBase, installPackages } from "../roles/host/hostBase";
import { ExportersNode } from "../roles/monitor/exportersNode";
import { MonitorHost } from "../roles/monitor/monitorHost";
import { alertmanagerUrl, clusterPageUrl, MONITOR_ROLE, monitorHostOf, prometheusUrl } from "../roles/monitor/slice";
import { PgbouncerNode } from "../roles/pgbouncer/pgbouncerNode";
import { PGBOUNCER_ROLE } from "../roles/pgbouncer/slice";
import { PatroniCluster } from "../roles/postgres/patroniCluster";
import { PatroniNode } from "../roles/postgres/patroniNode";
import { MONITORING_USER, POSTGRES_ROLE, SUPERUSER } from "../roles/postgres/slice";
import { RoleArgs } from "../roles/roleArgs";
import { hostFactsOf } from "../stack/hostFacts";
import { ClusterPasswords } from "../stack/passwords";
import { HostConfig, StackConfig, topologyOf } from "../stack/stackConfig";

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
}

export class PostgresCluster extends pulumi.ComponentResource {
  /** libpq URIs of the primary and of the replicas through the first HAProxy (secret). */
  readonly primaryUri: pulumi.Output<string>;
  readonly replicasUri: pulumi.Output<string>;
  readonly haproxyStatsUrl: string;
  /** The first HAProxy's address: where clients connect. */
  readonly entryAddress: string;
  readonly etcdEndpoints: string[];
  readonly hostRoles: Record<string, { address: string; roles: string[] }>;
  /** Members still pending a restart (restartPolicy manual leaves them to the DBA). */
  readonly pendingRestart: pulumi.Output<string[]>;
  /** Prometheus, Alertmanager and the cluster page, when a host has the monitor role. */
  readonly monitoring?: { prometheusUrl: string; alertmanagerUrl: string; clusterPageUrl: string };

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "pulumi-patroni:index:PostgresCluster",
      name,
      {},
      { ...opts, aliases: [{ type: "pulumi-patroni:PostgresCluster" }] },
    );
    const { config, passwords } = args;
    const topology = topologyOf(config);
    const facts = hostFactsOf(config, args.stack);
    const child = { parent: this };
    const host = (h: HostConfig) => ({ ...h, connection: args.connections[h.name], owner: `${args.stack}/${h.name}` });
    const connectionOf = (h: HostConfig) => args.connections[h.name];

    // 1. Every host: reachable and its platform read; once every platform is accepted, packages
    // (database hosts first when the hosts share the controller's CPU).
    const bases = new Map(
      config.hosts.map((h) => [
        h.name,
        new HostBase(`${name}-${h.name}`, { config, host: host(h), facts, dependsOn: args.dependsOn }, child),
      ]),
    );
    const platforms = installPackages(config, topology, bases, this);
    /** Name, arguments and options of host h's `role` component, which waits for the host's packages (etcd: its own) and `after`. */
    const on = (
      h: HostConfig,
      role: string,
      after: pulumi.Resource[] = [],
    ): [string, RoleArgs, pulumi.ComponentResourceOptions] => {
      const platform = platforms.apply((p) => p[h.name]);
      const base = bases.get(h.name)!;
      const dependsOn = [role === ETCD_ROLE ? base.etcdReady : base.ready, ...after];
      return [
        `${name}-${h.name}-${role}`,
        { config, topology, host: host(h), managed: { stack: args.stack }, facts, passwords, platform, dependsOn },
        child,
      ];
    };

    /** What runs on each host once its roles are ready: the exporters wait for it. */
    const rolesReady = new Map<string, pulumi.Resource[]>(
      config.hosts.map((h) => [h.name, [bases.get(h.name)!.ready]]),
    );
    const readyOn = (h: HostConfig, ...r: pulumi.Resource[]) => rolesReady.get(h.name)!.push(...r);
    const monitor = monitorHostOf(topology);

    // 2. etcd members, one after the other, then every one of them healthy.
    const etcdCluster = new EtcdCluster(this, name, config, facts, connectionOf);
    const etcd: EtcdMember[] = [];
    for (const h of topology.withRole(ETCD_ROLE)) {
      etcd.push(new EtcdMember(...on(h, ETCD_ROLE, etcd.length ? [etcd[etcd.length - 1].ready] : [])));
    }
    const etcdSettled = etcdCluster.rollingRestart([etcdCluster.healthy(etcd.map((m) => m.ready))]);
    for (const h of topology.withRole(ETCD_ROLE)) readyOn(h, ...etcdSettled);

    // 3. Patroni nodes, then one leader and every replica streaming; then the DCS configuration.
    const patroniCluster = new PatroniCluster(this, name, config, facts, connectionOf);
    const roles = patroniCluster.internalRoles(passwords, (h) => bases.get(h.name)!.ready);
    // Every member's patroni.yml is written before any Patroni starts or reloads, and the
    // first member leads before the others start (see PatroniNode.startAfter).
    let configsWritten!: (configs: pulumi.Resource[]) => void;
    const allConfigs = new Promise<pulumi.Resource[]>((resolve) => (configsWritten = resolve));
    let leaderRuns!: (gate: pulumi.Resource[]) => void;
    const afterLeader = new Promise<pulumi.Resource[]>((resolve) => (leaderRuns = resolve));
    // The component name keeps the role's former name: renaming it would replace every step.
    const patroni = topology.withRole(POSTGRES_ROLE).map((h, i) => {
      const [n, a, o] = on(h, "patroni", [...etcdSettled, ...roles]);
      return new PatroniNode(n, { ...a, startAfter: i === 0 ? allConfigs : afterLeader }, o);
    });
    configsWritten(patroni.map((p) => p.config));
    leaderRuns([...patroni.map((p) => p.config), patroniCluster.leaderRuns([patroni[0].ready])]);
    const handover = patroniCluster.leaderHandover(patroni.map((p) => p.ready));
    const dynamicConfig = patroniCluster.dynamicConfiguration(passwords, [
      patroniCluster.healthy(passwords, [handover]),
    ]);
    const restarts = patroniCluster.rollingRestart(passwords, [dynamicConfig]);

    // 4. Roles, databases and PgBouncer's auth function on the primary; then PgBouncer.
    const sql = patroniCluster.rolesAndDatabases(passwords, [restarts], monitor ? MONITORING_USER : undefined);
    for (const h of topology.withRole(POSTGRES_ROLE)) readyOn(h, sql);
    const pgbouncers = topology
      .withRole(POSTGRES_ROLE)
      .filter((h) => hasRole(h, PGBOUNCER_ROLE))
      .map((h) => {
        const node = new PgbouncerNode(...on(h, PGBOUNCER_ROLE, [sql]));
        readyOn(h, node.ready);
        return node;
      });

    // 5. HAProxy in front of them, then the client hosts through the first HAProxy.
    const haproxies = topology.withRole(HAPROXY_ROLE).map((h) => {
      const node = new HaproxyNode(...on(h, HAPROXY_ROLE, [...pgbouncers.map((b) => b.ready), sql]));
      readyOn(h, node.ready);
      return node;
    });
    const haproxiesReady = haproxies.map((x) => x.ready);
    for (const h of topology.withRole(CLIENT_ROLE)) new ClientHost(...on(h, CLIENT_ROLE, haproxiesReady));

    // 6. With a monitor host: every host's exporters once its roles run; the monitor's services
    // start with its packages, and its gate waits until every target of the stack answers.
    if (monitor) {
      const exporters = config.hosts.map((h) => {
        const [n, a, o] = on(h, "exporters", rolesReady.get(h.name)!.slice(1));
        return new ExportersNode(n, { ...a, monitorAddress: monitor.address }, o);
      });
      const [n, a, o] = on(monitor, MONITOR_ROLE);
      new MonitorHost(n, { ...a, gateAfter: exporters.map((e) => e.ready) }, o);
      this.monitoring = {
        prometheusUrl: prometheusUrl(monitor),
        alertmanagerUrl: alertmanagerUrl(monitor),
        clusterPageUrl: clusterPageUrl(monitor),
      };
    }

    const entry = topology.withRole(HAPROXY_ROLE)[0];
    const uri = (port: number) =>
      pulumi.secret(
        passwords.apply(
          (p) => `postgresql://${SUPERUSER}:${encodeURIComponent(p.superuser)}@${entry.address}:${port}/postgres`,
        ),
      );
    this.primaryUri = uri(config.haproxy.primaryPort);
    this.replicasUri = uri(config.haproxy.replicaPort);
    this.entryAddress = entry.address;
    this.haproxyStatsUrl = `http://${entry.address}:${config.haproxy.statsPort}/`;
    this.etcdEndpoints = etcdClientUrls(config);
    this.pendingRestart = restarts.pending;
    this.hostRoles = Object.fromEntries(config.hosts.map((h) => [h.name, { address: h.address, roles: [...h.roles] }]));
    const { primaryUri, replicasUri, haproxyStatsUrl, etcdEndpoints, pendingRestart, monitoring } = this;
    this.registerOutputs({
      primaryUri,
      replicasUri,
      haproxyStatsUrl,
      etcdEndpoints,
      pendingRestart,
      hosts: this.hostRoles,
      ...monitoring,
    });
  }
}
