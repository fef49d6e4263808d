// The `localMachines` section (hostSource local-machines: the stack creates
// its hosts as systemd-nspawn machines on this controller) and what the
// machine scripts would refuse in the middle of `pulumi up`, refused at
// preview instead.
import { z } from "zod";
import { FieldClasses, identity, live } from "../config/fieldClasses";
import { ipv4Cidr, port } from "../config/primitives";
import { DEBIAN_RELEASES, LOCAL_MACHINE_RELEASE } from "../platform/platform";
import { ClusterView } from "../roles/postgres/slice";

/**
 * The only addresses a local stand may use (10.213.0.0/16): traffic must
 * never leave the controller for an address it did not assign itself.
 * machines/lib.sh refuses anything else with the same rule.
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
    prebuiltPackages: z
      .boolean()
      .default(false)
      .describe(
        "Make the machines from an image with every role's packages already installed (built once per package list), as a cloud image would be: a deploy then has nothing to install. Off, the machines install their packages as servers would.",
      ),
    dataDiskMiB: z
      .number()
      .int()
      .min(512)
      .max(65536)
      .optional()
      .describe(
        "Give each PostgreSQL machine a filesystem of its own of this size (MiB) for its data directory's parent, an ext4 image on the controller, sparse: it fills up as a server's data disk does (the fault suite fills the leader's). Needs prebuiltPackages (the disk is made owned by the image's postgres). Absent: the data shares the controller's disk.",
      ),
  })
  .strict();
export type LocalMachinesSettings = z.infer<typeof localMachinesSettingsSchema>;

export interface LocalMachinesView extends ClusterView {
  readonly localMachines: LocalMachinesSettings;
  readonly haproxy: { readonly vip?: { readonly address: string } };
}

/** The controller's address on the stand's bridge. */
export const controllerAddress = (s: LocalMachinesSettings): string => s.bridgeAddress.split("/")[0];

export function localMachineProblems(c: LocalMachinesView, stack: string | undefined): string[] {
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
  if (c.localMachines.dataDiskMiB !== undefined && !c.localMachines.prebuiltPackages)
    problems.push(
      "localMachines.dataDiskMiB: a data disk is made when the machine is, owned by the image's postgres user, which only a packages image has; set localMachines.prebuiltPackages: true too, or remove dataDiskMiB",
    );
  if (c.cluster.watchdog.mode === "required")
    problems.push(
      "cluster.watchdog.mode: required needs a watchdog device on every PostgreSQL host, and a systemd-nspawn machine has none (a container cannot open the controller kernel's softdog), so no member could ever lead; use automatic (the default: the machines report that they have none) or off",
    );
  const vip = c.haproxy.vip?.address;
  if (vip && !vip.startsWith(`${prefix}.`))
    problems.push(`haproxy.vip.address: ${vip} is outside the local bridge network ${prefix}.0/24`);
  if (vip === bridgeIp) problems.push(`haproxy.vip.address: ${vip} is the bridge's own address`);
  c.hosts.forEach((h, i) => {
    if (!h.address.startsWith(`${prefix}.`))
      problems.push(`hosts[${i}].address: ${h.address} is outside the local bridge network ${prefix}.0/24`);
    if (h.address === bridgeIp) problems.push(`hosts[${i}].address: ${h.address} is the bridge's own address`);
    if (h.sshPort !== undefined)
      problems.push(`hosts[${i}].sshPort: a local machine's sshd listens on 22; sshPort is for hostSource existing`);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(h.name))
      problems.push(`hosts[${i}].name: a local machine's name is a-z then a-z0-9 and '-', at most 31 characters`);
  });
  return problems;
}

export const LOCAL_MACHINES_FIELD_CLASSES: FieldClasses = {
  "localMachines.bridge": identity("the machines are plugged into it; destroy the local stand and bring it up again"),
  "localMachines.bridgeAddress": identity(
    "the machines' addresses and routes derive from it; destroy the local stand and bring it up again",
  ),
  "localMachines.aptProxyPort": identity(
    "every machine's apt configuration points at it; destroy the local stand and bring it up again",
  ),
  "localMachines.prebuiltPackages": live(
    "only machines created later are made from the other image; existing machines keep their disk",
  ),
  "localMachines.dataDiskMiB": identity(
    "each PostgreSQL machine's data disk is made with its machine; destroy the local stand and bring it up again",
  ),
};
