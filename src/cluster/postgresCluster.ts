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
import { BackupCluster, ExternalRepository, RepositoryAccess } from "../roles/backup/backupCluster";
import { BackupHost } from "../roles/backup/backupHost";
import { PgbackrestNode } from "../roles/backup/pgbackrestNode";
import { archives, BACKUP_ROLE, backupHostOf } from "../roles/backup/slice";
import { ClientHost } from "../roles/client/clientHost";
import { CLIENT_ROLE } from "../roles/client/slice";
import { EtcdCluster } from "../roles/etcd/etcdCluster";
import { EtcdMember } from "../roles/etcd/etcdMember";
import { ETCD_ROLE, etcdClientUrls } from "../roles/etcd/slice";
import { clientEndpoint, entryUri, tlsOptions } from "../roles/client/clientConnection";
import { HaproxyNode } from "../roles/haproxy/haproxyNode";
import { KeepalivedNode } from "../roles/haproxy/keepalivedNode";
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
import { ClusterTls, clusterTls, tlsFilesOf } from "./tls";
import { tlsRollout } from "./tlsRollout";

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
  /** The key of a CA supplied in tls.ca (secret). */
  readonly tlsCaKey?: pulumi.Output<string>;
  /** A restored stack: the source stack's repository host, where this stack's stanza lives too. */
  readonly externalRepository?: ExternalRepository;
}

export class PostgresCluster extends pulumi.ComponentResource {
  /** libpq URIs of the primary and of the replicas through the entry: the VIP, or every HAProxy host (secret). */
  readonly primaryUri: pulumi.Output<string>;
  readonly replicasUri: pulumi.Output<string>;
  /** The stats page on the VIP, else on the first HAProxy host. */
  readonly haproxyStatsUrl: string;
  readonly etcdEndpoints: string[];
  readonly hostRoles: Record<string, { address: string; roles: string[] }>;
  /** Members still pending a restart (restartPolicy manual leaves them to the DBA). */
  readonly pendingRestart: pulumi.Output<string[]>;
  /** Prometheus, Alertmanager and the cluster page, when a host has the monitor role. */
  readonly monitoring?: { prometheusUrl: string; alertmanagerUrl: string; clusterPageUrl: string };
  /** The CA, the hosts' and the controller's certificates (with TLS on). */
  readonly tls?: ClusterTls;
  /** What libpq needs to verify the cluster (sslmode=verify-full) in a URI's query, or nothing. */
  readonly uriTls: [string, string][];

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

    // TLS: the CA and every host's certificate; the rollout brings running hosts
    // where the stack wants them (a migration, a CA rotation, new certificates),
    // then each host's TLS files are in place before its roles' first step.
    const tls = config.tls.enabled ? clusterTls(this, name, config, args.tlsCaKey) : undefined;
    const rollout = tlsRollout(
      this,
      name,
      { config, topology, managed: { stack: args.stack }, facts, tls, passwords, platforms, connectionOf },
      [...bases.values()].map((b) => b.platform),
    );
    if (tls) {
      for (const h of config.hosts) {
        const cert = tls.hosts[h.name];
        bases.get(h.name)!.writeTlsFiles(
          tlsFilesOf(h, tls.trust, cert).apply((f) => f.final),
          pulumi.secret(cert.key.apply((k) => [k])),
          [rollout],
        );
      }
    }
    /** Name, arguments and options of host h's `role` component, which waits for the host's packages (etcd: its own) and `after`. */
    const on = (
      h: HostConfig,
      role: string,
      after: pulumi.Resource[] = [],
    ): [string, RoleArgs, pulumi.ComponentResourceOptions] => {
      const platform = platforms.apply((p) => p[h.name]);
      const base = bases.get(h.name)!;
      const dependsOn = [role === ETCD_ROLE ? base.etcdReady : base.ready, ...(base.tls ? [base.tls] : []), ...after];
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

    // 3. Backups (a repository host of its own, or its source's when restored): the repository host's
    // pgBackRest, and pgBackRest on each PostgreSQL host before its Patroni starts.
    const repositoryHost = backupHostOf(config);
    const access: RepositoryAccess | undefined = repositoryHost
      ? { kind: "own", host: repositoryHost }
      : args.externalRepository
        ? { kind: "external", repository: args.externalRepository }
        : undefined;
    if (archives(config) && !access)
      throw new pulumi.ResourceError("restore: the source's repository is unknown", this);
    const backup = access && new BackupCluster(this, name, config, facts, { stack: args.stack }, connectionOf, access);
    const backupHost = repositoryHost && new BackupHost(...on(repositoryHost, BACKUP_ROLE));
    if (repositoryHost && backupHost) readyOn(repositoryHost, backupHost.ready);
    // The steps that read this stack's CA file (a restored stack's guest stanza) wait for every host's TLS files.
    const tlsWritten = [...bases.values()].flatMap((b) => (b.tls ? [b.tls] : []));
    const repositoryCa = backup?.repositoryCa(args.dependsOn ?? []);
    const guest = backup?.guestStanza([...(args.dependsOn ?? []), ...tlsWritten]) ?? [];
    const pgbackrest = new Map(
      (access ? topology.withRole(POSTGRES_ROLE) : []).map((h) => {
        const [n, a, o] = on(h, "pgbackrest");
        const repository =
          access!.kind === "own"
            ? { name: access!.host.name, address: access!.host.address }
            : { name: access!.repository.name, address: access!.repository.address, caCertificate: repositoryCa };
        return [h.name, new PgbackrestNode(n, { ...a, repository }, o)];
      }),
    );

    // 4. Patroni nodes, then one leader and every replica streaming; then the DCS configuration.
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
      const [n, a, o] = on(h, "patroni", [
        ...etcdSettled,
        ...roles,
        ...(pgbackrest.get(h.name)?.ready ?? []),
        ...guest,
      ]);
      return new PatroniNode(n, { ...a, startAfter: i === 0 ? allConfigs : afterLeader }, o);
    });
    configsWritten(patroni.map((p) => p.config));
    // A restored stack's first member restores the source's backup: its own gate reports a failed restore.
    const firstLeads = config.restore
      ? backup!.restoreGate([patroni[0].ready])
      : patroniCluster.leaderRuns([patroni[0].ready]);
    leaderRuns([...patroni.map((p) => p.config), firstLeads]);
    const handover = patroniCluster.leaderHandover([...patroni.map((p) => p.ready), firstLeads]);
    const dynamicConfig = patroniCluster.dynamicConfiguration(passwords, [
      patroniCluster.healthy(passwords, [handover]),
    ]);
    const restarts = patroniCluster.rollingRestart(passwords, [dynamicConfig]);
    // 5. The stanza in the repository, checked, a first full backup, the backup timers.
    backup?.stanzaReady([restarts, ...(backupHost ? [backupHost.ready] : []), ...guest]);

    // 6. Roles, databases and PgBouncer's auth function on the primary; then PgBouncer.
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

    // 7. HAProxy in front of them; with a VIP, keepalived on every HAProxy host once its
    // HAProxy serves (it binds the VIP whoever holds it). The hosts reload together, once
    // every keepalived.conf is written; every running keepalived learns a new peer (reload)
    // before that peer starts, so it never elects itself while a healthy holder exists.
    // Then the client hosts, through the entry; after them, a moved VIP's old address goes.
    const haproxyHosts = topology.withRole(HAPROXY_ROLE);
    const haproxies = haproxyHosts.map((h) => {
      const node = new HaproxyNode(...on(h, HAPROXY_ROLE, [...pgbouncers.map((b) => b.ready), sql]));
      readyOn(h, node.ready);
      return node;
    });
    const entryReady: pulumi.Resource[] = haproxies.map((x) => x.ready);
    let clientsDone!: (clients: pulumi.Resource[]) => void;
    const clientsReady = new Promise<pulumi.Resource[]>((resolve) => (clientsDone = resolve));
    if (config.haproxy.vip) {
      let configsDone!: (configs: pulumi.Resource[]) => void;
      const configs = new Promise<pulumi.Resource[]>((resolve) => (configsDone = resolve));
      let reloadsDone!: (reloads: pulumi.Resource[]) => void;
      const reloads = new Promise<pulumi.Resource[]>((resolve) => (reloadsDone = resolve));
      // The component name keeps the role's folder: keepalived is part of the haproxy role.
      const keepaliveds = haproxyHosts.map((h, i) => {
        const [n, a, o] = on(h, HAPROXY_ROLE, [haproxies[i].ready]);
        return new KeepalivedNode(
          `${n}-keepalived`,
          { ...a, reloadAfter: configs, startAfter: reloads, retireAfter: clientsReady },
          o,
        );
      });
      configsDone(keepaliveds.map((k) => k.config));
      reloadsDone(keepaliveds.flatMap((k) => [k.reloaded, ...k.peers]));
      entryReady.push(...keepaliveds.map((k) => k.ready));
      haproxyHosts.forEach((h, i) => readyOn(h, keepaliveds[i].ready));
    }
    clientsDone(topology.withRole(CLIENT_ROLE).map((h) => new ClientHost(...on(h, CLIENT_ROLE, entryReady)).ready));

    // 8. With a monitor host: every host's exporters once its roles run; the monitor's services
    // start with its packages, and its gate waits until every target of the stack answers.
    if (monitor) {
      const exporters = config.hosts.map((h) => {
        const [n, a, o] = on(h, "exporters", rolesReady.get(h.name)!.slice(1));
        return new ExportersNode(n, { ...a, monitorAddress: monitor.address }, o);
      });
      const [n, a, o] = on(monitor, MONITOR_ROLE);
      new MonitorHost(n, { ...a, gateAfter: exporters.map((e) => e.ready) }, o);
      this.monitoring = {
        prometheusUrl: prometheusUrl(monitor, config.tls.enabled),
        alertmanagerUrl: alertmanagerUrl(monitor, config.tls.enabled),
        clusterPageUrl: clusterPageUrl(monitor, config.tls.enabled),
      };
    }

    const endpoint = clientEndpoint(config);
    // libpq reads the CA from ~/.postgresql/root.crt unless the URI names another (sslrootcert).
    this.uriTls = tls ? tlsOptions() : [];
    const uri = (port: number, session: "read-write" | "any") =>
      pulumi.secret(
        passwords.apply((p) => entryUri(endpoint, port, SUPERUSER, p.superuser, "postgres", session, this.uriTls)),
      );
    this.primaryUri = uri(config.haproxy.primaryPort, "read-write");
    this.replicasUri = uri(config.haproxy.replicaPort, "any");
    this.haproxyStatsUrl = `${tls ? "https" : "http"}://${config.haproxy.vip?.address ?? haproxyHosts[0].address}:${config.haproxy.statsPort}/`;
    this.tls = tls;
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
