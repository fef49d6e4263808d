// The Patroni steps that span members, run from one of them: the passwords
// of Patroni's own roles, a running leader, the handover away from a leader
// that leaves, one leader with every replica streaming, the dynamic
// configuration with the rolling restart it may need, and the roles,
// databases and PgBouncer's auth function on the primary.
import * as pulumi from "@pulumi/pulumi";
import { RollingRestart } from "../../providers/rollingRestart";
import { ShellCommand, SshConnection } from "../../providers/shellCommand";
import { stableScramVerifier } from "../../secrets/scram";
import { ClusterPasswords, secretValues } from "../../stack/passwords";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { HostSteps } from "../../steps/hostSteps";
import { HostFacts, renderHostScript, scriptsIn } from "../../steps/stepScript";
import { renderClusterSql } from "./clusterSql";
import { archivingOf } from "../backup/patroniArchiving";
import { renderDynamicConfig } from "./patroniConfig";
import { POSTGRES_ROLE, REPLICATION_USER, REST_API_USER, restApiUrl, REWIND_USER, SUPERUSER } from "./slice";

const script = scriptsIn(__dirname);

/** A curl config line (`curl -K`) with basic-auth credentials: they travel on stdin, never on a command line. */
export const curlUser = (user: string, password: string) =>
  `user = "${`${user}:${password}`.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export class PatroniCluster {
  private readonly members: readonly HostConfig[];
  /** The first member: where the cluster-wide steps run. */
  private readonly first: HostSteps;
  private readonly restUrl: string;
  private readonly memberUrls: string;
  /** The dynamic configuration the stack wants (WAL archiving included when it has a repository). */
  private readonly wantedDcs: Record<string, unknown>;

  constructor(
    private readonly parent: pulumi.Resource,
    private readonly name: string,
    private readonly config: StackConfig,
    private readonly facts: HostFacts,
    private readonly connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>,
  ) {
    this.members = config.hosts.filter((h) => h.roles.includes(POSTGRES_ROLE));
    this.first = this.on(this.members[0], name);
    this.restUrl = restApiUrl(config, this.members[0]);
    this.memberUrls = this.members.map((h) => restApiUrl(config, h)).join(" ");
    this.wantedDcs = renderDynamicConfig(config.cluster, archivingOf(config));
  }

  private on(h: HostConfig, component: string): HostSteps {
    return new HostSteps(this.parent, component, { name: h.name, connection: this.connectionOf(h) }, this.facts);
  }

  private restAuth(passwords: pulumi.Output<ClusterPasswords>): pulumi.Output<string> {
    return pulumi.secret(passwords.apply((p) => curlUser(REST_API_USER, p.restApi)));
  }

  /**
   * The passwords of Patroni's own roles set on the primary (as SCRAM
   * verifiers) before patroni.yml changes anywhere: a rotation never leaves a
   * member unable to log in. One step per PostgreSQL host; the primary's acts.
   */
  internalRoles(
    passwords: pulumi.Output<ClusterPasswords>,
    readyOf: (h: HostConfig) => pulumi.Resource,
  ): ShellCommand[] {
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
    return this.members.map((h) =>
      this.on(h, `${this.name}-${h.name}`).command(
        "internal-roles",
        {
          description: "passwords of Patroni's roles on the primary",
          create: script("internal-roles"),
          stdin: verifiers,
          mask: pulumi
            .all([passwords.apply(secretValues), verifiers])
            .apply(([values, v]) => [...values, ...v.split(/\s+/)]),
        },
        { dependsOn: [readyOf(h)] },
      ),
    );
  }

  /** A running leader: on the first deploy, the first member bootstrapped (the others start after it). */
  leaderRuns(firstMember: pulumi.Resource[]): ShellCommand {
    return this.first.gate(
      "leader-gate",
      {
        what: "a running Patroni leader",
        script: script("wait-leader", { REST: this.restUrl, TIMEOUT: 300 }),
        triggers: [],
      },
      { dependsOn: firstMember },
    );
  }

  /** A leader whose host leaves the stack hands over to a member that stays, first (while HAProxy still routes to both). */
  leaderHandover(nodes: pulumi.Resource[]): ShellCommand {
    const names = this.members.map((h) => h.name).join(" ");
    return this.first.command(
      "leader-handover",
      {
        description: "switchover away from a leader that leaves",
        create: script("leader-handover", { MEMBER_NAMES: names, TIMEOUT: 120 }),
        triggers: [names],
      },
      { dependsOn: nodes },
    );
  }

  /** One leader, every replica streaming on its timeline. */
  healthy(passwords: pulumi.Output<ClusterPasswords>, nodes: pulumi.Resource[]): ShellCommand {
    return this.first.gate(
      "patroni-gate",
      {
        what: "patroni-cluster",
        // A replica a few WAL records behind a busy primary is healthy.
        script: script("wait-patroni", {
          REST: this.restUrl,
          MEMBER_NAMES: this.members.map((h) => h.name).join(" "),
          MAX_LAG_BYTES: 16 * 1024 * 1024,
          TIMEOUT: 300,
        }),
        triggers: [JSON.stringify(this.wantedDcs), ...this.members.map((h) => h.name)],
        // The gate may wake the leader's HA loop (see the script): REST API credentials.
        stdin: this.restAuth(passwords).apply((auth) => `${auth}\n`),
        mask: passwords.apply(secretValues),
      },
      { legacyName: `${this.members[0].name}-gate-patroni-cluster`, dependsOn: nodes },
    );
  }

  /**
   * The DCS configuration the stack wants (readable in `pulumi preview
   * --diff`: it is the step's trigger), parameters the stack dropped removed.
   * A no-op on the first deploy (bootstrap.dcs wrote it).
   */
  dynamicConfiguration(passwords: pulumi.Output<ClusterPasswords>, after: pulumi.Resource[]): ShellCommand {
    const wanted = this.wantedDcs;
    return this.first.command(
      "dynamic-config",
      {
        description: "apply Patroni dynamic configuration",
        create: script("apply-dynamic-config", {
          REST: this.restUrl,
          MEMBER_URLS: this.memberUrls,
          LOOP_WAIT: this.config.cluster.dcs.loopWait,
        }),
        triggers: [wanted],
        stdin: pulumi.secret(this.restAuth(passwords).apply((auth) => `${auth}\n${JSON.stringify(wanted)}`)),
        mask: passwords.apply(secretValues),
      },
      { dependsOn: after },
    );
  }

  /** Members pending a restart, restarted one at a time (or reported, with restartPolicy manual). */
  rollingRestart(passwords: pulumi.Output<ClusterPasswords>, after: pulumi.Resource[]): RollingRestart {
    const c = this.config.cluster;
    const render = (name: string, env: Record<string, string | number> = {}) =>
      renderHostScript(script(name, env), this.facts);
    return new RollingRestart(
      `${this.name}-rolling-restart`,
      {
        hosts: pulumi.output(
          this.members.map((h) => ({ name: h.name, connection: this.connectionOf(h) })),
        ) as pulumi.Output<{ name: string; connection: SshConnection }[]>,
        clusterName: c.name,
        policy: c.restartPolicy,
        triggers: [this.wantedDcs],
        timeoutSeconds: 900,
        restAuth: this.restAuth(passwords),
        scripts: {
          members: render("cluster-members", { MEMBER_URLS: this.memberUrls }),
          restart: render("restart-member"),
          switchover: render("switchover"),
          settle: render("settle", { MEMBER_URLS: this.memberUrls, LOOP_WAIT: c.dcs.loopWait }),
        },
      },
      { parent: this.parent, dependsOn: after },
    );
  }

  /** Roles, databases and PgBouncer's auth_query function (and the exporters' role with a monitor), on the leader. */
  rolesAndDatabases(
    passwords: pulumi.Output<ClusterPasswords>,
    after: pulumi.Resource[],
    monitoringUser?: string,
  ): ShellCommand {
    const c = this.config.cluster;
    return this.first.command(
      "roles-and-databases",
      {
        description: "roles and databases on the primary",
        create: script("cluster-sql", { REST: this.restUrl }),
        stdin: pulumi.secret(
          passwords.apply((p) => `${p.superuser}\n${renderClusterSql(c, p.pgbouncerAuth, p.users, monitoringUser)}`),
        ),
        mask: passwords.apply(secretValues),
      },
      { legacyName: "cluster-cluster-sql", dependsOn: after },
    );
  }
}
