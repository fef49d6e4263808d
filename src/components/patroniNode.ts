// One PostgreSQL node run by Patroni: patroni.yml (secret: it holds the
// cluster's passwords), the seeds' config path as a symlink, patronictl's
// default config for login shells, the unit drop-in, the service.
// A config change is a reload: Patroni re-reads patroni.yml on SIGHUP and
// never restarts PostgreSQL by itself.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../providers/shellCommand";
import { ManagedFileContext, managedHeader } from "../render/managedHeader";
import { PATRONI_CONFIG_ALIAS, PATRONI_CONFIG_PATH } from "../render/patroniConfig";
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
    const profile = `${managedHeader(args.managed)}export PATRONICTL_CONFIG_FILE=${PATRONI_CONFIG_PATH}\n`;
    const config = remoteFile(
      ctx,
      "patroni-config",
      { path: PATRONI_CONFIG_PATH, content: pulumi.secret(args.patroniConfig), mode: "0600", owner: "postgres", group: "postgres", validate: "patroni --validate-config %s" },
      args.dependsOn,
    );
    const alias = new ShellCommand(
      `${args.host.hostName}-patroni-config-alias`,
      {
        description: `${args.host.hostName}: link ${PATRONI_CONFIG_ALIAS}`,
        connection: args.host.connection,
        create: renderStepScript("link-file", { TARGET: PATRONI_CONFIG_PATH, LINK: PATRONI_CONFIG_ALIAS }),
        delete: renderStepScript("remove-link", { LINK: PATRONI_CONFIG_ALIAS }),
      },
      { parent: this, dependsOn: [config] },
    );
    const files = [
      config,
      alias,
      remoteFile(ctx, "patronictl-profile", { path: "/etc/profile.d/patronictl.sh", content: profile }, args.dependsOn),
      remoteFile(ctx, "patroni-dropin", { path: dropInPath("patroni.service"), content: dropIn }, args.dependsOn),
    ];
    this.service = serviceStep(ctx, { unit: "patroni", onChange: "reload", triggers: [contentHash(args.patroniConfig), contentHash(dropIn)] }, files);
    this.registerOutputs({});
  }
}
