// The `local` stack's own hosts: systemd-nspawn machines on this controller,
// each with real systemd and sshd in its own network namespace on a bridge,
// apt through an apt-cacher-ng on the bridge address. The cluster is then
// deployed onto them over SSH exactly as onto real servers.
// The work is done by scripts/local/*.sh; this component only orders them.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { z } from "zod";
import { ipv4Cidr, port } from "../config/primitives";
import { HostConfig, StackConfig } from "../config/schema";
import { DEBIAN_RELEASES, LOCAL_MACHINE_RELEASE } from "../platform/platform";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { SshKeyPair } from "../providers/sshKeyPair";
import { shellQuote } from "../steps/stepScript";

// Relative to the project directory, where Pulumi runs the provider: the
// commands stay the same when the checkout moves (no update of every
// machine), and a destroy runs the scripts of the checkout that runs it.
export const LOCAL_SCRIPTS_DIR = "scripts/local";

/**
 * The only addresses a local stand may use (10.213.0.0/16): traffic must
 * never leave the controller for an address it did not assign itself.
 * scripts/local/lib.sh refuses anything else with the same rule.
 */
export const LOCAL_SUBNET_PREFIX = "10.213.";

export const localMachinesSettingsSchema = z
  .object({
    bridge: z
      .string()
      .regex(/^[a-z][a-z0-9]{1,14}$/, "must be a Linux interface name: a-z then a-z0-9, 2 to 15 characters")
      .default("pgstand0")
      .describe("Bridge joining the local machines."),
    bridgeAddress: ipv4Cidr
      .default("10.213.0.1/24")
      .describe("Controller address on the bridge, with the prefix length (a /24 inside 10.213.0.0/16)."),
    aptProxyPort: port.default(3142).describe("apt-cacher-ng port on the bridge address."),
  })
  .strict();

/** What scripts/local/*.sh would refuse in the middle of `pulumi up`, refused at preview instead. */
export function localMachineProblems(c: StackConfig, stack: string | undefined): string[] {
  const problems: string[] = [];
  const shipped = DEBIAN_RELEASES[LOCAL_MACHINE_RELEASE];
  if (c.cluster.postgresVersion !== shipped.postgres) {
    problems.push(
      `cluster.postgresVersion: the local machines run Debian ${shipped.version} (${LOCAL_MACHINE_RELEASE}), which ships PostgreSQL ${shipped.postgres} and reaches no other repository; set ${shipped.postgres}`,
    );
  }
  if (stack !== undefined && !/^[a-z0-9][a-z0-9-]{0,19}$/.test(stack)) {
    problems.push(
      `stack ${JSON.stringify(stack)}: a local stand is named after its stack, which must be 1 to 20 characters a-z, 0-9 and '-'`,
    );
  }
  const [bridgeIp, bits] = c.localMachines.bridgeAddress.split("/");
  const prefix = bridgeIp.split(".").slice(0, 3).join(".");
  if (bits !== "24") problems.push(`localMachines.bridgeAddress: the local stand uses a /24, got /${bits}`);
  if (!bridgeIp.startsWith(LOCAL_SUBNET_PREFIX)) {
    problems.push(
      `localMachines.bridgeAddress: ${bridgeIp} is outside ${LOCAL_SUBNET_PREFIX}0.0/16, the only range a local stand may use; pick e.g. 10.213.5.1/24`,
    );
  }
  c.hosts.forEach((h, i) => {
    if (!h.address.startsWith(`${prefix}.`))
      problems.push(`hosts[${i}].address: ${h.address} is outside the local bridge network ${prefix}.0/24`);
    if (h.address === bridgeIp) problems.push(`hosts[${i}].address: ${h.address} is the bridge's own address`);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(h.name))
      problems.push(`hosts[${i}].name: a local machine's name is a-z then a-z0-9 and '-', at most 31 characters`);
  });
  return problems;
}

export interface LocalStandArgs {
  /** Namespaces netns, veth and state directories: several stands may coexist. */
  readonly stand: string;
  readonly hosts: readonly HostConfig[];
  readonly bridge: string;
  /** Bridge address with prefix, e.g. 10.213.0.1/24. */
  readonly bridgeAddress: string;
  readonly aptProxyPort: number;
}

/** One scripts/local command, held to the stand's subnet rule (the same as localMachineProblems'). */
const script = (name: string, ...args: string[]) =>
  `PULUMI_PATRONI_SUBNET_PREFIX=${LOCAL_SUBNET_PREFIX} ` + [path.join(LOCAL_SCRIPTS_DIR, name), ...args].map(shellQuote).join(" ");

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

  constructor(name: string, args: LocalStandArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:LocalStand", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:LocalStand" }] });
    const [bridgeIp, prefix] = args.bridgeAddress.split("/");
    this.controllerAddress = bridgeIp;
    const aptProxy = `http://${bridgeIp}:${args.aptProxyPort}`;
    const key = new SshKeyPair(`${name}-ssh-key`, { comment: `pulumi-patroni-${args.stand}` }, { parent: this });
    this.privateKey = key.privateKey;

    const network = new ShellCommand(
      `${name}-network`,
      {
        description: `local stand ${args.stand}: bridge ${args.bridge} and apt proxy`,
        create: [
          script("network.sh", "up", "--bridge", args.bridge, "--address", args.bridgeAddress),
          script("apt-proxy.sh", "up", "--listen", bridgeIp, "--port", String(args.aptProxyPort)),
          script("rootfs.sh", "ensure") + " >/dev/null",
        ].join("\n"),
        delete: [
          script("apt-proxy.sh", "down", "--listen", bridgeIp, "--port", String(args.aptProxyPort)),
          script("network.sh", "down", "--bridge", args.bridge, "--address", args.bridgeAddress),
        ].join("\n"),
        // After a controller reboot the bridge and the proxy are gone: bring them back.
        check:
          [
            script("network.sh", "status", "--bridge", args.bridge, "--address", args.bridgeAddress),
            script("apt-proxy.sh", "status", "--listen", bridgeIp, "--port", String(args.aptProxyPort)),
          ].join(" && ") + " >/dev/null",
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );

    this.connections = {};
    this.shellCommands = {};
    this.machines = args.hosts.map((h) => {
      const common = ["--stand", args.stand];
      const ensure = [
        // The public key arrives on stdin; it is not secret but keeps the command short.
        'keys=$(mktemp); trap \'rm -f "$keys"\' EXIT; cat > "$keys"',
        `${script("machine.sh", "create", h.name, ...common, "--address", `${h.address}/${prefix}`, "--gateway", bridgeIp, "--bridge", args.bridge, "--apt-proxy", aptProxy)} --authorized-keys-file "$keys" >&2`,
        // Booted is not enough: the steps that follow need sshd and systemd up.
        `${script("machine.sh", "wait-ready", h.name, ...common, "--timeout", "90")} >&2`,
        script("machine.sh", "host-key", h.name, ...common),
      ].join("\n");
      // A new resource is a new machine: never adopt a leftover root filesystem
      // (its cluster data would not match this state's passwords).
      const create = `${script("machine.sh", "destroy", h.name, ...common)} >&2\n${ensure}`;
      const machine = new ShellCommand(
        `${name}-${h.name}`,
        {
          description: `local machine ${h.name} (${h.address})`,
          create,
          // Runs when the machine is found stopped (check) or its inputs change: boot it, keep its disk.
          update: ensure,
          delete: script("machine.sh", "destroy", h.name, ...common),
          check: `[ "$(${script("machine.sh", "status", h.name, ...common)})" = running ]`,
          stdin: key.publicKey,
          captureStdout: true,
        },
        { parent: this, dependsOn: [network] },
      );
      this.connections[h.name] = pulumi.secret(
        pulumi.all([key.privateKey, machine.stdout]).apply(([privateKey, hostKey]) => ({
          host: h.address,
          port: 22,
          user: "root",
          privateKey,
          hostKey: hostKey || undefined,
          disposable: true,
        })),
      );
      this.shellCommands[h.name] = `${args.stand === "local" ? "" : `STACK=${args.stand} `}npm run --silent ssh -- ${h.name}`;
      return machine;
    });
    this.registerOutputs({ privateKey: this.privateKey, machines: this.machines.map((m) => m.id), shellCommands: this.shellCommands });
  }
}
