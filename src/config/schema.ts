// The stack configuration, validated once and up front (STYLE.md rule 5).
// Every field has a description and a default; the README's configuration
// table is generated from it by `npm run config-docs`. The settings of the
// etcd, PgBouncer and HAProxy roles live with their role (src/roles/).
import { z } from "zod";
import { DEFAULT_POSTGRES_VERSION } from "../platform/platform";
import { localMachinesSettingsSchema } from "../local/localStand";
import { etcdSettingsSchema } from "../roles/etcd/etcdMember";
import { haproxySettingsSchema } from "../roles/haproxy/haproxyNode";
import { pgbouncerSettingsSchema } from "../roles/pgbouncer/pgbouncerNode";
import { checkPostgresParameter } from "./postgresParameters";
import { hostname, ipv4, ipv4Cidr, port, positiveInt } from "./primitives";

export const ROLES = ["etcd", "postgres", "pgbouncer", "haproxy", "client"] as const;
export type Role = (typeof ROLES)[number];

export const hostSchema = z
  .object({
    name: hostname.describe("Hostname; also the Patroni member name and the etcd member name."),
    address: ipv4.describe("Address the other hosts reach this host at (and the controller, unless sshAddress is set)."),
    sshAddress: ipv4.optional().describe("Address the controller reaches this host at over SSH, when it differs from address."),
    adoptExisting: z
      .boolean()
      .default(false)
      .describe(
        "Take over a host that already runs a PostgreSQL cluster or etcd this stack did not create (they are stopped, never deleted).",
      ),
    roles: z
      .array(z.enum(ROLES))
      .min(1, "a host needs at least one role")
      .describe("What runs on the host: etcd, postgres (Patroni + PostgreSQL), pgbouncer, haproxy, client."),
    tags: z
      .object({
        nofailover: z.boolean().default(false).describe("Patroni tag: never promote this node."),
        noloadbalance: z.boolean().default(false).describe("Patroni tag: keep this replica out of the replicas port."),
      })
      .strict()
      .default({})
      .describe("Patroni tags of a postgres host."),
  })
  .strict();
export type HostConfig = z.infer<typeof hostSchema>;

export const dcsSchema = z
  .object({
    ttl: positiveInt.default(30).describe("Leader key TTL in seconds."),
    loopWait: positiveInt.default(10).describe("Seconds between Patroni HA loops."),
    retryTimeout: positiveInt.default(10).describe("Seconds before a DCS or PostgreSQL operation counts as failed."),
    maximumLagOnFailover: z.number().int().min(0).default(1048576).describe("Bytes a replica may lag and still be promoted."),
    synchronousMode: z.boolean().default(false).describe("Patroni synchronous_mode: acknowledged commits survive failover."),
    synchronousModeStrict: z.boolean().default(false).describe("Refuse writes when no synchronous replica is available."),
    failsafeMode: z.boolean().default(true).describe("Keep the primary running while the DCS is down if all members answer."),
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
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["method"], message: `cert needs type hostssl, not ${rule.type}` });
    }
  });
export type HbaRule = z.infer<typeof hbaRuleSchema>;

const pgIdentifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL identifier: a-z, 0-9, _ (not starting with a digit)");

export const userSchema = z
  .object({
    name: pgIdentifier.describe("Role name; its password is generated and kept as a Pulumi secret."),
    options: z
      .array(z.enum(["CREATEDB", "CREATEROLE", "LOGIN", "REPLICATION", "SUPERUSER", "NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE"]))
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
      .describe("PostgreSQL major version (17 on Debian 13; others from the PostgreSQL project's repository, see aptSources)."),
    aptSources: z
      .array(aptSourceLine)
      .default([])
      .describe("Extra apt source lines, e.g. the PostgreSQL project's repository (signed-by one of aptKeyrings)."),
    aptKeyrings: z
      .record(
        z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, "a keyring name is a-z, 0-9 and '-' (it becomes /etc/apt/keyrings/pulumi-patroni-NAME.asc)"),
        z
          .string()
          .refine(
            (k) => /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n[\s\S]+\n-----END PGP PUBLIC KEY BLOCK-----\s*$/.test(k),
            "must be an ASCII-armored OpenPGP public key block",
          ),
      )
      .default({})
      .describe("apt signing keys by name, written to /etc/apt/keyrings/pulumi-patroni-NAME.asc for aptSources' signed-by."),
    postgresPort: port.default(5432).describe("PostgreSQL port on each postgres host."),
    restApiPort: port.default(8008).describe("Patroni REST API port."),
    restartPolicy: z
      .enum(["rolling", "manual"])
      .default("rolling")
      .describe(
        "rolling: a parameter change that needs a restart restarts the members one at a time (replicas, then a switchover); manual: they are only reported (output pendingRestart).",
      ),
    dcs: dcsSchema.default({}).describe("Patroni dynamic configuration kept in etcd."),
    parameters: z
      .record(z.string().regex(/^[a-z_][a-z0-9_.]*$/, "a parameter name is lower-case letters, digits, '_' and '.'"), parameterValue)
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
      .describe("Networks a DBA works from: besides the cluster's hosts, only they reach the superuser and PgBouncer's admin console."),
    users: z.array(userSchema).default([]).describe("Application roles created on the primary."),
    databases: z.array(databaseSchema).default([]).describe("Databases created on the primary."),
  })
  .strict();
export type ClusterConfig = z.infer<typeof clusterSchema>;

export const sshSchema = z
  .object({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix user name")
      .default("root")
      .describe("SSH user: root, or a user with passwordless sudo."),
    port: port.default(22).describe("SSH port."),
    hostKeys: z
      .record(
        hostname,
        z
          .string()
          .regex(
            /^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/=]+$/,
            "must be an OpenSSH public host key line like 'ssh-ed25519 AAAA...'",
          ),
      )
      .default({})
      .describe(
        "Pinned host keys by host name. A host without one is trusted on first use: its key is recorded in the state, and a different key later fails every step until it is pinned here.",
      ),
  })
  .strict();

export const stackConfigSchema = z
  .object({
    hostSource: z
      .enum(["existing", "local-machines"])
      .default("existing")
      .describe("existing: hosts are servers you already have; local-machines: the stack creates them with systemd-nspawn."),
    localMachines: localMachinesSettingsSchema.default({}).describe("The local stand (hostSource local-machines only)."),
    cluster: clusterSchema.default({}).describe("The PostgreSQL cluster."),
    hosts: z.array(hostSchema).min(1, "list at least one host").describe("Hosts and their roles."),
    ssh: sshSchema.default({}).describe("How the controller reaches the hosts."),
    passwordRotation: z
      .record(z.string(), z.number().int().min(0))
      .default({})
      .describe(
        "Generation of each generated password (superuserPassword, ..., or user:NAME for cluster.users); raising one generates a new password and rotates it everywhere.",
      ),
    etcd: etcdSettingsSchema.default({}).describe("etcd (the DCS)."),
    pgbouncer: pgbouncerSettingsSchema.default({}).describe("PgBouncer in front of each PostgreSQL."),
    haproxy: haproxySettingsSchema.default({}).describe("HAProxy routing clients to the primary and replicas."),
  })
  .strict();
export type StackConfig = z.infer<typeof stackConfigSchema>;
