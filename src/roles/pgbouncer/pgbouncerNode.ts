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
import { monitorHostOf } from "../monitor/slice";
import { MONITORING_USER, SUPERUSER } from "../postgres/slice";
import { RoleArgs } from "../roleArgs";
import { PGBOUNCER_HBA_PATH, renderPgbouncerHba } from "./pgbouncerHba";
import { PGBOUNCER_AUTH_USER, PGBOUNCER_INI_PATH, renderPgbouncerIni } from "./pgbouncerIni";
import { clientLoginSecret, PGBOUNCER_USERLIST_PATH, renderPgbouncerUserlist } from "./pgbouncerUserlist";
import { PGBOUNCER_DROP_IN } from "./slice";

const script = scriptsIn(__dirname);

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
    // With a monitor host, pgbouncer-exporter reads the admin console as a stats user, over the socket.
    const monitoringUser = monitorHostOf(args.topology) ? MONITORING_USER : undefined;
    const ini = args.platform.apply((platform) =>
      renderPgbouncerIni(args.managed, {
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
      }),
    );
    const hba = renderPgbouncerHba(args.managed, {
      authType: config.pgbouncer.authType,
      superuser: SUPERUSER,
      clusterAddresses: args.topology.sessionAddresses,
      adminNetworks: config.cluster.adminNetworks,
      monitoringUser,
    });
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
    const owner = { owner: "postgres", group: "postgres" };
    const legacy = (step: string, dependsOn: pulumi.Input<pulumi.Resource>[] = args.dependsOn) => ({
      legacyName: `${host.name}-${step}`,
      dependsOn,
    });
    const files = [
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
    files.push(
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
      legacy("service-pgbouncer", files),
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
