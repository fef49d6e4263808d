// Whole-stack validation, generic over the role slices: the zod schema for
// shapes, then the rules that span fields (names and addresses once, ports
// per host, each slice's own rules). Runs before any resource exists, so bad
// input never changes a host. src/stack/schema.ts binds it to the slices.
import { z } from "zod";
import { SSH_PRIVATE_KEY } from "./core";
import { hasControlCharacter } from "./primitives";
import { PortUse, SecretSpec } from "./roleSlice";

export const PROJECT = "pulumi-patroni";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
    "",
  );
}

export function formatZodIssue(issue: z.ZodIssue): string {
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

interface HostView {
  readonly name: string;
  readonly address: string;
  readonly sshPort?: number;
  readonly roles: readonly string[];
}

/** Every host once by name and by address, no role listed twice, no port opened twice on a host. */
export function hostProblems(
  hosts: readonly HostView[],
  sshPort: number,
  portsOf: (role: string) => PortUse[],
  hostPortsOf: (roles: readonly string[]) => PortUse[] = () => [],
): string[] {
  const problems: string[] = [];
  const seen = (key: (h: HostView) => string, what: string) => {
    const first = new Map<string, number>();
    hosts.forEach((h, i) => {
      const k = key(h);
      const j = first.get(k);
      if (j !== undefined)
        problems.push(
          `hosts[${i}].${what}: ${JSON.stringify(k)} is already used by hosts[${j}]; every host needs its own ${what}`,
        );
      else first.set(k, i);
    });
  };
  seen((h) => h.name, "name");
  seen((h) => h.address, "address");
  hosts.forEach((h, i) => {
    const dup = h.roles.find((r, k) => h.roles.indexOf(r) !== k);
    if (dup) problems.push(`hosts[${i}].roles: ${dup} is listed twice`);
    const used = new Map<number, string>([
      h.sshPort === undefined ? [sshPort, "ssh.port"] : [h.sshPort, `hosts[${i}].sshPort`],
    ]);
    for (const { port, field } of [...[...new Set(h.roles)].flatMap(portsOf), ...hostPortsOf(h.roles)]) {
      const other = used.get(port);
      if (other)
        problems.push(
          `hosts[${i}] (${h.name}): port ${port} is used twice, by ${other} and ${field}; give them different ports`,
        );
      else used.set(port, field);
    }
  });
  return problems;
}

/**
 * Validates the raw stack configuration. `values` maps short keys (without
 * the project prefix) to parsed values; `isSecret` says whether a key was set
 * with --secret. Throws ConfigError listing every problem at once.
 */
export function parseWith<T>(
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  secretKeys: readonly string[],
  crossFieldProblems: (config: T) => string[],
  values: Record<string, unknown>,
  isSecret: (key: string) => boolean,
): T {
  const problems: string[] = [];
  for (const key of secretKeys) {
    if (values[key] !== undefined && !isSecret(key)) {
      problems.push(`${key}: is stored in clear text; it must be a secret: pulumi config set --secret ${key} <value>`);
    }
  }
  const shaped = Object.fromEntries(Object.entries(values).filter(([k]) => !secretKeys.includes(k)));
  const parsed = schema.safeParse(shaped);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map(formatZodIssue));
    throw new ConfigError(problems);
  }
  problems.push(...crossFieldProblems(parsed.data));
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * What is wrong with a configured secret's value, for the file it goes into
 * (checked before anything runs; the value itself is never echoed).
 */
export function secretProblems(key: string, value: string, spec?: SecretSpec): string[] {
  if (key === SSH_PRIVATE_KEY)
    return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)
      ? []
      : [`${key}: is not a private key in PEM/OpenSSH format`];
  const problems: string[] = [];
  if (value.length < 12 && !spec?.external)
    problems.push(`${key}: is shorter than 12 characters; use a long random password`);
  if (hasControlCharacter(value))
    problems.push(`${key}: contains a line break or control character, which breaks the files it goes into`);
  problems.push(...(spec?.problems?.(value) ?? []));
  return problems;
}
