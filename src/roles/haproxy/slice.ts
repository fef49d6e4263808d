// The haproxy role (clients' entry: the primary on one port, the replicas on
// another) and its `haproxy` section.
import { z } from "zod";
import { CoreHost } from "../../config/core";
import { FieldClasses, live } from "../../config/fieldClasses";
import { ipv4Cidr, port, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { Topology } from "../../config/topology";
import { UnitSections } from "../../render/systemdUnit";
import { EntryPoint } from "../../tls/names";

export const haproxySettingsSchema = z
  .object({
    primaryPort: port.default(5000).describe("Read-write port: routes to the primary."),
    replicaPort: port.default(5001).describe("Read-only port: routes to healthy replicas."),
    statsPort: port.default(7000).describe("Stats web page (basic auth, user 'admin')."),
    maxConn: positiveInt.default(1000).describe("Global maxconn."),
    replicaMaxLag: z
      .string()
      .regex(/^\d+(B|kB|MB|GB)$/, "must be a size like 10MB")
      .default("10MB")
      .describe("A replica lagging more than this leaves the replicas port."),
    checkIntervalMs: positiveInt.default(2000).describe("Health check interval (inter)."),
    fastCheckIntervalMs: positiveInt.default(1000).describe("Check interval while a server changes state (fastinter)."),
    fall: positiveInt.default(3).describe("Failed checks before a server is marked down."),
    rise: positiveInt.default(2).describe("Good checks before a server is marked up."),
    clientNetworks: z
      .array(ipv4Cidr)
      .default([])
      .describe(
        "Networks of the applications allowed on the primary and replica ports, besides the cluster's hosts and cluster.adminNetworks.",
      ),
  })
  .strict();
export type HaproxySettings = z.infer<typeof haproxySettingsSchema>;

export interface HaproxyView {
  readonly haproxy: HaproxySettings;
}

export const HAPROXY_ROLE = "haproxy";
export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
export const HAPROXY_STATS_USER = "admin";
/** The runtime API socket: the health gate reads the servers' states there. */
export const HAPROXY_ADMIN_SOCKET = "/run/haproxy/admin.sock";

/** The backends (listen sections) clients reach the primary and the replicas through. */
export const primaryBackend = (clusterName: string) => `${clusterName}-primary`;
export const replicaBackend = (clusterName: string) => `${clusterName}-replicas`;

/**
 * Where clients dial to reach the cluster: every HAProxy host, by address and
 * by name. The hosts HAProxy sends sessions to carry these names in their
 * certificates (a client through HAProxy verifies the address it dialled);
 * a virtual IP in front of HAProxy belongs here too.
 */
export const clientEntryPoints = (c: { readonly hosts: readonly CoreHost[] }): EntryPoint[] =>
  c.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE)).map((h) => ({ address: h.address, name: h.name }));

export const HAPROXY_DROP_IN: UnitSections = {
  Unit: { After: "network-online.target", Wants: "network-online.target" },
};

const reloaded = live("haproxy.cfg, reloaded (open sessions stay)");
const FIELD_CLASSES: FieldClasses = {
  "haproxy.primaryPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.replicaPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.statsPort": live("haproxy.cfg, reloaded"),
  "haproxy.maxConn": reloaded,
  "haproxy.replicaMaxLag": reloaded,
  "haproxy.checkIntervalMs": reloaded,
  "haproxy.fastCheckIntervalMs": reloaded,
  "haproxy.fall": reloaded,
  "haproxy.rise": reloaded,
  "haproxy.clientNetworks": reloaded,
  haproxyStatsPassword: live("haproxy.cfg, reloaded"),
};

export const haproxySlice = {
  role: HAPROXY_ROLE,
  summary: "haproxy",
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
  problems: (_c, topology: Topology) =>
    topology.withRole(HAPROXY_ROLE).length === 0
      ? [`hosts: no host has the haproxy role; clients reach the primary through HAProxy, list at least one`]
      : [],
  packages: () => ["haproxy", "socat"],
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
  ],
} as const satisfies RoleSlice<HaproxyView>;
