// The `local` stack's own hosts: systemd-nspawn machines on this controller,
// each with real systemd and sshd in its own network namespace on a bridge,
// apt through an apt-cacher-ng on the bridge address. The cluster is then
// deployed onto them over SSH exactly as onto real servers.
// The work is done by machines/*.sh (stand-network.sh and stand-machine.sh
// call them); this component only orders them.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { SshKeyPair } from "../providers/sshKeyPair";
import { HostConfig } from "../stack/stackConfig";
import { renderHostScript, ScriptEnv, scriptsIn } from "../steps/stepScript";
import { LOCAL_SUBNET_PREFIX } from "./settings";

const script = (name: string, env: ScriptEnv) => renderHostScript(scriptsIn(__dirname)(name, env));

// Relative to the project directory, where Pulumi runs the provider: the
// commands stay the same when the checkout moves (no update of every
// machine), and a destroy runs the scripts of the checkout that runs it.
export const LOCAL_MACHINE_SCRIPTS = path.join("src", "local", "machines");

/** Exists while a stand is destroyed as a whole (stand-teardown.sh): its steps' deletes are skipped. */
export const tornDownMarker = (stand: string) => `/run/pulumi-patroni/torn-down/${stand}`;

export interface LocalStandArgs {
  /** Namespaces netns, veth and state directories: several stands may coexist. */
  readonly stand: string;
  /** With the capabilities each machine needs beyond nspawn's defaults (machineCapabilitiesFor). */
  readonly hosts: readonly (HostConfig & { readonly capabilities: readonly string[] })[];
  readonly bridge: string;
  /** Bridge address with prefix, e.g. 10.213.0.1/24. */
  readonly bridgeAddress: string;
  readonly aptProxyPort: number;
  /** Packages the machines' image carries installed (empty: the plain base image). */
  readonly imagePackages: readonly string[];
  /** A filesystem of this size (MiB) of its own for each PostgreSQL machine, at dataDiskAt (absent: none). */
  readonly dataDiskMiB?: number;
  /** Where the data disk is mounted inside: the data directory's parent. */
  readonly dataDiskAt: string;
}

export class LocalStand extends pulumi.ComponentResource {
  /** Private key authorized for root on every machine (secret). */
  readonly privateKey: pulumi.Output<string>;
  /** SSH connection per host name, host key pinned. */
  readonly connections: Record<string, pulumi.Output<SshConnection>>;
  /** One resource per machine; cluster steps depend on them. */
  readonly machines: ShellCommand[];
  /** One line per machine to open a shell on it. */
  readonly shellCommands: Record<string, string>;
  /** The controller's address on the bridge. */
  readonly controllerAddress: string;
  private readonly args: LocalStandArgs;

  constructor(name: string, args: LocalStandArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:LocalStand", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:LocalStand" }] });
    const [bridgeIp, prefix] = args.bridgeAddress.split("/");
    this.controllerAddress = bridgeIp;
    const aptProxy = `http://${bridgeIp}:${args.aptProxyPort}`;
    const key = new SshKeyPair(`${name}-ssh-key`, { comment: `pulumi-patroni-${args.stand}` }, { parent: this });
    this.privateKey = key.privateKey;

    const common = { MACHINES: LOCAL_MACHINE_SCRIPTS, PULUMI_PATRONI_SUBNET_PREFIX: LOCAL_SUBNET_PREFIX };
    const net = (action: string) =>
      script("stand-network", {
        ...common,
        ACTION: action,
        BRIDGE: args.bridge,
        BRIDGE_ADDRESS: args.bridgeAddress,
        LISTEN: bridgeIp,
        APT_PROXY_PORT: args.aptProxyPort,
        MARKER: tornDownMarker(args.stand),
      });
    const network = new ShellCommand(
      `${name}-network`,
      {
        description: `local stand ${args.stand}: bridge ${args.bridge} and apt proxy`,
        create: net("up"),
        delete: net("down"),
        // After a controller reboot the bridge and the proxy are gone: bring them back.
        check: net("check"),
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );

    this.connections = {};
    this.shellCommands = {};
    // Machines that need capabilities beyond nspawn's defaults (the HAProxy hosts behind a VIP)
    // come up one after the other: a change that boots them again (a capability they were not
    // booted with) never takes all of them down at once.
    let previousCapable: ShellCommand | undefined;
    this.machines = args.hosts.map((h) => {
      const machine = (action: string) =>
        script("stand-machine", {
          ...common,
          ACTION: action,
          NAME: h.name,
          STAND: args.stand,
          ADDRESS: `${h.address}/${prefix}`,
          GATEWAY: bridgeIp,
          BRIDGE: args.bridge,
          APT_PROXY: aptProxy,
          CAPABILITY: h.capabilities.length ? h.capabilities.join(",") : "none",
          IMAGE_PACKAGES: args.imagePackages.join(" "),
          // Only when set: the other machines' commands stay as they were.
          ...(args.dataDiskMiB !== undefined && h.roles.includes("postgres")
            ? { DATA_DISK: `${args.dataDiskMiB} ${args.dataDiskAt}` }
            : {}),
        });
      const resource = new ShellCommand(
        `${name}-${h.name}`,
        {
          description: `local machine ${h.name} (${h.address})`,
          create: machine("create"),
          // Runs when the machine is found stopped (check) or its inputs change: boot it, keep its disk.
          update: machine("ensure"),
          delete: machine("destroy"),
          check: machine("check"),
          // The public key: not secret, it only keeps the command short.
          stdin: key.publicKey,
          captureStdout: true,
        },
        { parent: this, dependsOn: [network, ...(h.capabilities.length && previousCapable ? [previousCapable] : [])] },
      );
      if (h.capabilities.length) previousCapable = resource;
      this.connections[h.name] = pulumi.secret(
        pulumi.all([key.privateKey, resource.stdout]).apply(([privateKey, hostKey]) => ({
          host: h.address,
          port: 22,
          user: "root",
          privateKey,
          hostKey: hostKey || undefined,
          disposable: true,
          tornDownMarker: tornDownMarker(args.stand),
        })),
      );
      this.shellCommands[h.name] =
        `${args.stand === "local" ? "" : `STACK=${args.stand} `}npm run --silent ssh -- ${h.name}`;
      return resource;
    });
    this.args = args;
    this.registerOutputs({
      privateKey: this.privateKey,
      machines: this.machines.map((m) => m.id),
      shellCommands: this.shellCommands,
    });
  }

  /**
   * The step a whole-stand destroy deletes first: it depends on `everything`
   * (the cluster), so Pulumi deletes it before any of the cluster's steps;
   * its delete switches the machines off and marks the stand torn down, and
   * the steps' deletes are skipped (tornDownMarker). Creating it does nothing.
   */
  teardownAfter(everything: pulumi.Resource[]): ShellCommand {
    return new ShellCommand(
      "stand-teardown",
      {
        description: `local stand ${this.args.stand}: switched off first when destroyed`,
        create: "true",
        delete: script("stand-teardown", {
          MACHINES: LOCAL_MACHINE_SCRIPTS,
          STAND: this.args.stand,
          NAMES: this.args.hosts.map((h) => h.name).join(" "),
          MARKER: tornDownMarker(this.args.stand),
          PULUMI_PATRONI_SUBNET_PREFIX: LOCAL_SUBNET_PREFIX,
        }),
      },
      { parent: this, dependsOn: everything },
    );
  }
}
