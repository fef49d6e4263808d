// PgBouncer in front of the local PostgreSQL: pgbouncer.ini, userlist.txt
// (secret), unit drop-in, service (reload on change), then a gate proving a
// session through it reaches PostgreSQL and the admin console answers.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../providers/shellCommand";
import { ManagedFileContext } from "../render/managedHeader";
import { PGBOUNCER_INI_PATH } from "../render/pgbouncerIni";
import { PGBOUNCER_USERLIST_PATH } from "../render/pgbouncerUserlist";
import { dropInPath, PGBOUNCER_DROP_IN, renderSystemdDropIn } from "../render/systemdUnit";
import { contentHash, healthGate, HostContext, remoteFile, serviceStep } from "./hostSteps";

export interface PgbouncerNodeArgs {
  readonly host: Omit<HostContext, "parent">;
  readonly managed: ManagedFileContext;
  readonly ini: pulumi.Input<string>;
  /** Rendered userlist.txt (secret). */
  readonly userlist: pulumi.Input<string>;
  readonly port: number;
  /** Superuser password, for the health gate (secret, sent on stdin). */
  readonly superuserPassword: pulumi.Input<string>;
  /** The host's packages step and the step creating the auth_query function. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PgbouncerNode extends pulumi.ComponentResource {
  readonly gate: ShellCommand;

  constructor(name: string, args: PgbouncerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:PgbouncerNode", name, {}, opts);
    const ctx: HostContext = { ...args.host, parent: this };
    const dropIn = renderSystemdDropIn(args.managed, PGBOUNCER_DROP_IN);
    const owner = { owner: "postgres", group: "postgres" };
    const files = [
      remoteFile(ctx, "pgbouncer-ini", { path: PGBOUNCER_INI_PATH, content: args.ini, mode: "0640", ...owner, removeOnDestroy: false }, args.dependsOn),
      remoteFile(ctx, "pgbouncer-userlist", { path: PGBOUNCER_USERLIST_PATH, content: pulumi.secret(args.userlist), mode: "0600", ...owner, removeOnDestroy: false }, args.dependsOn),
      remoteFile(ctx, "pgbouncer-dropin", { path: dropInPath("pgbouncer.service"), content: dropIn }, args.dependsOn),
    ];
    const triggers = [contentHash(args.ini), contentHash(args.userlist), contentHash(dropIn)];
    const service = serviceStep(ctx, { unit: "pgbouncer", onChange: "reload", triggers }, files);
    this.gate = healthGate(
      ctx,
      { name: "pgbouncer", template: "wait-pgbouncer", env: { PORT: args.port, TIMEOUT: 60 }, triggers, stdin: pulumi.secret(pulumi.interpolate`${args.superuserPassword}\n`) },
      [service],
    );
    this.registerOutputs({});
  }
}
