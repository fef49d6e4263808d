// The steps that span hosts, run from one of them: etcd healthy with every
// member, Patroni with one leader and every replica streaming, Patroni's
// dynamic configuration (with a rolling restart of members that need one),
// and the roles, databases and PgBouncer's auth_query function on the primary.
import * as pulumi from "@pulumi/pulumi";
import { HostConfig, StackConfig } from "../config/schema";
import { Topology } from "../config/topology";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { renderDynamicConfig, SUPERUSER } from "../roles/patroni/patroniConfig";
import { HostSteps } from "../steps/hostSteps";
import { renderStepScript } from "../steps/stepScript";
import { renderClusterSql } from "./clusterSql";
import { ClusterPasswords } from "./passwords";

export class ClusterSteps {
  private readonly onEtcdHost: HostSteps;
  private readonly onPostgresHost: HostSteps;
  private readonly restUrl: string;

  constructor(
    parent: pulumi.Resource,
    name: string,
    private readonly config: StackConfig,
    private readonly topology: Topology,
    connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>,
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

  /** One leader, every replica streaming on its timeline. */
  patroniHealthy(nodes: pulumi.Resource[]): ShellCommand {
    const t = this.topology;
    return this.onPostgresHost.gate(
      "patroni-gate",
      {
        what: "patroni-cluster",
        template: "wait-patroni",
        env: { REST: this.restUrl, MEMBERS: t.postgresHosts.length, TIMEOUT: 300 },
        triggers: [JSON.stringify(renderDynamicConfig(this.config.cluster)), ...t.postgresHosts.map((h) => h.name)],
      },
      { legacyName: `${t.postgresHosts[0].name}-gate-patroni-cluster`, dependsOn: nodes },
    );
  }

  /**
   * The DCS configuration the stack wants, then a rolling restart of members
   * that need one. A no-op on the first deploy (bootstrap.dcs wrote it).
   */
  dynamicConfiguration(after: pulumi.Resource[]): ShellCommand {
    const c = this.config.cluster;
    return this.onPostgresHost.command(
      "dynamic-config",
      {
        description: "apply Patroni dynamic configuration",
        create: renderStepScript("apply-dynamic-config", { CLUSTER: c.name, LOOP_WAIT: c.dcs.loopWait, TIMEOUT: 300 }),
        stdin: JSON.stringify(renderDynamicConfig(c)),
      },
      { dependsOn: after },
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
      },
      { legacyName: "cluster-cluster-sql", dependsOn: after },
    );
  }
}
