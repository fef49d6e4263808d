// pgbouncer.ini: PgBouncer in front of the local PostgreSQL, reached over the
// unix socket. Users are looked up with auth_query through a SECURITY DEFINER
// function (created by the cluster SQL step), so new roles work without
// touching this file. https://www.pgbouncer.org/config.html
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { TlsPaths } from "../../tls/settings";
import { PgbouncerStage, stageMarker } from "../../tls/stages";
import { PGBOUNCER_HBA_PATH } from "./pgbouncerHba";

export const PGBOUNCER_INI_PATH = "/etc/pgbouncer/pgbouncer.ini";
export const PGBOUNCER_AUTH_USER = "pgbouncer";
export const PGBOUNCER_AUTH_FUNCTION = "pgbouncer.get_auth";

export interface PgbouncerIniInput {
  readonly listenAddress: string;
  readonly port: number;
  readonly postgresPort: number;
  readonly poolMode: string;
  readonly defaultPoolSize: number;
  readonly maxClientConn: number;
  readonly authType: string;
  /** Database auth_query runs in (PgBouncer 1.21+); without it, the one the client asked for. */
  readonly authDbname?: string;
  /** Users allowed on the admin console (SHOW POOLS). */
  readonly adminUsers: readonly string[];
  /** Users allowed its SHOW commands only (pgbouncer-exporter). */
  readonly statsUsers?: readonly string[];
  readonly tls: PgbouncerTls;
}

/** Client-side TLS with the host's certificate; the server side is the unix socket, which needs none. */
export interface PgbouncerTls {
  readonly stage: PgbouncerStage;
  readonly paths: Pick<TlsPaths, "ca" | "cert" | "key">;
  /** Sessions without TLS are still accepted (tls.allowPlainClients). */
  readonly allowPlainClients: boolean;
}

export function renderPgbouncerIni(ctx: ManagedFileContext, p: PgbouncerIniInput): string {
  const settings: [string, string | number][] = [
    ["listen_addr", `${p.listenAddress},127.0.0.1`],
    ["listen_port", p.port],
    ["unix_socket_dir", "/var/run/postgresql"],
    // Each login is checked against pgbouncer_hba.conf, with its line's method (p.authType).
    ["auth_type", "hba"],
    ["auth_hba_file", PGBOUNCER_HBA_PATH],
    ["auth_file", "/etc/pgbouncer/userlist.txt"],
    ["auth_user", PGBOUNCER_AUTH_USER],
    ["auth_query", `SELECT username, password FROM ${PGBOUNCER_AUTH_FUNCTION}($1)`],
    ...(p.authDbname ? ([["auth_dbname", p.authDbname]] as [string, string][]) : []),
    ["admin_users", p.adminUsers.join(",")],
    ["stats_users", [...p.adminUsers, ...(p.statsUsers ?? [])].join(",")],
    ["pool_mode", p.poolMode],
    ["default_pool_size", p.defaultPoolSize],
    ["max_client_conn", p.maxClientConn],
    ["server_reset_query", "DISCARD ALL"],
    // After a failed server login PgBouncer waits this long before the next
    // (default 15 s): a PostgreSQL restart of half a second paused writes 15 s.
    ["server_login_retry", "0.5"],
    // A client (an HAProxy host) that lost power or its link, or whose
    // sessions a VIP move orphaned, never closes its connections: with the
    // kernel's keepalive defaults (2 h) each would hold a server connection,
    // and a few failovers exhaust a session pool. Probed after 10 s idle, a
    // live host resets a connection it no longer has at once, a dead one is
    // given up after 3 unanswered probes 5 s apart.
    ["tcp_keepalive", 1],
    ["tcp_keepidle", 10],
    ["tcp_keepintvl", 5],
    ["tcp_keepcnt", 3],
    ["ignore_startup_parameters", "extra_float_digits,options"],
    ["logfile", "/var/log/postgresql/pgbouncer.log"],
    ["pidfile", "/var/run/postgresql/pgbouncer.pid"],
  ];
  if (p.tls.stage === "tls") {
    // RELOAD re-reads the files at the same paths: a renewed certificate needs no restart.
    settings.push(
      ["client_tls_sslmode", p.tls.allowPlainClients ? "prefer" : "require"],
      ["client_tls_cert_file", p.tls.paths.cert],
      ["client_tls_key_file", p.tls.paths.key],
      ["client_tls_ca_file", p.tls.paths.ca],
    );
  }
  return (
    managedHeader(ctx, ";") +
    stageMarker(p.tls.stage, ";") +
    "[databases]\n" +
    `* = host=/var/run/postgresql port=${p.postgresPort}\n\n` +
    "[pgbouncer]\n" +
    settings.map(([k, v]) => `${k} = ${v}`).join("\n") +
    "\n"
  );
}
