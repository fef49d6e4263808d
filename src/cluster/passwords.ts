// Every password of the cluster, resolved once (a secret Output) and handed
// to the roles that render them into files or send them on stdin.
import { PatroniPasswords } from "../roles/patroni/patroniConfig";

export interface ClusterPasswords extends PatroniPasswords {
  readonly pgbouncerAuth: string;
  readonly haproxyStats: string;
  /** One per cluster.users entry, by role name. */
  readonly users: Readonly<Record<string, string>>;
}

/** The passwords as they are shown in a preview: masked. */
export const MASKED = "[secret]";
export const MASKED_PASSWORDS: ClusterPasswords = {
  superuser: MASKED,
  replication: MASKED,
  rewind: MASKED,
  restApi: MASKED,
  pgbouncerAuth: MASKED,
  haproxyStats: MASKED,
  users: {},
};

/** Every password value, for masking a step's output (ShellCommand's mask). */
export const secretValues = (p: ClusterPasswords): string[] => [
  p.superuser,
  p.replication,
  p.rewind,
  p.restApi,
  p.pgbouncerAuth,
  p.haproxyStats,
  ...Object.values(p.users),
];
