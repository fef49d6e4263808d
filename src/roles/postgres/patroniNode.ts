// One PostgreSQL node run by Patroni: patroni.yml (secret: it holds the
// cluster's passwords), links to it at the runbooks' path and at patronictl's
// default paths (so plain `patronictl list` works for root and postgres),
// the unit drop-in, the service. A config change is validated on the node
// (--ignore-listen-port: Patroni holds its ports) and applied with a reload:
// Patroni re-reads patroni.yml on SIGHUP and never restarts PostgreSQL by itself.
import * as pulumi from "@pulumi/pulumi";
import { PATRONI_VALIDATE_COMMAND } from "../../platform/platform";
import { ShellCommand } from "../../providers/shellCommand";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { MASKED_PASSWORDS, secretValues } from "../../stack/passwords";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { inlineScript, scriptsIn, sharedScript } from "../../steps/stepScript";
import { Topology } from "../../config/topology";
import { ManagedFileContext } from "../../render/managedHeader";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { TLS_PATHS } from "../../tls/settings";
import { PatroniStage, stagesOf } from "../../tls/stages";
import { archivingOf } from "../backup/patroniArchiving";
import { ETCD_ROLE, etcdClientHostPorts, etcdClientUrl, etcdClientUrls } from "../etcd/slice";
import {
  ETCD_LEADER_AWAY_PATH,
  ETCD_LEADER_AWAY_UNIT,
  renderEtcdLeaderAway,
  renderEtcdLeaderAwayUnit,
} from "./etcdLeaderAway";
import { RoleArgs } from "../roleArgs";
import {
  PATRONI_CONFIG_ALIASES,
  PATRONI_PGPASS_PATH,
  PATRONI_ROLE_CHANGE_HOOK,
  PatroniPasswords,
  renderPatroniConfig,
  renderRoleChangeHook,
} from "./patroniConfig";
import { monitored } from "../monitor/monitored";
import {
  MONITORING_USER,
  PATRONI_CONFIG_PATH,
  PATRONI_DROP_IN,
  PATRONI_NAMESPACE,
  POSTGRES_ROLE,
  WATCHDOG_DEVICE,
} from "./slice";

const script = scriptsIn(__dirname);

/** patroni.yml of `host` at TLS stage `stage` (the stack's own stage, or one of the TLS migration's). */
export function renderPatroniConfigAt(
  managed: ManagedFileContext,
  config: StackConfig,
  topology: Topology<HostConfig>,
  host: HostConfig,
  passwords: PatroniPasswords,
  stage: PatroniStage,
): string {
  return renderPatroniConfig(managed, {
    cluster: config.cluster,
    host,
    clusterAddresses: topology.sessionAddresses,
    replicationAddresses: topology.withRole(POSTGRES_ROLE).map((h) => h.address),
    etcdHosts: etcdClientHostPorts(config),
    monitoringUser: monitored(config) ? MONITORING_USER : undefined,
    passwords,
    archiving: archivingOf(config),
    tls: { stage, paths: TLS_PATHS, allowPlainClients: config.tls.allowPlainClients },
  });
}

/** How patroni.yml is written (mode, owner, validation): by this node's step and by the TLS rollout. */
export const PATRONI_CONFIG_FILE = {
  path: PATRONI_CONFIG_PATH,
  mode: "0600",
  owner: "postgres",
  group: "postgres",
  validate: PATRONI_VALIDATE_COMMAND,
} as const;

export interface PatroniNodeArgs extends RoleArgs {
  /**
   * What this member's Patroni waits for before it starts (or reloads):
   * every member's patroni.yml, so an existing primary already admits a
   * member being added (pg_hba) when that member asks it for a base backup;
   * and, for every member but the first, a running leader, so a new member
   * finds one at its first HA loop instead of sleeping a loop_wait.
   */
  readonly startAfter: pulumi.Input<pulumi.Resource[]>;
}

export class PatroniNode extends pulumi.ComponentResource {
  /** The running Patroni; the cluster's Patroni gate waits for every one. */
  readonly ready: ShellCommand;
  /** This member's patroni.yml step. */
  readonly config: ShellCommand;

  constructor(name: string, args: PatroniNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:PatroniNode", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:PatroniNode" }] });
    const { config, topology, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const render = (passwords: PatroniPasswords) =>
      renderPatroniConfigAt(args.managed, config, topology, host, passwords, stagesOf(config.tls.enabled).patroni);
    const patroniConfig = args.passwords.apply(render);
    const dropIn = renderSystemdDropIn(args.managed, PATRONI_DROP_IN);
    const legacy = (step: string, dependsOn: pulumi.Input<pulumi.Resource>[] = args.dependsOn) => ({
      legacyName: `${host.name}-${step}`,
      dependsOn,
    });
    // The callback patroni.yml names: written first, so the validation of the new config finds it.
    const withEtcd = host.roles.includes(ETCD_ROLE);
    const hook = steps.file(
      "role-change-hook",
      {
        path: PATRONI_ROLE_CHANGE_HOOK,
        content: renderRoleChangeHook(
          args.managed,
          undefined,
          withEtcd ? ETCD_LEADER_AWAY_PATH : undefined,
          config.cluster.postgresPort,
        ),
        mode: "0755",
      },
      { dependsOn: args.dependsOn },
    );
    if (withEtcd) this.etcdLeaderAway(steps, args);
    // The watchdog before the config that names it: Patroni opens the device as postgres.
    const watchdogEnv = { MODE: config.cluster.watchdog.mode, DEVICE: WATCHDOG_DEVICE };
    const watchdog = steps.command(
      "watchdog",
      {
        description: `watchdog for Patroni (${config.cluster.watchdog.mode})`,
        create: script("watchdog", watchdogEnv),
        update: script("watchdog", watchdogEnv),
        delete: script("watchdog", { ...watchdogEnv, MODE: "off" }),
        triggers: [config.cluster.watchdog.mode],
      },
      { dependsOn: args.dependsOn },
    );
    const file = steps.file(
      "config",
      {
        ...PATRONI_CONFIG_FILE,
        content: pulumi.secret(patroniConfig),
        shown: render(MASKED_PASSWORDS),
        mask: args.passwords.apply(secretValues),
      },
      legacy("file-patroni-config", [...args.dependsOn, hook, watchdog]),
    );
    const links = steps.links(
      "config-links",
      PATRONI_CONFIG_PATH,
      PATRONI_CONFIG_ALIASES,
      legacy("patroni-config-alias", [file]),
    );
    const unit = steps.file(
      "dropin",
      { path: dropInPath("patroni.service"), content: dropIn },
      legacy("file-patroni-dropin"),
    );
    // Patroni writes its own .pgpass (replication, rewind): it goes with the stack.
    const pgpass = steps.command(
      "pgpass-cleanup",
      {
        description: `remove ${PATRONI_PGPASS_PATH} on destroy`,
        create: inlineScript("pgpass-cleanup", "true"),
        delete: sharedScript("remove-file", { TARGET: PATRONI_PGPASS_PATH }),
      },
      { dependsOn: args.dependsOn },
    );
    this.config = file;
    const leave = script("patroni-leave", { NAME: host.name, LOOP_WAIT: config.cluster.dcs.loopWait });
    const startAfter = pulumi.output(args.startAfter).apply((first) => [...first, links, unit, pgpass]);
    this.ready = steps.service(
      "service",
      {
        unit: "patroni",
        onChange: "reload",
        triggers: [contentHash(patroniConfig), contentHash(dropIn)],
        update: script("patroni-reload", { LOOP_WAIT: config.cluster.dcs.loopWait }),
        delete: leave,
      },
      { legacyName: `${host.name}-service-patroni`, dependsOn: startAfter },
    );
    this.registerOutputs({ ready: this.ready.id });
  }

  /** On a host with an etcd member too: the service keeping the etcd leader off Patroni's leader (etcdLeaderAway.ts). */
  private etcdLeaderAway(steps: HostSteps, args: PatroniNodeArgs): void {
    const { config, host } = args;
    const script = renderEtcdLeaderAway(args.managed, {
      member: host.name,
      leaderKey: `${PATRONI_NAMESPACE}${config.cluster.name}/leader`,
      endpoints: etcdClientUrls(config),
      ownEndpoint: etcdClientUrl(config, host),
      // With TLS, etcdctl shows this host's certificate (postgres reads the key through ssl-cert).
      tls: config.tls.enabled ? TLS_PATHS : undefined,
    });
    const unit = renderEtcdLeaderAwayUnit(args.managed);
    const files = [
      steps.file(
        "etcd-leader-away-script",
        { path: ETCD_LEADER_AWAY_PATH, content: script, mode: "0755" },
        {
          dependsOn: args.dependsOn,
        },
      ),
      steps.file(
        "etcd-leader-away-unit",
        { path: `/etc/systemd/system/${ETCD_LEADER_AWAY_UNIT}`, content: unit },
        {
          dependsOn: args.dependsOn,
        },
      ),
    ];
    steps.service(
      "etcd-leader-away",
      { unit: ETCD_LEADER_AWAY_UNIT, onChange: "restart", triggers: [contentHash(script), contentHash(unit)] },
      { dependsOn: files },
    );
  }
}
