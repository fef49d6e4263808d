// PgBouncer in front of the local PostgreSQL: pgbouncer.ini, pgbouncer_hba.conf,
// userlist.txt (secret), unit drop-in, service (reload on change, which keeps
// client sessions), then a gate proving a session through it reaches
// PostgreSQL and the admin console answers.
import * as pulumi from "@pulumi/pulumi";
import { pgbouncerHasAuthDbname } from "../../platform/platform";
import { ShellCommand } from "../../providers/shellCommand";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { secretValues } from "../../stack/passwords";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { monitored } from "../monitor/monitored";
import { MONITORING_USER, SUPERUSER } from "../postgres/slice";
import { RoleArgs } from "../roleArgs";
import { PGBOUNCER_HBA_PATH, renderPgbouncerHba } from "./pgbouncerHba";
import { PGBOUNCER_AUTH_USER, PGBOUNCER_INI_PATH, renderPgbouncerIni } from "./pgbouncerIni";
import { clientLoginSecret, PGBOUNCER_USERLIST_PATH, renderPgbouncerUserlist } from "./pgbouncerUserlist";
import { PGBOUNCER_DROP_IN } from "./slice";
import { Topology } from "../../config/topology";
import { HostPlatform } from "../../platform/platform";
import { ManagedFileContext } from "../../render/managedHeader";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { TLS_PATHS } from "../../tls/settings";
import { PgbouncerStage, stagesOf } from "../../tls/stages";

const script = scriptsIn(__dirname);

/** pgbouncer.ini and pgbouncer_hba.conf of `host` at TLS stage `stage` (the stack's, or one of the TLS migration's). */
/** With a monitor host, pgbouncer-exporter reads the admin console as a stats user, over the socket. */
const monitoringUserOf = (config: StackConfig): string | undefined => (monitored(config) ? MONITORING_USER : undefined);

export function renderPgbouncerFilesAt(
  managed: ManagedFileContext,
  config: StackConfig,
  topology: Topology<HostConfig>,
  host: HostConfig,
  platform: HostPlatform,
  stage: PgbouncerStage,
): { ini: string; hba: string } {
  const tls = { stage, paths: TLS_PATHS, allowPlainClients: config.tls.allowPlainClients };
  const monitoringUser = monitoringUserOf(config);
  return {
    ini: renderPgbouncerIni(managed, {
      listenAddress: host.address,
      authDbname: pgbouncerHasAuthDbname(platform) ? "postgres" : undefined,
      port: config.pgbouncer.port,
      postgresPort: config.cluster.postgresPort,
      poolMode: config.pgbouncer.poolMode,
      defaultPoolSize: config.pgbouncer.defaultPoolSize,
      maxClientConn: config.pgbouncer.maxClientConn,
      authType: config.pgbouncer.authType,
      adminUsers: [SUPERUSER],
      statsUsers: monitoringUser ? [monitoringUser] : [],
      tls,
    }),
    hba: renderPgbouncerHba(managed, {
      authType: config.pgbouncer.authType,
      superuser: SUPERUSER,
      clusterAddresses: topology.sessionAddresses,
      adminNetworks: config.cluster.adminNetworks,
      tlsOnly: stage === "tls" && !config.tls.allowPlainClients,
      monitoringUser,
    }),
  };
}

/** How the two files are written (by this node's steps and by the TLS rollout). */
export const PGBOUNCER_FILE_OWNER = { mode: "0640", owner: "postgres", group: "postgres" } as const;

export type PgbouncerNodeArgs = RoleArgs;

export class PgbouncerNode extends pulumi.ComponentResource {
  /** PgBouncer serves sessions and its admin console. */
  readonly ready: ShellCommand;

  constructor(name: string, args: PgbouncerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "pulumi-patroni:index:PgbouncerNode",
      name,
      {},
      { ...opts, aliases: [{ type: "pulumi-patroni:PgbouncerNode" }] },
    );
    const { config, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const stage = stagesOf(config.tls.enabled).pgbouncer;
    const files = args.platform.apply((platform) =>
      renderPgbouncerFilesAt(args.managed, config, args.topology, host, platform, stage),
    );
    const ini = files.apply((f) => f.ini);
    const hba = files.apply((f) => f.hba);
    const monitoringUser = monitoringUserOf(config);
    const superuserSecret = args.passwords.apply((p) =>
      clientLoginSecret(config.pgbouncer.authType, SUPERUSER, p.superuser, config.cluster.name),
    );
    const userlist = pulumi.all([args.passwords, superuserSecret]).apply(([p, superuser]) =>
      renderPgbouncerUserlist(args.managed, {
        [PGBOUNCER_AUTH_USER]: p.pgbouncerAuth,
        [SUPERUSER]: superuser,
        // PgBouncer wants every login in auth_file; this one logs in by peer only (pgbouncer_hba.conf).
        ...(monitoringUser ? { [monitoringUser]: "" } : {}),
      }),
    );
    const dropIn = renderSystemdDropIn(args.managed, PGBOUNCER_DROP_IN);
    const owner = { owner: PGBOUNCER_FILE_OWNER.owner, group: PGBOUNCER_FILE_OWNER.group };
    const legacy = (step: string, dependsOn: pulumi.Input<pulumi.Resource>[] = args.dependsOn) => ({
      legacyName: `${host.name}-${step}`,
      dependsOn,
    });
    const written = [
      steps.file(
        "ini",
        { path: PGBOUNCER_INI_PATH, content: ini, mode: "0640", ...owner, removeOnDestroy: false },
        legacy("file-pgbouncer-ini"),
      ),
      steps.file(
        "userlist",
        {
          path: PGBOUNCER_USERLIST_PATH,
          content: pulumi.secret(userlist),
          mode: "0600",
          ...owner,
          mask: pulumi
            .all([args.passwords, superuserSecret])
            .apply(([p, superuser]) => [...secretValues(p), superuser]),
        },
        legacy("file-pgbouncer-userlist"),
      ),
      steps.file("dropin", { path: dropInPath("pgbouncer.service"), content: dropIn }, legacy("file-pgbouncer-dropin")),
    ];
    written.push(
      steps.file(
        "hba",
        { path: PGBOUNCER_HBA_PATH, content: hba, mode: "0640", ...owner },
        { dependsOn: args.dependsOn },
      ),
    );
    const triggers = [contentHash(ini), contentHash(userlist), contentHash(dropIn), contentHash(hba)];
    const service = steps.service(
      "service",
      { unit: "pgbouncer", onChange: "reload", triggers },
      legacy("service-pgbouncer", written),
    );
    this.ready = steps.gate(
      "gate",
      {
        what: "pgbouncer",
        script: script("wait-pgbouncer", { TIMEOUT: 60 }),
        triggers,
        stdin: pulumi.secret(args.passwords.apply((p) => `${p.superuser}\n`)),
        mask: args.passwords.apply(secretValues),
      },
      legacy("gate-pgbouncer", [service]),
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
