// userlist.txt: only the auth_query user and the admin console users live
// here; every other role is looked up in PostgreSQL. The file is 0600
// postgres:postgres.
//
// What each entry holds decides what a login costs PgBouncer
// (https://www.pgbouncer.org/config.html#authentication-file-format):
// - the superuser: its SCRAM verifier (the same stable one PostgreSQL
//   stores), or its md5 hash with authType md5. With the plain password
//   PgBouncer derives a verifier (4096 PBKDF2 rounds) on every client login,
//   which made a new pooled connection slower than a new PostgreSQL backend.
//   PgBouncer never needs the password itself: it reaches PostgreSQL as the
//   superuser over the unix socket with peer authentication.
// - the auth_query user: its plain password, which PgBouncer needs to log
//   in to PostgreSQL (once per server connection it opens for auth_query).
import * as crypto from "crypto";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { stableScramVerifier } from "../../secrets/scram";

export const PGBOUNCER_USERLIST_PATH = "/etc/pgbouncer/userlist.txt";

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

export function renderPgbouncerUserlist(ctx: ManagedFileContext, users: Readonly<Record<string, string>>): string {
  const lines = Object.keys(users)
    .sort()
    .map((name) => `${quote(name)} ${quote(users[name])}`);
  return managedHeader(ctx, ";") + lines.join("\n") + "\n";
}

/**
 * What userlist.txt stores for a role that only logs in as a client of
 * PgBouncer: its SCRAM verifier (identical to PostgreSQL's, salt and all), or
 * PostgreSQL's md5 form ("md5" + md5(password + role)) when clients use md5.
 */
export function clientLoginSecret(
  authType: "scram-sha-256" | "md5",
  role: string,
  password: string,
  clusterName: string,
): string {
  if (authType === "md5")
    return `md5${crypto
      .createHash("md5")
      .update(password + role)
      .digest("hex")}`;
  return stableScramVerifier(role, password, clusterName);
}
