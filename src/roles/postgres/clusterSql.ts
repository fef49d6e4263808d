// SQL run on the primary after bootstrap: PgBouncer's auth_query user and
// function, application roles, databases. Idempotent, so every `pulumi up`
// may re-run it when users, databases or passwords change. Passwords are set
// as SCRAM verifiers computed here: no statement text, and so no server log,
// ever holds a password.
import { stableScramVerifier } from "../../secrets/scram";
import { PGBOUNCER_AUTH_USER } from "../pgbouncer/pgbouncerIni";
import { ClusterSettings } from "./slice";

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

function ensureRole(cluster: ClusterSettings, name: string, password: string, options: readonly string[]): string {
  return [
    `SELECT format('CREATE ROLE %I', ${literal(name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(name)})\\gexec`,
    `ALTER ROLE ${ident(name)} WITH ${[...new Set(["LOGIN", ...options])].join(" ")} PASSWORD ${literal(stableScramVerifier(name, password, cluster.name))};`,
  ].join("\n");
}

// PgBouncer before 1.21 (Debian 12 has 1.18) runs auth_query in the database the client asked for, so
// the function must exist in every database (template1 covers new ones).
const AUTH_FUNCTION = `CREATE SCHEMA IF NOT EXISTS pgbouncer;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE(username text, password text)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
  AS $$ SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow WHERE usename = p_usename $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO ${PGBOUNCER_AUTH_USER};
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO ${PGBOUNCER_AUTH_USER};`;

/**
 * The exporters' role: pg_monitor, and no password (its only pg_hba line is
 * peer on the unix socket), so it cannot log in over the network at all.
 */
const monitoringRole = (name: string) =>
  [
    `SELECT format('CREATE ROLE %I', ${literal(name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(name)})\\gexec`,
    `ALTER ROLE ${ident(name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD NULL;`,
    `GRANT pg_monitor TO ${ident(name)};`,
  ].join("\n");

export function renderClusterSql(
  cluster: ClusterSettings,
  pgbouncerPassword: string,
  userPasswords: Readonly<Record<string, string>>,
  monitoringUser?: string,
): string {
  const parts: string[] = [ensureRole(cluster, PGBOUNCER_AUTH_USER, pgbouncerPassword, ["NOSUPERUSER"])];
  if (monitoringUser) parts.push(monitoringRole(monitoringUser));
  for (const user of cluster.users) {
    const password = userPasswords[user.name];
    if (password === undefined) throw new Error(`no password for cluster.users ${user.name}`);
    parts.push(ensureRole(cluster, user.name, password, user.options));
  }
  parts.push("\\connect template1", AUTH_FUNCTION, "\\connect postgres", AUTH_FUNCTION);
  for (const db of cluster.databases) {
    parts.push(
      "\\connect postgres",
      `SELECT format('CREATE DATABASE %I OWNER %I', ${literal(db.name)}, ${literal(db.owner)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(db.name)})\\gexec`,
      `\\connect ${db.name}`,
      AUTH_FUNCTION,
    );
  }
  return parts.join("\n") + "\n";
}
