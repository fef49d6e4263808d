// What every host gets before its roles: the SSH reachability gate, its
// platform (release and package versions, read after apt has the configured
// sources), then its roles' packages in one apt transaction (two roles
// installing in parallel would fight over the dpkg lock). The install waits
// for every host's platform to be accepted, so a refused host leaves every
// host as it was.
import * as pulumi from "@pulumi/pulumi";
import { HostFacts, parseHostFacts } from "../platform/platform";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { renderStepScript } from "../render/stepScript";

export interface HostBaseArgs {
  readonly hostName: string;
  readonly connection: pulumi.Input<SshConnection>;
  /** Packages for all roles of the host, sorted. */
  readonly packages: readonly string[];
  /** Extra apt source lines. */
  readonly aptSources: readonly string[];
  /** Extra apt keyrings: name -> ASCII-armored public key. */
  readonly aptKeyrings: Readonly<Record<string, string>>;
}

export class HostBase extends pulumi.ComponentResource {
  /** What the host reported: release and package versions. */
  readonly facts: pulumi.Output<HostFacts>;
  /** Every role step of this host depends on this (set by installPackages). */
  ready!: ShellCommand;
  private readonly platformStep: ShellCommand;

  constructor(name: string, private readonly args: HostBaseArgs, opts?: pulumi.ComponentResourceOptions) {
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
    const keyrings = Object.keys(args.aptKeyrings)
      .sort()
      .map((k) => `${k} ${Buffer.from(args.aptKeyrings[k]).toString("base64")}`);
    this.platformStep = new ShellCommand(
      `${args.hostName}-platform`,
      {
        description: `${args.hostName}: read the platform`,
        connection: args.connection,
        create: renderStepScript("platform", { PACKAGES: args.packages.join(" "), APT_SOURCES: args.aptSources.join("\n"), APT_KEYRINGS: keyrings.join("\n") }),
        captureStdout: true,
      },
      { parent: this, dependsOn: [reachable] },
    );
    this.facts = this.platformStep.stdout.apply(parseHostFacts);
  }

  /** Installs the packages once `accepted` resolves (every host's platform passed its check) and `after` is done. */
  installPackages(accepted: pulumi.Input<string>, after: pulumi.Resource[] = []): ShellCommand {
    this.ready = new ShellCommand(
      `${this.args.hostName}-packages`,
      {
        description: `${this.args.hostName}: install packages`,
        connection: this.args.connection,
        create: renderStepScript("install-packages", { PACKAGES: this.args.packages.join(" ") }),
        triggers: [accepted],
      },
      { parent: this, dependsOn: [this.platformStep, ...after] },
    );
    this.registerOutputs({ facts: this.facts });
    return this.ready;
  }
}
