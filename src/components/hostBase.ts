// What every host gets before its roles: the SSH reachability gate, then its
// roles' packages in one apt transaction (two roles installing in parallel
// would fight over the dpkg lock).
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { renderStepScript } from "../render/stepScript";

export interface HostBaseArgs {
  readonly hostName: string;
  readonly connection: pulumi.Input<SshConnection>;
  /** Packages for all roles of the host, sorted. */
  readonly packages: readonly string[];
  /** Extra apt source lines. */
  readonly aptSources: readonly string[];
}

export class HostBase extends pulumi.ComponentResource {
  /** Every role step of this host depends on this. */
  readonly ready: ShellCommand;

  constructor(name: string, args: HostBaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:HostBase", name, {}, opts);
    const reachable = new ShellCommand(
      `${args.hostName}-reachable`,
      {
        description: `${args.hostName}: reachable over SSH`,
        connection: args.connection,
        create: renderStepScript("reachable"),
        // A freshly booted host may need a while before sshd answers.
        connectAttempts: 40,
      },
      { parent: this },
    );
    this.ready = new ShellCommand(
      `${args.hostName}-packages`,
      {
        description: `${args.hostName}: install packages`,
        connection: args.connection,
        create: renderStepScript("install-packages", { PACKAGES: args.packages.join(" "), APT_SOURCES: args.aptSources.join("\n") }),
      },
      { parent: this, dependsOn: [reachable] },
    );
    this.registerOutputs({});
  }
}
