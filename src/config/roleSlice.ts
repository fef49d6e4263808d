// What a host role brings to the stack, as one object registered once
// (src/roles/index.ts): its settings section, the ports it opens, the rules
// that span fields, its packages, what a change of each of its fields does,
// its secrets, and the facts its host scripts share. Validation, the
// platform check, the README's configuration table and the preview guard
// iterate over the list of slices; nothing else keeps a per-role list.
//
// `View` is the part of the stack configuration the slice reads (its own
// section plus what it needs of others); the list of slices is checked
// against the whole configuration where it is composed (src/stack/schema.ts).
import { z } from "zod";
import { FieldRule } from "./fieldClasses";
import { Topology } from "./topology";

/** A port a role opens on its host, and the config field that sets it. */
export interface PortUse {
  readonly port: number;
  readonly field: string;
}

/** A secret of the stack configuration: set with `pulumi config set --secret KEY`, else generated once. */
export interface SecretSpec<View = never> {
  /** Config key, e.g. haproxyStatsPassword. */
  readonly key: string;
  /** The field of the stack's passwords it fills, e.g. haproxyStats. */
  readonly field: string;
  /** Name of the GeneratedPassword resource when it is not configured. */
  readonly generatedName: string;
  /** What would break the file it goes into (length, characters), beyond the common checks. */
  readonly problems?: (value: string) => string[];
  /** Why it can never be rotated (passwordRotation refuses it), when that is so. */
  readonly fixed?: string;
  /** Whether the stack needs it; absent: always. A secret not needed is neither generated nor checked. */
  readonly neededBy?: (c: View) => boolean;
  /**
   * For a credential of a service outside the cluster (an SMTP password,
   * say): the field whose setting needs it. Never generated (empty when not
   * needed), not rotated by passwordRotation, free of the length rule of the
   * cluster's own passwords; refused at preview when needed and not set.
   */
  readonly external?: string;
}

/** A top-level section of the stack configuration a slice owns. */
export interface SliceSection {
  readonly key: string;
  readonly schema: z.ZodTypeAny;
  readonly description: string;
}

export interface RoleSlice<View = never> {
  /** The role's name in hosts[].roles. */
  readonly role: string;
  /** What runs on a host with this role, for hosts[].roles' description. */
  readonly summary: string;
  /** Its section of the stack configuration (a top-level key), if it has one. */
  readonly settings?: SliceSection;
  /** Further sections of its own that a stack may leave out entirely (absent: undefined, not defaults). */
  readonly sections?: readonly SliceSection[];
  // Function-typed properties, not methods: parameters are then checked
  // strictly when the slice list meets the whole configuration.
  /** Ports it opens on its host. */
  readonly ports?: (c: View) => PortUse[];
  /** Rules that span fields, checked after the schema; each message names the field path and what would be valid. */
  readonly problems?: (c: View, topology: Topology) => string[];
  /** Debian packages a host with this role needs. */
  readonly packages?: (c: View) => string[];
  /** Linux capabilities a local machine (systemd-nspawn) with this role needs beyond nspawn's default set. */
  readonly machineCapabilities?: (c: View) => string[];
  /** Debian packages this role needs on hosts of other roles, by their role (pgBackRest on the database hosts). */
  readonly packagesWith?: (c: View) => Readonly<Record<string, readonly string[]>>;
  /**
   * What the role puts on every host of the stack, by the host's roles (the
   * monitor role's exporters): packages and the ports they open.
   */
  readonly hostPackages?: (c: View, roles: readonly string[]) => string[];
  readonly hostPorts?: (c: View, roles: readonly string[]) => PortUse[];
  /** By config table key ("haproxy.fall"): what `pulumi up` does with a change. */
  readonly fieldClasses?: Readonly<Record<string, FieldRule>>;
  readonly secrets?: readonly SecretSpec<View>[];
  /**
   * Facts its host scripts share with every other script (paths, ports, URLs),
   * by the shell variable name they use; a script gets the ones it names.
   */
  readonly facts?: (c: View) => Readonly<Record<string, string | number>>;
}
