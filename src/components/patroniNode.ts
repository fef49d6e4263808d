// One PostgreSQL node run by Patroni: patroni.yml (secret: it holds the
// cluster's passwords), links to it at the seeds' path and at patronictl's
// default paths (so plain `patronictl list` works for root and postgres),
// the unit drop-in, the service.
// A config change is a reload: Patroni re-reads patroni.yml on SIGHUP and
// never restarts PostgreSQL by itself.
import * as pulumi from "@pulumi/pulumi";
import { PATRONI_VALIDATE_COMMAND } from "../platform/platform";
import { ShellCommand } from "../providers/shellCommand";
import { ManagedFileContext } from "../render/managedHeader";
import { PATRONI_CONFIG_ALIASES, PATRONI_CONFIG_PATH } from "../render/patroniConfig";
import { renderStepScript } from "../render/stepScript";
import { dropInPath, PATRONI_DROP_IN, renderSystemdDropIn } from "../render/systemdUnit";
import { contentHash, HostContext, remoteFile, serviceStep } from "./hostSteps";

export interface PatroniNodeArgs {
  readonly host: Omit<HostContext, "parent">;
  readonly managed: ManagedFileContext;
  /** Rendered patroni.yml (secret). */
  readonly patroniConfig: pulumi.Input<string>;
  /** The host's packages step and the etcd health gate. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PatroniNode extends pulumi.ComponentResource {
  readonly service: ShellCommand;

  constructor(name: string, args: PatroniNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:PatroniNode", name, {}, opts);
    const ctx: HostContext = { ...args.host, parent: this };
    const dropIn = renderSystemdDropIn(args.managed, PATRONI_DROP_IN);
    const config = remoteFile(
      ctx,
      "patroni-config",
      { path: PATRONI_CONFIG_PATH, content: pulumi.secret(args.patroniConfig), mode: "0600", owner: "postgres", group: "postgres", validate: PATRONI_VALIDATE_COMMAND },
      args.dependsOn,
    );
    const alias = new ShellCommand(
      `${args.host.hostName}-patroni-config-alias`,
      {
        description: `${args.host.hostName}: link ${PATRONI_CONFIG_ALIASES.join(", ")}`,
        connection: args.host.connection,
        create: renderStepScript("link-file", { TARGET: PATRONI_CONFIG_PATH, LINKS: PATRONI_CONFIG_ALIASES.join(" ") }),
        delete: renderStepScript("remove-link", { LINKS: PATRONI_CONFIG_ALIASES.join(" ") }),
      },
      { parent: this, dependsOn: [config] },
    );
    const files = [
      config,
      alias,
      remoteFile(ctx, "patroni-dropin", { path: dropInPath("patroni.service"), content: dropIn }, args.dependsOn),
    ];
    this.service = serviceStep(ctx, { unit: "patroni", onChange: "reload", triggers: [contentHash(args.patroniConfig), contentHash(dropIn)] }, files);
    this.registerOutputs({});
  }
}
