// The steps that span hosts, run from one of them: etcd healthy with every
// member, Patroni with one leader and every replica streaming, Patroni's
// dynamic configuration (with a rolling restart of members that need one),
// and the roles, databases and PgBouncer's auth_query function on the primary.
import * as pulumi from "@pulumi/pulumi";
import { HostConfig, StackConfig } from "../config/schema";
import { Topology } from "../config/topology";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { RollingRestart } from "../providers/rollingRestart";
import {
  POSTGRES_SOCKET_DIR,
  renderDynamicConfig,
  REPLICATION_USER,
  REST_API_USER,
  REWIND_USER,
  SUPERUSER,
} from "../roles/patroni/patroniConfig";
import { ETCD_DROP_IN } from "../render/systemdUnit";
import { stableScramVerifier } from "../secrets/scram";
import { HostSteps } from "../steps/hostSteps";
import { renderStepScript } from "../steps/stepScript";
import { renderClusterSql } from "./clusterSql";
import { ClusterPasswords, secretValues } from "./passwords";

/** A curl config line (`curl -K`) with basic-auth credentials: they travel on stdin, never on a command line. */
export const curlUser = (user: string, password: string) => `user = "${`${user}:${password}`.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export class ClusterSteps {
  private readonly onEtcdHost: HostSteps;
  private readonly onPostgresHost: HostSteps;
  private readonly restUrl: string;

  constructor(
    private readonly parent: pulumi.Resource,
    private readonly name: string,
    private readonly config: StackConfig,
    private readonly topology: Topology,
    private readonly connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>,
  ) {
    const etcdHost = topology.etcdHosts[0];
    const postgresHost = topology.postgresHosts[0];
    this.onEtcdHost = new HostSteps(parent, name, { name: etcdHost.name, connection: connectionOf(etcdHost) });
    this.onPostgresHost = new HostSteps(parent, name, { name: postgresHost.name, connection: connectionOf(postgresHost) });
    this.restUrl = `http://${postgresHost.address}:${config.cluster.restApiPort}`;
  }

  /** Every etcd member answers and the cluster has exactly the members configured. */
  etcdHealthy(members: pulumi.Resource[]): ShellCommand {
    const t = this.topology;
    return this.onEtcdHost.gate(
      "etcd-gate",
      {
        what: "etcd-cluster",
        template: "wait-etcd",
        env: { ENDPOINTS: t.etcdClientUrls.join(","), MEMBERS: t.etcdHosts.length, TIMEOUT: 120 },
        triggers: [t.etcdInitialCluster],
      },
      { legacyName: `${t.etcdHosts[0].name}-gate-etcd-cluster`, dependsOn: members },
    );
  }

  /**
   * The passwords of Patroni's own roles set on the primary (as SCRAM
   * verifiers) before patroni.yml changes anywhere: a rotation never leaves a
   * member unable to log in. One step per PostgreSQL host; the primary's acts.
   */
  internalRoles(passwords: pulumi.Output<ClusterPasswords>, readyOf: (h: HostConfig) => pulumi.Resource): ShellCommand[] {
    const c = this.config.cluster;
    const verifiers = pulumi.secret(
      passwords.apply((p) =>
        [
          [SUPERUSER, p.superuser],
          [REPLICATION_USER, p.replication],
          [REWIND_USER, p.rewind],
        ]
          .map(([role, password]) => `${role} ${stableScramVerifier(role, password, c.name)}\n`)
          .join(""),
      ),
    );
    return this.topology.postgresHosts.map((h) =>
      new HostSteps(this.parent, `${this.name}-${h.name}`, { name: h.name, connection: this.connectionOf(h) }).command(
        "internal-roles",
        {
          description: "passwords of Patroni's roles on the primary",
          create: renderStepScript("internal-roles", { PGPORT: c.postgresPort, SOCKET_DIR: POSTGRES_SOCKET_DIR }),
          stdin: verifiers,
          mask: pulumi.all([passwords.apply(secretValues), verifiers]).apply(([values, v]) => [...values, ...v.split(/\s+/)]),
        },
        { dependsOn: [readyOf(h)] },
      ),
    );
  }

  /**
   * Changed etcd settings (timings, the unit drop-in) applied one member at a
   * time, each step waiting for the previous one and for every member to be
   * healthy. Nothing to do on the first deploy.
   */
  etcdRollingRestart(after: pulumi.Resource[]): ShellCommand[] {
    const t = this.topology;
    const e = this.config.etcd;
    const settings = JSON.stringify({
      heartbeatIntervalMs: e.heartbeatIntervalMs,
      electionTimeoutMs: e.electionTimeoutMs,
      dropIn: ETCD_DROP_IN,
    });
    let previous = after;
    return t.etcdHosts.map((h) => {
      const step = new HostSteps(this.parent, `${this.name}-${h.name}`, { name: h.name, connection: this.connectionOf(h) }).command(
        "etcd-restart",
        {
          description: "restart the etcd member for changed settings",
          create: "echo 'etcd started with these settings'",
          update: renderStepScript("etcd-restart", { ENDPOINTS: t.etcdClientUrls.join(","), MEMBERS: t.etcdHosts.length, TIMEOUT: 120 }),
          triggers: [settings],
        },
        { dependsOn: previous },
      );
      previous = [step];
      return step;
    });
  }

  /** A running leader: on the first deploy, the first member bootstrapped (the others start after it). */
  leaderRuns(firstMember: pulumi.Resource[]): ShellCommand {
    return this.onPostgresHost.gate(
      "leader-gate",
      {
        what: "a running Patroni leader",
        template: "wait-leader",
        env: { REST: this.restUrl, TIMEOUT: 300, WAIT_INTERVAL: 0.5 },
        triggers: [],
      },
      { dependsOn: firstMember },
    );
  }

  /** A leader whose host leaves the stack hands over to a member that stays, first (while HAProxy still routes to both). */
  leaderHandover(nodes: pulumi.Resource[]): ShellCommand {
    const t = this.topology;
    const names = t.postgresHosts.map((h) => h.name).join(" ");
    return this.onPostgresHost.command(
      "leader-handover",
      {
        description: "switchover away from a leader that leaves",
        create: renderStepScript("leader-handover", { CLUSTER: this.config.cluster.name, MEMBER_NAMES: names, TIMEOUT: 120 }),
        triggers: [names],
      },
      { dependsOn: nodes },
    );
  }

  /** One leader, every replica streaming on its timeline. */
  patroniHealthy(passwords: pulumi.Output<ClusterPasswords>, nodes: pulumi.Resource[]): ShellCommand {
    const t = this.topology;
    return this.onPostgresHost.gate(
      "patroni-gate",
      {
        what: "patroni-cluster",
        template: "wait-patroni",
        // A replica a few WAL records behind a busy primary is healthy.
        env: {
          REST: this.restUrl,
          MEMBER_NAMES: t.postgresHosts.map((h) => h.name).join(" "),
          MAX_LAG_BYTES: 16 * 1024 * 1024,
          TIMEOUT: 300,
        },
        triggers: [JSON.stringify(renderDynamicConfig(this.config.cluster)), ...t.postgresHosts.map((h) => h.name)],
        // The gate may wake the leader's HA loop (see the script): REST API credentials.
        stdin: pulumi.secret(passwords.apply((p) => `${curlUser(REST_API_USER, p.restApi)}\n`)),
        mask: passwords.apply(secretValues),
      },
      { legacyName: `${t.postgresHosts[0].name}-gate-patroni-cluster`, dependsOn: nodes },
    );
  }

  /**
   * The DCS configuration the stack wants (readable in `pulumi preview
   * --diff`: it is the step's trigger), parameters the stack dropped removed.
   * A no-op on the first deploy (bootstrap.dcs wrote it).
   */
  dynamicConfiguration(passwords: pulumi.Output<ClusterPasswords>, after: pulumi.Resource[]): ShellCommand {
    const c = this.config.cluster;
    const wanted = renderDynamicConfig(c);
    return this.onPostgresHost.command(
      "dynamic-config",
      {
        description: "apply Patroni dynamic configuration",
        create: renderStepScript("apply-dynamic-config", {
          REST: this.restUrl,
          MEMBER_URLS: this.topology.postgresHosts.map((h) => `http://${h.address}:${c.restApiPort}`).join(" "),
          LOOP_WAIT: c.dcs.loopWait,
        }),
        triggers: [wanted],
        stdin: pulumi.secret(passwords.apply((p) => `${curlUser(REST_API_USER, p.restApi)}\n${JSON.stringify(wanted)}`)),
        mask: passwords.apply(secretValues),
      },
      { dependsOn: after },
    );
  }

  /** Members pending a restart, restarted one at a time (or reported, with restartPolicy manual). */
  rollingRestart(passwords: pulumi.Output<ClusterPasswords>, after: pulumi.Resource[]): RollingRestart {
    const t = this.topology;
    return new RollingRestart(
      `${this.name}-rolling-restart`,
      {
        hosts: pulumi.output(t.postgresHosts.map((h) => ({ name: h.name, connection: this.connectionOf(h) }))) as pulumi.Output<
          { name: string; connection: SshConnection }[]
        >,
        clusterName: this.config.cluster.name,
        restUrls: t.postgresHosts.map((h) => `http://${h.address}:${this.config.cluster.restApiPort}`),
        policy: this.config.cluster.restartPolicy,
        triggers: [renderDynamicConfig(this.config.cluster)],
        timeoutSeconds: 900,
        loopWait: this.config.cluster.dcs.loopWait,
        restAuth: pulumi.secret(passwords.apply((p) => curlUser(REST_API_USER, p.restApi))),
      },
      { parent: this.parent, dependsOn: after },
    );
  }

  /** Roles, databases and PgBouncer's auth_query function, on the leader. */
  rolesAndDatabases(passwords: pulumi.Output<ClusterPasswords>, after: pulumi.Resource[]): ShellCommand {
    const c = this.config.cluster;
    return this.onPostgresHost.command(
      "roles-and-databases",
      {
        description: "roles and databases on the primary",
        create: renderStepScript("cluster-sql", { REST: this.restUrl, PGPORT: c.postgresPort, SUPERUSER }),
        stdin: pulumi.secret(passwords.apply((p) => `${p.superuser}\n${renderClusterSql(c, p.pgbouncerAuth, p.users)}`)),
        mask: passwords.apply(secretValues),
      },
      { legacyName: "cluster-cluster-sql", dependsOn: after },
    );
  }
}
