// Whole-stack validation: the zod schema for shapes, then the rules that span
// fields (quorum, timing, ports per host). Runs before any resource exists,
// so bad input never changes a host.
import { z } from "zod";
import { localMachineProblems } from "../local/localStand";
import { etcdPorts, etcdProblems } from "../roles/etcd/etcdMember";
import { haproxyPorts, haproxyProblems } from "../roles/haproxy/haproxyNode";
import { pgbouncerPorts, pgbouncerProblems } from "../roles/pgbouncer/pgbouncerNode";
import { hasControlCharacter } from "./postgresParameters";
import { Role, StackConfig, stackConfigSchema } from "./schema";
import { deriveTopology } from "./topology";

export const PROJECT = "pulumi-patroni";

/** Config keys that may only hold Pulumi secrets (`pulumi config set --secret`). */
export const SECRET_KEYS = [
  "sshPrivateKey",
  "superuserPassword",
  "replicationPassword",
  "rewindPassword",
  "restApiPassword",
  "pgbouncerPassword",
  "haproxyStatsPassword",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
}

function formatZodIssue(issue: z.ZodIssue): string {
  const where = formatPath(issue.path) || "(root)";
  switch (issue.code) {
    case z.ZodIssueCode.invalid_enum_value:
      return `${where}: ${JSON.stringify(issue.received)} is not valid; expected one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}`;
    case z.ZodIssueCode.unrecognized_keys:
      return `${where}: unknown field(s) ${issue.keys.join(", ")}`;
    case z.ZodIssueCode.invalid_type:
      return issue.received === "undefined"
        ? `${where}: is required (${issue.expected})`
        : `${where}: expected ${issue.expected}, got ${issue.received}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** Ports each role opens on its host, with the config field that sets it. */
function portsOf(role: Role, c: StackConfig): { port: number; field: string }[] {
  switch (role) {
    case "etcd":
      return etcdPorts(c);
    case "postgres":
      return [
        { port: c.cluster.postgresPort, field: "cluster.postgresPort" },
        { port: c.cluster.restApiPort, field: "cluster.restApiPort" },
      ];
    case "pgbouncer":
      return pgbouncerPorts(c);
    case "haproxy":
      return haproxyPorts(c);
    case "client":
      return [];
  }
}

function crossFieldProblems(c: StackConfig, stack: string | undefined): string[] {
  const problems: string[] = [];
  const withRole = (role: Role) => c.hosts.filter((h) => h.roles.includes(role));

  const seen = (key: (h: StackConfig["hosts"][number]) => string, what: string) => {
    const first = new Map<string, number>();
    c.hosts.forEach((h, i) => {
      const k = key(h);
      const j = first.get(k);
      if (j !== undefined)
        problems.push(`hosts[${i}].${what}: ${JSON.stringify(k)} is already used by hosts[${j}]; every host needs its own ${what}`);
      else first.set(k, i);
    });
  };
  seen((h) => h.name, "name");
  seen((h) => h.address, "address");

  c.hosts.forEach((h, i) => {
    const dup = h.roles.find((r, k) => h.roles.indexOf(r) !== k);
    if (dup) problems.push(`hosts[${i}].roles: ${dup} is listed twice`);
    if ((h.tags.nofailover || h.tags.noloadbalance) && !h.roles.includes("postgres")) {
      problems.push(`hosts[${i}].tags: Patroni tags only apply to hosts with the postgres role`);
    }
    const used = new Map<number, string>([[c.ssh.port, "ssh.port"]]);
    for (const role of new Set(h.roles)) {
      for (const { port, field } of portsOf(role, c)) {
        const other = used.get(port);
        if (other)
          problems.push(`hosts[${i}] (${h.name}): port ${port} is used twice, by ${other} and ${field}; give them different ports`);
        else used.set(port, field);
      }
    }
  });

  const postgres = withRole("postgres");
  if (postgres.length === 0) problems.push(`hosts: no host has the postgres role; list at least one (three for high availability)`);
  if (postgres.length > 0 && postgres.every((h) => h.tags.nofailover)) {
    problems.push(`hosts: every postgres host has tags.nofailover, so no member could ever become primary; clear it on at least one`);
  }
  const topology = deriveTopology(c);
  problems.push(...etcdProblems(c, topology), ...haproxyProblems(c, topology), ...pgbouncerProblems(c));

  const d = c.cluster.dcs;
  if (d.loopWait + 2 * d.retryTimeout > d.ttl) {
    problems.push(
      `cluster.dcs: loopWait + 2*retryTimeout must not exceed ttl (Patroni would lose the leader key between loops): ${d.loopWait} + 2*${d.retryTimeout} = ${d.loopWait + 2 * d.retryTimeout} > ttl ${d.ttl}; raise ttl or lower loopWait/retryTimeout`,
    );
  }
  if (d.synchronousModeStrict && !d.synchronousMode) problems.push(`cluster.dcs.synchronousModeStrict: needs synchronousMode: true`);
  c.cluster.aptSources.forEach((line, i) => {
    for (const [, keyring] of line.matchAll(/signed-by=\/etc\/apt\/keyrings\/pulumi-patroni-([a-z0-9-]+)\.asc/g)) {
      if (!(keyring in c.cluster.aptKeyrings)) {
        problems.push(
          `cluster.aptSources[${i}]: signed-by names keyring ${keyring}, which cluster.aptKeyrings does not define; add cluster.aptKeyrings.${keyring} (the ASCII-armored key)`,
        );
      }
    }
  });
  const rotatable = new Set([...SECRET_KEYS.filter((k) => k !== "sshPrivateKey"), ...c.cluster.users.map((u) => `user:${u.name}`)]);
  for (const key of Object.keys(c.passwordRotation)) {
    if (!rotatable.has(key))
      problems.push(`passwordRotation.${key}: not a generated password; expected one of ${[...rotatable].join(", ")}`);
  }
  const duplicates = (names: string[], field: string) =>
    names.forEach((n, i) => {
      const j = names.indexOf(n);
      if (j !== i) problems.push(`${field}[${i}].name: ${n} is already cluster.${field.split(".")[1]}[${j}]; every name once`);
    });
  duplicates(
    c.cluster.users.map((u) => u.name),
    "cluster.users",
  );
  duplicates(
    c.cluster.databases.map((d) => d.name),
    "cluster.databases",
  );
  const roleNames = new Set(["postgres", ...c.cluster.users.map((u) => u.name)]);
  c.cluster.users.forEach((u, i) => {
    if (["postgres", "replicator", "rewind_user", "pgbouncer"].includes(u.name)) {
      problems.push(`cluster.users[${i}].name: ${u.name} is a role the cluster creates itself; pick another name`);
    }
  });
  c.cluster.databases.forEach((db, i) => {
    if (!roleNames.has(db.owner)) problems.push(`cluster.databases[${i}].owner: ${db.owner} is neither postgres nor one of cluster.users`);
    if (["postgres", "template0", "template1", "pgbouncer"].includes(db.name))
      problems.push(`cluster.databases[${i}].name: ${db.name} is reserved`);
  });
  if (c.hostSource === "local-machines") problems.push(...localMachineProblems(c, stack));
  return problems;
}

/**
 * Validates the raw stack configuration. `values` maps short keys (without
 * the project prefix) to parsed values; `isSecret` says whether a key was set
 * with --secret; `stack` is the stack's name (a local stand is named after
 * it). Throws ConfigError listing every problem at once.
 */
export function parseStackConfig(values: Record<string, unknown>, isSecret: (key: string) => boolean, stack?: string): StackConfig {
  const problems: string[] = [];
  for (const key of SECRET_KEYS) {
    if (values[key] !== undefined && !isSecret(key)) {
      problems.push(`${key}: is stored in clear text; it must be a secret: pulumi config set --secret ${key} <value>`);
    }
  }
  const shaped = Object.fromEntries(Object.entries(values).filter(([k]) => !(SECRET_KEYS as readonly string[]).includes(k)));
  const parsed = stackConfigSchema.safeParse(shaped);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map(formatZodIssue));
    throw new ConfigError(problems);
  }
  problems.push(...crossFieldProblems(parsed.data, stack));
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * What is wrong with a configured secret's value, for the file it goes into
 * (checked before anything runs; the value itself is never echoed).
 */
export function secretProblems(key: SecretKey, value: string): string[] {
  if (key === "sshPrivateKey")
    return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value) ? [] : [`${key}: is not a private key in PEM/OpenSSH format`];
  const problems: string[] = [];
  if (value.length < 12) problems.push(`${key}: is shorter than 12 characters; use a long random password`);
  if (hasControlCharacter(value)) problems.push(`${key}: contains a line break or control character, which breaks the files it goes into`);
  // haproxy.cfg: `stats auth admin:PASSWORD` ends at a space and `#` starts a comment.
  if (key === "haproxyStatsPassword" && /[\s#"'\\]/.test(value)) {
    problems.push(
      `${key}: contains a space, #, quote or backslash, which haproxy.cfg would cut or misread; use letters, digits and -_.+=@%`,
    );
  }
  return problems;
}
