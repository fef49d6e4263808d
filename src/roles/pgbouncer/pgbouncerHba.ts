// pgbouncer_hba.conf: who may log in through PgBouncer. PgBouncer reaches
// PostgreSQL over the unix socket, so PostgreSQL's pg_hba never sees these
// clients: the superuser and the admin console are limited here, to the
// cluster's hosts (HAProxy among them) and the configured admin networks.
// https://www.pgbouncer.org/config.html#hba-file-format
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export const PGBOUNCER_HBA_PATH = "/etc/pgbouncer/pgbouncer_hba.conf";
/** The admin console's database name. */
export const PGBOUNCER_ADMIN_DB = "pgbouncer";

export interface PgbouncerHbaInput {
  readonly authType: string;
  readonly superuser: string;
  /** Addresses of the cluster's hosts (PgBouncer sees HAProxy's, not its clients'). */
  readonly clusterAddresses: readonly string[];
  /** Networks a DBA works from (cluster.adminNetworks). */
  readonly adminNetworks: readonly string[];
  /** The exporters' login (SHOW commands), when the stack has a monitor host: the unix socket only. */
  readonly monitoringUser?: string;
  /** Logins over TCP need TLS: hostssl rules (the reject rules stay host, so they match either way). */
  readonly tlsOnly: boolean;
}

export function renderPgbouncerHba(ctx: ManagedFileContext, p: PgbouncerHbaInput): string {
  const hosts = [...new Set(["127.0.0.1/32", ...p.clusterAddresses.map((a) => `${a}/32`)])];
  const accept = p.tlsOnly ? "hostssl" : "host";
  const rules = [
    // Patroni's role-change hook, as the postgres OS user on the unix socket (RECONNECT).
    `local ${PGBOUNCER_ADMIN_DB} ${p.superuser} peer`,
    // pgbouncer-exporter, as the prometheus OS user, a stats user (pgbouncer.ini); never over the network.
    ...(p.monitoringUser
      ? [`local ${PGBOUNCER_ADMIN_DB} ${p.monitoringUser} peer`, `host all ${p.monitoringUser} 0.0.0.0/0 reject`]
      : []),
    // The admin console: on the host itself and from admin networks only.
    ...["127.0.0.1/32", ...p.adminNetworks].map((n) => `${accept} ${PGBOUNCER_ADMIN_DB} all ${n} ${p.authType}`),
    `host ${PGBOUNCER_ADMIN_DB} all 0.0.0.0/0 reject`,
    // The superuser: from the cluster's hosts and admin networks.
    ...[...hosts, ...p.adminNetworks].map((n) => `${accept} all ${p.superuser} ${n} ${p.authType}`),
    `host all ${p.superuser} 0.0.0.0/0 reject`,
    // Everyone else, with a password (HAProxy admits only the client networks).
    `${accept} all all 0.0.0.0/0 ${p.authType}`,
  ];
  return managedHeader(ctx) + [...new Set(rules)].join("\n") + "\n";
}
