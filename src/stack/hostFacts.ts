// The one vocabulary of the TypeScript <-> bash seam: every fact a host
// script may use (a path, a marker, a port, a URL) by the variable name it
// uses, defined once here and in the role slices. renderHostScript exports to
// each script exactly the facts it names, so a script never restates one
// with its own default, and a fact that changes re-runs only the scripts
// that use it.
import { MANAGED_MARKER, OWNER_FILE } from "../render/managedHeader";
import type { HostFacts } from "../steps/stepScript";
import { ROLE_SLICES } from "../roles";
import { RoleSlice } from "../config/roleSlice";
import { tlsFacts } from "../tls/settings";
import { StackConfig } from "./stackConfig";

const SLICES: readonly RoleSlice<StackConfig>[] = ROLE_SLICES;

export function hostFactsOf(c: StackConfig, stack: string): HostFacts {
  const facts: Record<string, string | number> = { STACK: stack, MANAGED_MARKER, OWNER_FILE, ...tlsFacts(c) };
  for (const slice of SLICES) {
    for (const [name, value] of Object.entries(slice.facts?.(c) ?? {})) {
      if (name in facts) throw new Error(`host fact ${name} is declared twice (role ${slice.role})`);
      facts[name] = value;
    }
  }
  return facts;
}
