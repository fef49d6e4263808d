// The haproxy role (clients' entry: the primary on one port, the replicas on
// another) and its `haproxy` section, with the optional virtual IP that
// keepalived keeps on one healthy HAProxy host (haproxy.vip).
import { z } from "zod";
import { FieldClasses, live } from "../../config/fieldClasses";
import { hostname, ipv4, ipv4Cidr, port, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { Topology } from "../../config/topology";
import { UnitSections } from "../../render/systemdUnit";
import { EntryPoint } from "../../tls/names";

export const vipSchema = z
  .object({
    address: ipv4.describe(
      "The virtual IP clients connect to: an unused address on the HAProxy hosts' network, kept by keepalived on one HAProxy host whose HAProxy serves a primary.",
    ),
    prefix: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(32)
      .describe("Prefix length the VIP is added with (32: the address alone, keepalived's own default)."),
    interface: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,14}$/, "must be a network interface name like eth0")
      .optional()
      .describe("Interface the VIP is added to and VRRP speaks on; default: the one holding the host's address."),
    virtualRouterId: z
      .number()
      .int()
      .min(1)
      .max(255)
      .optional()
      .describe(
        "VRRP virtual router id, unique among the VRRP users of the network segment; default: the VIP's last octet.",
      ),
    priorityOrder: z
      .array(hostname)
      .default([])
      .describe(
        "HAProxy hosts by VRRP priority, highest first: who takes the VIP at a first election or when a split heals. Hosts not listed follow in hosts order.",
      ),
    unicast: z
      .boolean()
      .default(true)
      .describe(
        "VRRP adverts sent to each HAProxy host's address (clouds and many switches drop multicast); false: multicast.",
      ),
  })
  .strict();
export type VipSettings = z.infer<typeof vipSchema>;

export const haproxySettingsSchema = z
  .object({
    primaryPort: port.default(5000).describe("Read-write port: routes to the primary."),
    replicaPort: port.default(5001).describe("Read-only port: routes to healthy replicas."),
    statsPort: port
      .default(7000)
      .describe("Stats web page (basic auth, user 'admin'); also the unauthenticated /primary-up health URL."),
    maxConn: positiveInt.default(1000).describe("Global maxconn."),
    replicaMaxLag: z
      .string()
      .regex(/^\d+(B|kB|MB|GB)$/, "must be a size like 10MB")
      .default("10MB")
      .describe("A replica lagging more than this leaves the replicas port."),
    checkIntervalMs: positiveInt.default(500).describe("Health check interval (inter)."),
    fastCheckIntervalMs: positiveInt.default(250).describe("Check interval while a server changes state (fastinter)."),
    fall: positiveInt.default(2).describe("Failed checks before a server is marked down."),
    rise: positiveInt.default(1).describe("Good checks before a server is marked up."),
    clientNetworks: z
      .array(ipv4Cidr)
      .default([])
      .describe(
        "Networks of the applications allowed on the primary and replica ports, besides the cluster's hosts and cluster.adminNetworks.",
      ),
    vip: vipSchema
      .optional()
      .describe(
        "A virtual IP in front of the HAProxy hosts (keepalived, VRRP): clients and the outputs use it. Without one, clients list every HAProxy host (libpq multi-host).",
      ),
  })
  .strict();
export type HaproxySettings = z.infer<typeof haproxySettingsSchema>;

export interface HaproxyView {
  readonly haproxy: HaproxySettings;
  readonly hosts: readonly { readonly name: string; readonly address: string; readonly roles: readonly string[] }[];
}

export const HAPROXY_ROLE = "haproxy";
export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
export const HAPROXY_STATS_USER = "admin";
/** The runtime API socket: the health gate reads the servers' states there. */
export const HAPROXY_ADMIN_SOCKET = "/run/haproxy/admin.sock";
/**
 * On the stats port, without authentication: 200 while this HAProxy routes
 * to a primary, 503 otherwise. keepalived's check asks its own HAProxy and
 * the peers' (keepalived-check.sh).
 */
export const HAPROXY_PRIMARY_UP_URI = "/primary-up";

export const KEEPALIVED_CONFIG_PATH = "/etc/keepalived/keepalived.conf";
/** keepalived's scripts, root-owned in a root-owned directory (keepalived's script security). */
export const KEEPALIVED_CHECK_PATH = "/usr/local/lib/pulumi-patroni/keepalived-check";
export const KEEPALIVED_RELEASE_PATH = "/usr/local/lib/pulumi-patroni/keepalived-release";
/**
 * One file per unicast peer (its address), included by keepalived.conf:
 * a peer that leaves the stack is dropped by a step of its own, after the
 * departing host's keepalived stopped (keepalived-peer.sh).
 */
export const KEEPALIVED_PEERS_DIR = "/etc/keepalived/unicast-peers";
/** The VIP in force on this host (its gate writes it): a reload that moves the VIP reads the old one there. */
export const KEEPALIVED_VIP_RECORD = "/var/lib/pulumi-patroni/keepalived-vip";
/** The VIP's old address kept on this host after a move, until the client hosts use the new one. */
export const KEEPALIVED_RETIRING = "/var/lib/pulumi-patroni/keepalived-retiring";

/** The backends (listen sections) clients reach the primary and the replicas through. */
export const primaryBackend = (clusterName: string) => `${clusterName}-primary`;
export const replicaBackend = (clusterName: string) => `${clusterName}-replicas`;

/**
 * Where clients dial to reach the cluster: every HAProxy host, by address and
 * by name, and the VIP (haproxy.vip) when there is one. The hosts HAProxy
 * sends sessions to carry these names in their certificates (a client
 * through HAProxy verifies the address it dialled); see entryAddresses.
 */
export const clientEntryPoints = (c: HaproxyView): EntryPoint[] => [
  ...c.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE)).map((h) => ({ address: h.address, name: h.name })),
  ...(c.haproxy.vip ? [{ address: c.haproxy.vip.address }] : []),
];

export const HAPROXY_DROP_IN: UnitSections = {
  Unit: { After: "network-online.target", Wants: "network-online.target" },
};

/** The HAProxy hosts in VRRP priority order: haproxy.vip.priorityOrder first, the rest in hosts order. */
export function vrrpOrder(c: HaproxyView): string[] {
  const haproxies = c.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE)).map((h) => h.name);
  const listed = (c.haproxy.vip?.priorityOrder ?? []).filter((n) => haproxies.includes(n));
  return [...listed, ...haproxies.filter((n) => !listed.includes(n))];
}

/**
 * VRRP priority of the i-th host of vrrpOrder among n: 250, 200, 150... The
 * gaps matter: a backup's master-down timer ends (256 - priority) / 256 s
 * after 3 adverts, so 50 apart is 0.2 s between two backups' takeovers, time
 * enough for the first one's advert to reach the second (no double holder).
 */
export function vrrpPriority(i: number, n: number): number {
  const step = Math.min(50, Math.floor(240 / Math.max(1, n - 1)));
  return 250 - i * step;
}

/** The VRRP virtual router id: configured, or the VIP's last octet (0 -> 255). */
export function virtualRouterId(vip: VipSettings): number {
  if (vip.virtualRouterId !== undefined) return vip.virtualRouterId;
  const last = Number(vip.address.split(".")[3]);
  return last === 0 ? 255 : last;
}

/**
 * Every address and name clients may reach the cluster's entry by: each
 * HAProxy host's address and name, and the VIP when one is set. A
 * certificate that clients verify through HAProxy (PgBouncer's, with
 * sslmode=verify-full) must name them all.
 */
export function entryAddresses(c: HaproxyView): string[] {
  const haproxies = c.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE));
  return [
    ...new Set([...haproxies.flatMap((h) => [h.address, h.name]), ...(c.haproxy.vip ? [c.haproxy.vip.address] : [])]),
  ];
}

/**
 * The addresses clients' URIs name: the VIP when one is set, else every
 * HAProxy host's address (libpq tries them in turn).
 */
export function clientEntryHosts(c: HaproxyView): string[] {
  if (c.haproxy.vip) return [c.haproxy.vip.address];
  return c.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE)).map((h) => h.address);
}

function vipProblems(c: HaproxyView, topology: Topology): string[] {
  const vip = c.haproxy.vip;
  if (!vip) return [];
  const problems: string[] = [];
  const owner = c.hosts.findIndex((h) => h.address === vip.address);
  if (owner >= 0)
    problems.push(
      `haproxy.vip.address: ${vip.address} is hosts[${owner}] (${c.hosts[owner].name})'s own address; the VIP needs an unused address of the same network`,
    );
  const haproxies = topology.withRole(HAPROXY_ROLE).map((h) => h.name);
  vip.priorityOrder.forEach((n, i) => {
    if (!haproxies.includes(n))
      problems.push(
        `haproxy.vip.priorityOrder[${i}]: ${n} is not a host with the haproxy role; expected one of ${haproxies.join(", ")}`,
      );
    else if (vip.priorityOrder.indexOf(n) !== i) problems.push(`haproxy.vip.priorityOrder[${i}]: ${n} is listed twice`);
  });
  return problems;
}

const reloaded = live("haproxy.cfg, reloaded (open sessions stay)");
const keepalivedReloaded = (what: string) =>
  live(`keepalived.conf on every HAProxy host, reloaded (SIGHUP, the holder keeps its state): ${what}`);
const FIELD_CLASSES: FieldClasses = {
  "haproxy.primaryPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.replicaPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.statsPort": live("haproxy.cfg, reloaded; keepalived's check follows"),
  "haproxy.maxConn": reloaded,
  "haproxy.replicaMaxLag": reloaded,
  "haproxy.checkIntervalMs": reloaded,
  "haproxy.fastCheckIntervalMs": reloaded,
  "haproxy.fall": reloaded,
  "haproxy.rise": reloaded,
  "haproxy.clientNetworks": reloaded,
  "haproxy.vip": live(
    "set: keepalived installed and started on every HAProxy host (HAProxy serves every address of its host, the VIP included), then the client host and the outputs use the VIP; removed: the client host and the outputs go back to the HAProxy hosts' addresses first, then keepalived stops and the VIP is gone",
  ),
  "haproxy.vip.address": keepalivedReloaded(
    "the new address is elected (HAProxy already serves it); the host that held the old one keeps it until the client host names the new one, then drops it and its sessions (other clients of the old address reconnect to the new one from the outputs)",
  ),
  "haproxy.vip.prefix": keepalivedReloaded("the holder adds the VIP again with the new prefix"),
  "haproxy.vip.interface": keepalivedReloaded("the holder moves the VIP to the new interface"),
  "haproxy.vip.virtualRouterId": keepalivedReloaded(
    "a new VRRP instance on every host at once: the VIP may move once, away no longer than one failover (3 to 4 s)",
  ),
  "haproxy.vip.priorityOrder": keepalivedReloaded(
    "the VIP stays where it is (nopreempt); the order rules the next election",
  ),
  "haproxy.vip.unicast": keepalivedReloaded(
    "the VIP stays where it is when every host reloads within one advert interval",
  ),
  haproxyStatsPassword: live("haproxy.cfg, reloaded"),
  haproxyVrrpPassword: keepalivedReloaded(
    "every host at once; hosts that disagree longer than the master-down interval (3 s) each take the VIP, then the highest priority keeps it: it may move once, away no longer than one failover",
  ),
};

export const haproxySlice = {
  role: HAPROXY_ROLE,
  summary: "haproxy (and keepalived with haproxy.vip)",
  settings: {
    key: "haproxy",
    schema: haproxySettingsSchema,
    description: "HAProxy routing clients to the primary and replicas.",
  },
  ports: (c) => [
    { port: c.haproxy.primaryPort, field: "haproxy.primaryPort" },
    { port: c.haproxy.replicaPort, field: "haproxy.replicaPort" },
    { port: c.haproxy.statsPort, field: "haproxy.statsPort" },
  ],
  problems: (c, topology: Topology) => [
    ...(topology.withRole(HAPROXY_ROLE).length === 0
      ? [`hosts: no host has the haproxy role; clients reach the primary through HAProxy, list at least one`]
      : []),
    ...vipProblems(c, topology),
  ],
  // keepalived only with a VIP: a cluster without one has nothing for it to do.
  packages: (c) => ["haproxy", "socat", ...(c.haproxy.vip ? ["keepalived"] : [])],
  // keepalived adds and removes the VIP (netlink): without CAP_NET_ADMIN it runs, claims the VIP
  // and never adds it. Only with a VIP: a stand without one boots as before (no reboot on upgrade).
  machineCapabilities: (c) => (c.haproxy.vip ? ["CAP_NET_ADMIN"] : []),
  fieldClasses: FIELD_CLASSES,
  facts: () => ({ HAPROXY_SOCKET: HAPROXY_ADMIN_SOCKET, HAPROXY_CONFIG: HAPROXY_CONFIG_PATH }),
  secrets: [
    {
      key: "haproxyStatsPassword",
      field: "haproxyStats",
      generatedName: "haproxy-stats-password",
      // haproxy.cfg: `stats auth admin:PASSWORD` ends at a space and `#` starts a comment.
      problems: (value: string) =>
        /[\s#"'\\]/.test(value)
          ? [
              `haproxyStatsPassword: contains a space, #, quote or backslash, which haproxy.cfg would cut or misread; use letters, digits and -_.+=@%`,
            ]
          : [],
    },
    {
      // VRRPv2's PASS authentication: a cleartext tag (only its first 8
      // characters are sent) that keeps another VRRP cluster on the same
      // virtual router id from joining ours, not a defence against an attacker.
      key: "haproxyVrrpPassword",
      field: "haproxyVrrp",
      generatedName: "haproxy-vrrp-password",
      problems: (value: string) =>
        /^[A-Za-z0-9._+=@%-]+$/.test(value)
          ? []
          : [
              `haproxyVrrpPassword: keepalived.conf takes letters, digits and ._+=@%- only (a space, quote, # or brace would end or comment out the value)`,
            ],
    },
  ],
} as const satisfies RoleSlice<HaproxyView>;
