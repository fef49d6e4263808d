// The stack's passwords as the roles receive them (a secret Output resolved
// once), their masked form for previews, and every value for masking a
// step's output.
import { ClusterPasswords, SECRETS } from "./stackConfig";

export type { ClusterPasswords };

/** The passwords as they are shown in a preview: masked. */
export const MASKED = "[secret]";
export const MASKED_PASSWORDS: ClusterPasswords = {
  ...(Object.fromEntries(SECRETS.map((s) => [s.field, MASKED])) as Record<(typeof SECRETS)[number]["field"], string>),
  users: {},
};

/** Every password value, for masking a step's output (ShellCommand's mask). */
export const secretValues = (p: ClusterPasswords): string[] =>
  [...SECRETS.map((s) => p[s.field]), ...Object.values(p.users)].filter((v) => v !== "");
