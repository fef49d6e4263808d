// The sections every stack has, whatever its roles: where the hosts come
// from, the hosts themselves, how the controller reaches them, and the
// generations of generated passwords. The roles' sections come from their
// slices (src/roles/); src/stack/schema.ts puts them together.
import { z } from "zod";
import { FieldClasses, identity, live, membership, NEW_STACK } from "./fieldClasses";
import { hostname, ipv4, port } from "./primitives";

export const HOST_SOURCES = ["existing", "local-machines"] as const;

/** One host of `hosts`; `roles` are the names of the registered role slices. */
export function hostSchemaOf<R extends string>(roles: readonly [R, ...R[]], rolesDescription: string) {
  return z
    .object({
      name: hostname.describe("Hostname; also the Patroni member name and the etcd member name."),
      address: ipv4.describe(
        "Address the other hosts reach this host at (and the controller, unless sshAddress is set).",
      ),
      sshAddress: ipv4
        .optional()
        .describe("Address the controller reaches this host at over SSH, when it differs from address."),
      sshPort: port
        .optional()
        .describe("SSH port of this host, when it differs from ssh.port (that host's sshd listens elsewhere)."),
      adoptExisting: z
        .boolean()
        .default(false)
        .describe(
          "Take over a host that already runs a PostgreSQL cluster or etcd this stack did not create (they are stopped, never deleted).",
        ),
      roles: z.array(z.enum(roles)).min(1, "a host needs at least one role").describe(rolesDescription),
      tags: z
        .object({
          nofailover: z.boolean().default(false).describe("Patroni tag: never promote this node."),
          noloadbalance: z
            .boolean()
            .default(false)
            .describe("Patroni tag: keep this replica out of the replicas port."),
        })
        .strict()
        .default({})
        .describe("Patroni tags of a postgres host."),
    })
    .strict();
}

export const sshSchema = z
  .object({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix user name")
      .default("root")
      .describe("SSH user: root, or a user with passwordless sudo."),
    port: port.default(22).describe("SSH port of every host without its own hosts[].sshPort."),
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

/** The core sections' zod shape, in the order the configuration table shows them. */
export function coreShapeOf<R extends string>(roles: readonly [R, ...R[]], rolesDescription: string) {
  return {
    hostSource: z
      .enum(HOST_SOURCES)
      .default("existing")
      .describe(
        "existing: hosts are servers you already have; local-machines: the stack creates them with systemd-nspawn.",
      ),
    hosts: z
      .array(hostSchemaOf(roles, rolesDescription))
      .min(1, "list at least one host")
      .describe("Hosts and their roles."),
    ssh: sshSchema.default({}).describe("How the controller reaches the hosts."),
    passwordRotation: z
      .record(z.string(), z.number().int().min(0))
      .default({})
      .describe(
        "Generation of each generated password (superuserPassword, ..., or user:NAME for cluster.users); raising one generates a new password and rotates it everywhere.",
      ),
  };
}

/** The port the controller reaches `host` at: its own hosts[].sshPort, else ssh.port. */
export const sshPortOf = (ssh: { readonly port: number }, host: { readonly sshPort?: number }): number =>
  host.sshPort ?? ssh.port;

/**
 * How the controller reaches existing hosts, as the stack exports it (output
 * `ssh`) for `npm run ssh` and `npm run ctl`: the user and port, and only the
 * hosts reached on another address (hosts[].sshAddress) or port
 * (hosts[].sshPort) than those.
 */
export function sshAccessOf(c: {
  readonly ssh: { readonly user: string; readonly port: number };
  readonly hosts: readonly { readonly name: string; readonly sshAddress?: string; readonly sshPort?: number }[];
}): { user: string; port: number; addresses: Record<string, string>; ports: Record<string, number> } {
  return {
    user: c.ssh.user,
    port: c.ssh.port,
    addresses: Object.fromEntries(c.hosts.filter((h) => h.sshAddress).map((h) => [h.name, h.sshAddress!])),
    ports: Object.fromEntries(c.hosts.filter((h) => h.sshPort !== undefined).map((h) => [h.name, h.sshPort!])),
  };
}

/** The configuration key of the SSH private key (the only core secret). */
export const SSH_PRIVATE_KEY = "sshPrivateKey";

export const CORE_FIELD_CLASSES: FieldClasses = {
  hostSource: identity("where the hosts come from is fixed for a stack's life; " + NEW_STACK),
  hosts: membership("adding or removing a host adds or removes its members (PostgreSQL replica, etcd member)"),
  "hosts[].name": membership("a rename is a removal of the old host and an addition of the new one"),
  "hosts[].address": identity(
    "the cluster's members find each other at it; remove the host and add it back under its new address",
  ),
  "hosts[].sshAddress": live("only how the controller connects; nothing on the host runs again"),
  "hosts[].sshPort": live("only how the controller connects; nothing on the host runs again"),
  "hosts[].roles": membership("a role added or removed adds or removes that member on the host"),
  "hosts[].tags.nofailover": live("patroni.yml, reloaded"),
  "hosts[].tags.noloadbalance": live("patroni.yml, reloaded; HAProxy's replica backend follows"),
  "hosts[].adoptExisting": live("only read before the host's first deploy"),
  "ssh.user": live("only how the controller connects; nothing on the hosts runs again"),
  "ssh.port": live("only how the controller connects; nothing on the hosts runs again"),
  "ssh.hostKeys": live(
    "the key the controller expects; a different key fails every step until the host is trusted again",
  ),
  passwordRotation: live("a changed number generates a new password and rotates it everywhere it is used"),
  [SSH_PRIVATE_KEY]: live("only how the controller connects"),
};

/** A host as every role may read it (its roles as plain names). */
export type CoreHost = z.infer<ReturnType<typeof hostSchemaOf<string>>>;
