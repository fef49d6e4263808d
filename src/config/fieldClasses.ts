// What a change of each config field does to a running stack. Every field
// of the configuration table belongs to one class; each role slice lists its
// own fields' rules and src/stack/schema.ts merges them (a test checks that
// no field lacks one and no rule names a field that does not exist).
//   live       applied by `pulumi up` without a restart (reload, SQL, DCS)
//   rolling    applied by `pulumi up` with a rolling restart, one member at a time
//   identity   refused at preview once the stack is deployed (src/providers/stackIdentity.ts)
//   membership adds or removes members (scaling)

export type FieldClass = "live" | "rolling" | "identity" | "membership";

export interface FieldRule {
  readonly cls: FieldClass;
  /** What `pulumi up` does with a change, or what to do instead. */
  readonly how: string;
}

export const live = (how: string): FieldRule => ({ cls: "live", how });
export const rolling = (how: string): FieldRule => ({ cls: "rolling", how });
export const identity = (how: string): FieldRule => ({ cls: "identity", how });
export const membership = (how: string): FieldRule => ({ cls: "membership", how });

/** What to do instead of changing a field that is fixed for a stack's life. */
export const NEW_STACK =
  "create a new stack with the new value and restore the data into it (pg_dump/pg_restore, or a base backup)";

export type FieldClasses = Readonly<Record<string, FieldRule>>;

/** The rule of a config table key, or of its nearest listed parent ("cluster.pgHba[].user" -> "cluster.pgHba"). */
export function ruleOf(classes: FieldClasses, key: string): FieldRule | undefined {
  for (let k = key; ;) {
    if (classes[k]) return classes[k];
    const dot = k.lastIndexOf(".");
    if (dot < 0) return undefined;
    k = k.slice(0, dot).replace(/\[\]$/, "");
  }
}

/**
 * The identity fields and their values, for the guard: the plain ones by
 * path, a host's address as hosts[NAME].address (a host added or removed is
 * not a change of identity).
 */
export function identityValues(
  classes: FieldClasses,
  config: { readonly hosts: readonly { name: string; address: string }[] },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(classes)) {
    if (rule.cls !== "identity" || key.includes("[]")) continue;
    out[key] = key.split(".").reduce<unknown>((v, part) => (v as Record<string, unknown> | undefined)?.[part], config);
  }
  for (const h of config.hosts) out[`hosts[${h.name}].address`] = h.address;
  return out;
}

/** What the guard tells a user who changed identity field `key` (hosts[NAME] keys take the hosts[] rule). */
export const identityAdvice = (classes: FieldClasses, key: string): string =>
  ruleOf(classes, key.replace(/^hosts\[[^\]]+\]/, "hosts[]"))?.how ?? "";
