// The postgres role (PostgreSQL run by Patroni) and the `cluster` section it
// owns: the cluster's name, version, ports, Patroni's dynamic configuration,
// PostgreSQL parameters, pg_hba, roles and databases. Other roles read parts
// of it (the name, the ports, the admin networks) through ClusterSettings.
import { z } from "zod";
import { CoreHost } from "../../config/core";
import { FieldClasses, identity, live, NEW_STACK, rolling } from "../../config/fieldClasses";
import { ipv4Cidr, port, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { DEFAULT_POSTGRES_VERSION } from "../../platform/platform";
import { UnitSections } from "../../render/systemdUnit";
import { TlsView } from "../../tls/settings";
import { PGBOUNCER_AUTH_USER } from "../pgbouncer/pgbouncerIni";
import { checkPostgresParameter } from "./postgresParameters";

export const dcsSchema = z
  .object({
    ttl: positiveInt.default(30).describe("Leader key TTL in seconds."),
    loopWait: positiveInt.default(10).describe("Seconds between Patroni HA loops."),
    retryTimeout: positiveInt.default(10).describe("Seconds before a DCS or PostgreSQL operation counts as failed."),
    maximumLagOnFailover: z
      .number()
      .int()
      .min(0)
      .default(1048576)
      .describe("Bytes a replica may lag and still be promoted."),
    synchronousMode: z
      .boolean()
      .default(false)
      .describe("Patroni synchronous_mode: acknowledged commits survive failover."),
    synchronousModeStrict: z
      .boolean()
      .default(false)
      .describe("Refuse writes when no synchronous replica is available."),
    failsafeMode: z
      .boolean()
      .default(true)
      .describe("Keep the primary running while the DCS is down if all members answer."),
    usePgRewind: z.boolean().default(true).describe("Rewind a former primary instead of re-cloning it."),
    useSlots: z.boolean().default(true).describe("Use physical replication slots for replicas."),
  })
  .strict();

/**
 * A pg_hba name list: keywords or lower-case identifiers, comma separated,
 * nothing else. Anything more (spaces, a newline) would become extra pg_hba
 * columns or lines, `trust` included.
 */
const hbaNames = (what: string, keywords: readonly string[]) =>
  z
    .string()
    .regex(
      /^\+?[a-z_][a-z0-9_]{0,62}(,\+?[a-z_][a-z0-9_]{0,62})*$/,
      `must be ${keywords.join(", ")} or ${what} names (a-z, 0-9, _), comma separated, with no spaces`,
    );

export const hbaRuleSchema = z
  .object({
    type: z.enum(["local", "host", "hostssl", "hostnossl"]).default("host").describe("Connection type."),
    database: hbaNames("database", ["all", "sameuser", "samerole", "replication"])
      .default("all")
      .describe("Database name(s), comma separated."),
    user: hbaNames("user", ["all"]).default("all").describe("Role name(s), comma separated; +role for its members."),
    address: ipv4Cidr.optional().describe("Client CIDR (not for type local)."),
    method: z
      .enum(["scram-sha-256", "md5", "reject", "peer", "cert"])
      .default("scram-sha-256")
      .describe("Authentication method; trust is not offered on purpose."),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.type !== "local" && !rule.address) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["address"],
        message: `is required for type ${rule.type} (a CIDR like 10.0.0.0/24)`,
      });
    }
    if (rule.type === "local" && rule.address) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["address"], message: "must be absent for type local" });
    }
    // Pairs PostgreSQL refuses to load (the whole pg_hba.conf would be rejected).
    if (rule.method === "peer" && rule.type !== "local") {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["method"],
        message: `peer works only for type local, not ${rule.type}; use scram-sha-256`,
      });
    }
    if (rule.method === "cert" && rule.type !== "hostssl") {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["method"],
        message: `cert needs type hostssl, not ${rule.type}`,
      });
    }
  });
export type HbaRule = z.infer<typeof hbaRuleSchema>;

const pgIdentifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    "must be a lower-case PostgreSQL identifier: a-z, 0-9, _ (not starting with a digit)",
  );

export const userSchema = z
  .object({
    name: pgIdentifier.describe("Role name; its password is generated and kept as a Pulumi secret."),
    options: z
      .array(
        z.enum([
          "CREATEDB",
          "CREATEROLE",
          "LOGIN",
          "REPLICATION",
          "SUPERUSER",
          "NOSUPERUSER",
          "NOCREATEDB",
          "NOCREATEROLE",
        ]),
      )
      .default(["LOGIN"])
      .describe("Role attributes."),
  })
  .strict();

export const databaseSchema = z
  .object({
    name: pgIdentifier.describe("Database name."),
    owner: pgIdentifier.default("postgres").describe("Owner role (postgres or one of cluster.users)."),
  })
  .strict();

const parameterValue = z.union([z.string(), z.number(), z.boolean()]);

// apt options that switch signature checking off are refused: a source is
// trusted only through a key (aptKeyrings).
const APT_INSECURE_OPTIONS = /\b(trusted|allow-insecure|allow-weak|allow-downgrade-to-insecure)=(yes|true|1)\b/i;
const aptSourceLine = z
  .string()
  .regex(
    /^deb (\[[^\]\n]*\] )?https?:\/\/[^\s]+ [^\s]+( [^\s]+)*$/,
    "must be one apt source line like 'deb [signed-by=/etc/apt/keyrings/pulumi-patroni-pgdg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main'",
  )
  .refine(
    (line) => !APT_INSECURE_OPTIONS.test(line),
    "must not disable signature checks (trusted=yes, allow-insecure=yes, allow-weak=yes); sign it with a key from cluster.aptKeyrings",
  );

export const clusterSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,40}$/, "must start with a letter and use a-z, 0-9, '-' (at most 41 characters)")
      .default("pg-cluster")
      .describe("Patroni scope; also the etcd namespace and the HAProxy backend prefix."),
    postgresVersion: z
      .number()
      .int()
      .min(13)
      .max(17)
      .default(DEFAULT_POSTGRES_VERSION)
      .describe(
        "PostgreSQL major version (17 on Debian 13; others from the PostgreSQL project's repository, see aptSources).",
      ),
    aptSources: z
      .array(aptSourceLine)
      .default([])
      .describe("Extra apt source lines, e.g. the PostgreSQL project's repository (signed-by one of aptKeyrings)."),
    aptKeyrings: z
      .record(
        z
          .string()
          .regex(
            /^[a-z0-9][a-z0-9-]{0,30}$/,
            "a keyring name is a-z, 0-9 and '-' (it becomes /etc/apt/keyrings/pulumi-patroni-NAME.asc)",
          ),
        z
          .string()
          .refine(
            (k) => /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n[\s\S]+\n-----END PGP PUBLIC KEY BLOCK-----\s*$/.test(k),
            "must be an ASCII-armored OpenPGP public key block",
          ),
      )
      .default({})
      .describe(
        "apt signing keys by name, written to /etc/apt/keyrings/pulumi-patroni-NAME.asc for aptSources' signed-by.",
      ),
    postgresPort: port.default(5432).describe("PostgreSQL port on each postgres host."),
    restApiPort: port.default(8008).describe("Patroni REST API port."),
    restartPolicy: z
      .enum(["rolling", "manual"])
      .default("rolling")
      .describe(
        "rolling: a parameter change that needs a restart restarts the members one at a time (replicas, then a switchover); manual: they are only reported (output pendingRestart).",
      ),
    dcs: dcsSchema.default({}).describe("Patroni dynamic configuration kept in etcd."),
    watchdog: z
      .object({
        mode: z
          .enum(["off", "automatic", "required"])
          .default("automatic")
          .describe(
            "Patroni's watchdog, which resets a leader whose Patroni stopped running its loop before its key expires (no two primaries): automatic uses /dev/watchdog where the host has one (softdog loaded where it has no hardware watchdog); required: a member without one never leads; off: none.",
          ),
        safetyMargin: positiveInt
          .default(5)
          .describe("Seconds between the watchdog firing and the leader key expiring (Patroni's safety_margin)."),
      })
      .strict()
      .default({})
      .describe("Patroni's watchdog (fencing a leader whose Patroni hangs)."),
    parameters: z
      .record(
        z.string().regex(/^[a-z_][a-z0-9_.]*$/, "a parameter name is lower-case letters, digits, '_' and '.'"),
        parameterValue,
      )
      .default({})
      .superRefine((params, ctx) => {
        for (const [name, value] of Object.entries(params)) {
          const problem = checkPostgresParameter(name, value);
          if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: problem });
        }
      })
      .describe("PostgreSQL parameters (added to the defaults; kept in the DCS)."),
    pgHba: z.array(hbaRuleSchema).default([]).describe("Extra pg_hba rules, placed after the cluster's own rules."),
    adminNetworks: z
      .array(ipv4Cidr)
      .default([])
      .describe(
        "Networks a DBA works from: besides the cluster's hosts, only they reach the superuser and PgBouncer's admin console.",
      ),
    users: z.array(userSchema).default([]).describe("Application roles created on the primary."),
    databases: z.array(databaseSchema).default([]).describe("Databases created on the primary."),
  })
  .strict();
export type ClusterSettings = z.infer<typeof clusterSchema>;

/** The stack configuration as this slice (and every role that reads `cluster`) sees it. */
export interface ClusterView {
  readonly cluster: ClusterSettings;
  readonly hosts: readonly CoreHost[];
}

/** Roles the cluster creates itself; an application user may not take these names. */
export const SUPERUSER = "postgres";
export const REPLICATION_USER = "replicator";
export const REWIND_USER = "rewind_user";
/**
 * The exporters' login (postgres-exporter, pgbouncer-exporter): peer
 * authentication over the unix socket as the OS user Debian's exporter
 * packages create, with pg_monitor; no password exists for it.
 */
export const MONITORING_USER = "prometheus";
export const RESERVED_ROLES = [SUPERUSER, REPLICATION_USER, REWIND_USER, PGBOUNCER_AUTH_USER, MONITORING_USER];
/** The REST API's user for the calls that change something (switchover, restart, PATCH /config). */
export const REST_API_USER = "patroni";
/** The file Patroni (Debian's unit) reads; every other path to it is a link. */
export const PATRONI_CONFIG_PATH = "/etc/patroni/config.yml";
/** The watchdog Patroni arms on the leader (watchdog.sh loads softdog when there is none). */
export const WATCHDOG_DEVICE = "/dev/watchdog";
/** Where in etcd Patroni keeps its clusters' keys (/service/<scope>/...). */
export const PATRONI_NAMESPACE = "/service/";
/** Where PostgreSQL's unix socket lives; PgBouncer and the local steps connect there (peer authentication). */
export const POSTGRES_SOCKET_DIR = "/var/run/postgresql";

export const POSTGRES_ROLE = "postgres";

/** Patroni after the network and etcd (when local); never killed with its postgres children. */
export const PATRONI_DROP_IN: UnitSections = {
  Unit: { After: ["network-online.target", "etcd.service"], Wants: "network-online.target" },
  Service: { KillMode: "process", Restart: "on-failure", RestartSec: "5s", TimeoutStopSec: "60s" },
};

/** How the REST API is spoken to. */
export const restApiScheme = (c: TlsView): "http" | "https" => (c.tls.enabled ? "https" : "http");

/** A member's REST API base URL (https://10.0.0.11:8008). */
export const restApiUrl = (c: { readonly cluster: ClusterSettings } & TlsView, h: { readonly address: string }) =>
  `${restApiScheme(c)}://${h.address}:${c.cluster.restApiPort}`;
const RESERVED_DATABASES = ["postgres", "template0", "template1", "pgbouncer"];

function clusterProblems(c: ClusterView): string[] {
  const problems: string[] = [];
  const postgres = c.hosts.filter((h) => h.roles.includes(POSTGRES_ROLE));
  c.hosts.forEach((h, i) => {
    if ((h.tags.nofailover || h.tags.noloadbalance) && !h.roles.includes(POSTGRES_ROLE)) {
      problems.push(`hosts[${i}].tags: Patroni tags only apply to hosts with the postgres role`);
    }
  });
  if (postgres.length === 0)
    problems.push(`hosts: no host has the postgres role; list at least one (three for high availability)`);
  if (postgres.length > 0 && postgres.every((h) => h.tags.nofailover)) {
    problems.push(
      `hosts: every postgres host has tags.nofailover, so no member could ever become primary; clear it on at least one`,
    );
  }
  const d = c.cluster.dcs;
  if (d.loopWait + 2 * d.retryTimeout > d.ttl) {
    problems.push(
      `cluster.dcs: loopWait + 2*retryTimeout must not exceed ttl (Patroni would lose the leader key between loops): ${d.loopWait} + 2*${d.retryTimeout} = ${d.loopWait + 2 * d.retryTimeout} > ttl ${d.ttl}; raise ttl or lower loopWait/retryTimeout`,
    );
  }
  if (c.cluster.watchdog.mode !== "off" && d.ttl - c.cluster.watchdog.safetyMargin <= d.loopWait)
    problems.push(
      `cluster.watchdog.safetyMargin: the watchdog fires ttl - safetyMargin = ${d.ttl - c.cluster.watchdog.safetyMargin} s after Patroni's last loop, which must be more than loopWait (${d.loopWait} s) or a healthy leader is reset between two loops; lower safetyMargin or raise cluster.dcs.ttl`,
    );
  if (d.synchronousModeStrict && !d.synchronousMode)
    problems.push(`cluster.dcs.synchronousModeStrict: needs synchronousMode: true`);
  c.cluster.aptSources.forEach((line, i) => {
    for (const [, keyring] of line.matchAll(/signed-by=\/etc\/apt\/keyrings\/pulumi-patroni-([a-z0-9-]+)\.asc/g)) {
      if (!(keyring in c.cluster.aptKeyrings)) {
        problems.push(
          `cluster.aptSources[${i}]: signed-by names keyring ${keyring}, which cluster.aptKeyrings does not define; add cluster.aptKeyrings.${keyring} (the ASCII-armored key)`,
        );
      }
    }
  });
  const duplicates = (names: string[], field: string) =>
    names.forEach((n, i) => {
      const j = names.indexOf(n);
      if (j !== i) problems.push(`${field}[${i}].name: ${n} is already ${field}[${j}]; every name once`);
    });
  duplicates(
    c.cluster.users.map((u) => u.name),
    "cluster.users",
  );
  duplicates(
    c.cluster.databases.map((d) => d.name),
    "cluster.databases",
  );
  const roleNames = new Set([SUPERUSER, ...c.cluster.users.map((u) => u.name)]);
  c.cluster.users.forEach((u, i) => {
    if (RESERVED_ROLES.includes(u.name))
      problems.push(`cluster.users[${i}].name: ${u.name} is a role the cluster creates itself; pick another name`);
  });
  c.cluster.databases.forEach((db, i) => {
    if (!roleNames.has(db.owner))
      problems.push(`cluster.databases[${i}].owner: ${db.owner} is neither postgres nor one of cluster.users`);
    if (RESERVED_DATABASES.includes(db.name)) problems.push(`cluster.databases[${i}].name: ${db.name} is reserved`);
  });
  return problems;
}

const FIELD_CLASSES: FieldClasses = {
  "cluster.name": identity(
    "the Patroni scope, the etcd namespace, data directory and token derive from it; " + NEW_STACK,
  ),
  "cluster.postgresVersion": identity(
    "the data and binary directories derive from it and a major upgrade needs pg_upgrade; " + NEW_STACK,
  ),
  "cluster.aptSources": live("the apt sources are rewritten; installed packages are not upgraded"),
  "cluster.aptKeyrings": live("the keyrings are rewritten"),
  "cluster.postgresPort": identity("members, PgBouncer and HAProxy reach PostgreSQL there; " + NEW_STACK),
  "cluster.restApiPort": identity("members and HAProxy's health checks reach Patroni there; " + NEW_STACK),
  "cluster.restartPolicy": live("only decides what happens to the next restart-needing change"),
  "cluster.watchdog.mode": live(
    "patroni.yml, reloaded on every member (Patroni arms or disarms the watchdog on its next loop); softdog loaded and /dev/watchdog given to postgres first where the host can",
  ),
  "cluster.watchdog.safetyMargin": live("patroni.yml, reloaded on every member"),
  "cluster.dcs.ttl": live("dynamic configuration (DCS), picked up by every member's next loop"),
  "cluster.dcs.loopWait": live("dynamic configuration (DCS)"),
  "cluster.dcs.retryTimeout": live("dynamic configuration (DCS)"),
  "cluster.dcs.maximumLagOnFailover": live("dynamic configuration (DCS)"),
  "cluster.dcs.synchronousMode": live("dynamic configuration (DCS); Patroni picks the synchronous standby"),
  "cluster.dcs.synchronousModeStrict": live("dynamic configuration (DCS)"),
  "cluster.dcs.failsafeMode": live("dynamic configuration (DCS)"),
  "cluster.dcs.usePgRewind": live("dynamic configuration (DCS)"),
  "cluster.dcs.useSlots": live("dynamic configuration (DCS)"),
  "cluster.parameters": rolling(
    "dynamic configuration (DCS): reloaded; a parameter that needs a restart restarts the replicas one at a time, then a switchover " +
      "(a decrease of max_connections and its kin restarts the primary first); a removed parameter is removed from the DCS",
  ),
  "cluster.pgHba": live("patroni.yml, reloaded on every member"),
  "cluster.adminNetworks": live("pgbouncer_hba.conf and haproxy.cfg, reloaded (open sessions stay)"),
  "cluster.users": live("roles created or altered on the primary; a removed user is kept (its data may depend on it)"),
  "cluster.databases": live("databases created on the primary; a removed database is kept (never dropped)"),
  superuserPassword: live(
    "rotated: the role on the primary first, then patroni.yml, PgBouncer's userlist and the client's .pgpass",
  ),
  replicationPassword: live(
    "rotated: the role on the primary first, then patroni.yml on every member (replication reconnects)",
  ),
  rewindPassword: live("rotated: the role on the primary first, then patroni.yml"),
  restApiPassword: live("patroni.yml, reloaded on every member"),
};

export const postgresSlice = {
  role: POSTGRES_ROLE,
  summary: "postgres (Patroni + PostgreSQL)",
  settings: { key: "cluster", schema: clusterSchema, description: "The PostgreSQL cluster." },
  ports: (c) => [
    { port: c.cluster.postgresPort, field: "cluster.postgresPort" },
    { port: c.cluster.restApiPort, field: "cluster.restApiPort" },
  ],
  problems: clusterProblems,
  packages: (c) => [
    `postgresql-${c.cluster.postgresVersion}`,
    `postgresql-client-${c.cluster.postgresVersion}`,
    "patroni",
    "python3-etcd",
    "python3-psycopg2",
    "etcd-client",
  ],
  fieldClasses: FIELD_CLASSES,
  facts: (c) => ({
    CLUSTER: c.cluster.name,
    DCS_NAMESPACE: PATRONI_NAMESPACE,
    PATRONI_CONFIG: PATRONI_CONFIG_PATH,
    SUPERUSER,
    PG_SOCKET_DIR: POSTGRES_SOCKET_DIR,
    PG_PORT: c.cluster.postgresPort,
    REST_PORT: c.cluster.restApiPort,
    REST_SCHEME: restApiScheme(c),
  }),
  secrets: [
    { key: "superuserPassword", field: "superuser", generatedName: "superuser-password" },
    { key: "replicationPassword", field: "replication", generatedName: "replication-password" },
    { key: "rewindPassword", field: "rewind", generatedName: "rewind-password" },
    { key: "restApiPassword", field: "restApi", generatedName: "rest-api-password" },
  ],
} as const satisfies RoleSlice<ClusterView & TlsView>;
