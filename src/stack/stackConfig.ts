// The stack configuration, put together from the core sections
// (src/config/core.ts), the local machines' section and every role slice's
// section (src/roles/index.ts); and everything that iterates over the
// slices: validation, field classes, secrets, packages. Pure: validation
// loads no Pulumi and no component. Validated once and up front; the
// README's configuration table is generated from the schema.
import { z } from "zod";
import { CORE_FIELD_CLASSES, coreShapeOf, SSH_PRIVATE_KEY } from "../config/core";
import { FieldClasses } from "../config/fieldClasses";
import { PortUse, RoleSlice, SecretSpec } from "../config/roleSlice";
import { deriveTopology, Topology } from "../config/topology";
import { hostProblems, parseWith, secretProblems } from "../config/validate";
import {
  controllerAddress,
  LOCAL_MACHINES_FIELD_CLASSES,
  localMachineProblems,
  localMachinesSettingsSchema,
} from "../local/settings";
import { ROLE_SLICES } from "../roles";
import { archives } from "../roles/backup/slice";
import { TLS_CA_KEY, TLS_FIELD_CLASSES, TLS_KEY_GROUP, tlsProblems, tlsSettingsSchema } from "../tls/settings";

type Slice = (typeof ROLE_SLICES)[number];
export type RoleName = Slice["role"];
const ROLE_NAMES = ROLE_SLICES.map((s) => s.role) as [RoleName, ...RoleName[]];

type SectionSlice = Extract<Slice, { settings: unknown }>;
type SectionShape = { [S in SectionSlice as S["settings"]["key"]]: z.ZodDefault<S["settings"]["schema"]> };
const sections = Object.fromEntries(
  ROLE_SLICES.flatMap((s) =>
    "settings" in s
      ? [[s.settings.key, (s.settings.schema as z.ZodTypeAny).default({}).describe(s.settings.description)]]
      : [],
  ),
) as SectionShape;
/** The sections a stack may leave out (a slice's `sections`): absent means undefined. */
type OptionalSection = Extract<Slice, { sections: unknown }>["sections"][number];
type OptionalShape = { [S in OptionalSection as S["key"]]: z.ZodOptional<S["schema"]> };
const optionalSections = Object.fromEntries(
  ROLE_SLICES.flatMap((s) =>
    "sections" in s
      ? s.sections.map((x) => [x.key, (x.schema as z.ZodTypeAny).optional().describe(x.description)])
      : [],
  ),
) as OptionalShape;

export const stackConfigSchema = z
  .object({
    ...coreShapeOf(ROLE_NAMES, `What runs on the host: ${ROLE_SLICES.map((s) => s.summary).join(", ")}.`),
    localMachines: localMachinesSettingsSchema
      .default({})
      .describe("The local stand (hostSource local-machines only)."),
    ...sections,
    tls: tlsSettingsSchema.default({}).describe("TLS on every hop, the cluster's CA and the hosts' certificates."),
    ...optionalSections,
  })
  .strict();
export type StackConfig = z.infer<typeof stackConfigSchema>;
export type HostConfig = StackConfig["hosts"][number];

/** The slices, checked against the whole configuration: each reads only what the stack has. */
const SLICES: readonly RoleSlice<StackConfig>[] = ROLE_SLICES;
const sliceOf = (role: string) => SLICES.find((s) => s.role === role);

/** Every config field's rule (what a change does to a running stack), by configuration table key. */
export const FIELD_CLASSES: FieldClasses = Object.assign(
  {},
  CORE_FIELD_CLASSES,
  LOCAL_MACHINES_FIELD_CLASSES,
  ...SLICES.map((s) => s.fieldClasses ?? {}),
  TLS_FIELD_CLASSES,
);

/** The generated passwords, by the field each fills. */
type SecretField = Extract<Slice, { secrets: unknown }>["secrets"][number]["field"];
/** Every password of the cluster, resolved once; the roles take what they need from it. */
export type ClusterPasswords = Readonly<Record<SecretField, string>> & {
  /** One per cluster.users entry, by role name. */
  readonly users: Readonly<Record<string, string>>;
};

/** The secrets the roles declare. */
export const SECRETS = ROLE_SLICES.flatMap((s) =>
  "secrets" in s ? [...s.secrets] : [],
) as readonly (SecretSpec<StackConfig> & {
  readonly field: SecretField;
})[];
/** Config keys that may only hold Pulumi secrets (`pulumi config set --secret`). */
export const SECRET_KEYS: readonly string[] = [SSH_PRIVATE_KEY, ...SECRETS.map((s) => s.key), TLS_CA_KEY];

/** What is wrong with a configured secret's value, for the file it goes into. */
export const configuredSecretProblems = (key: string, value: string): string[] =>
  key === TLS_CA_KEY
    ? /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)
      ? []
      : [`${key}: is not a PEM private key`]
    : secretProblems(
        key,
        value,
        SECRETS.find((s) => s.key === key),
      );

export function topologyOf(c: StackConfig): Topology<HostConfig> {
  return deriveTopology(
    c.hosts,
    c.hostSource === "local-machines" ? { address: controllerAddress(c.localMachines) } : undefined,
  );
}

/** Ports each role opens on its host, with the config field that sets it. */
export const portsOf = (role: string, c: StackConfig): PortUse[] => sliceOf(role)?.ports?.(c) ?? [];

/** Debian packages a host needs for its roles, sorted so the install step is byte-stable. */
export function packagesFor(roles: readonly string[], c: StackConfig): string[] {
  // Not ca-certificates: naming it upgrades it, and its postinst rebuilds
  // every certificate link (25 s per host); curl pulls it in when missing.
  const packages = new Set(["curl", "jq"]);
  // The group that reads the hosts' TLS keys (postgresql-common puts postgres in it).
  if (c.tls.enabled) packages.add(TLS_KEY_GROUP);
  for (const role of roles) for (const p of sliceOf(role)?.packages?.(c) ?? []) packages.add(p);
  for (const slice of SLICES)
    for (const role of roles) for (const p of slice.packagesWith?.(c)[role] ?? []) packages.add(p);
  for (const slice of SLICES) for (const p of slice.hostPackages?.(c, roles) ?? []) packages.add(p);
  return [...packages].sort();
}

/** Capabilities a local machine with these roles needs beyond systemd-nspawn's defaults, sorted. */
export function machineCapabilitiesFor(roles: readonly string[], c: StackConfig): string[] {
  return [...new Set(roles.flatMap((r) => sliceOf(r)?.machineCapabilities?.(c) ?? []))].sort();
}

/** Every role's packages: what a prebuilt machine image carries. */
export const allRolePackages = (c: StackConfig): string[] => packagesFor(ROLE_NAMES, c);

function crossFieldProblems(c: StackConfig, stack: string | undefined, configuredSecrets: readonly string[]): string[] {
  const topology = topologyOf(c);
  const problems = hostProblems(
    c.hosts,
    c.ssh.port,
    (role) => portsOf(role, c),
    (roles) => SLICES.flatMap((s) => s.hostPorts?.(c, roles) ?? []),
  );
  for (const slice of SLICES) problems.push(...(slice.problems?.(c, topology) ?? []));
  problems.push(...tlsProblems(c));
  // pgBackRest's TLS transport shows and checks the hosts' certificates, which only TLS writes.
  if (archives(c) && !c.tls.enabled)
    problems.push(
      `tls.enabled: backups (a host with the backup role, or restore) reach the repository over TLS with the cluster's certificates; set tls.enabled: true`,
    );
  const rotatable = new Set([
    ...SECRETS.filter((s) => !s.fixed && !s.external).map((s) => s.key),
    ...c.cluster.users.map((u) => `user:${u.name}`),
  ]);
  for (const key of Object.keys(c.passwordRotation)) {
    const fixed = SECRETS.find((s) => s.key === key)?.fixed;
    if (fixed) problems.push(`passwordRotation.${key}: cannot be rotated: ${fixed}`);
    else if (!rotatable.has(key))
      problems.push(`passwordRotation.${key}: not a generated password; expected one of ${[...rotatable].join(", ")}`);
  }
  for (const s of SECRETS) {
    const needed = (s.neededBy as ((c: StackConfig) => boolean) | undefined)?.(c) ?? true;
    if (s.external && needed && !configuredSecrets.includes(s.key))
      problems.push(`${s.external}: needs the secret ${s.key}; set it with: pulumi config set --secret ${s.key}`);
  }
  if (c.hostSource === "local-machines") problems.push(...localMachineProblems(c, stack));
  return problems;
}

/**
 * Validates the raw stack configuration. `values` maps short keys (without
 * the project prefix) to parsed values; `isSecret` says whether a key was set
 * with --secret; `stack` is the stack's name (a local stand is named after
 * it). Throws ConfigError listing every problem at once.
 */
export function parseStackConfig(
  values: Record<string, unknown>,
  isSecret: (key: string) => boolean,
  stack?: string,
): StackConfig {
  const configuredSecrets = SECRET_KEYS.filter((k) => values[k] !== undefined);
  return parseWith(
    stackConfigSchema,
    SECRET_KEYS,
    (c) => crossFieldProblems(c, stack, configuredSecrets),
    values,
    isSecret,
  );
}
