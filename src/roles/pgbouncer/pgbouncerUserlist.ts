// userlist.txt: only the auth_query user and the admin console users live
// here; every other role is looked up in PostgreSQL. Plain passwords let
// PgBouncer answer SCRAM itself; the file is 0600 postgres:postgres.
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export const PGBOUNCER_USERLIST_PATH = "/etc/pgbouncer/userlist.txt";

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

export function renderPgbouncerUserlist(ctx: ManagedFileContext, users: Readonly<Record<string, string>>): string {
  const lines = Object.keys(users)
    .sort()
    .map((name) => `${quote(name)} ${quote(users[name])}`);
  return managedHeader(ctx, ";") + lines.join("\n") + "\n";
}
