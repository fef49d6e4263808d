// The client host's ready-to-use connection files: pg_service.conf (services
// "primary" and "replicas" through HAProxy) and a 0600 .pgpass for root.
// https://www.postgresql.org/docs/17/libpq-pgservice.html
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export const PG_SERVICE_PATH = "/etc/postgresql-common/pg_service.conf";
export const ROOT_PGPASS_PATH = "/root/.pgpass";
/** The services of pg_service.conf: `psql service=primary` and `service=replicas`. */
export const PRIMARY_SERVICE = "primary";
export const REPLICAS_SERVICE = "replicas";

export interface ClientEndpoint {
  readonly host: string;
  readonly primaryPort: number;
  readonly replicaPort: number;
}

/**
 * pg_service.conf's services. With `caFile`, libpq verifies the server
 * (verify-full: the HAProxy address it dialled is among the names of the
 * certificate PgBouncer presents) against the cluster's CAs.
 */
export function renderPgServices(endpoint: ClientEndpoint, user: string, caFile?: string, dbname = "postgres"): string {
  const service = (name: string, port: number, session: string) =>
    [
      `[${name}]`,
      `host=${endpoint.host}`,
      `port=${port}`,
      `user=${user}`,
      `dbname=${dbname}`,
      `target_session_attrs=${session}`,
      ...(caFile ? ["sslmode=verify-full", `sslrootcert=${caFile}`] : []),
    ].join("\n");
  return (
    [
      service(PRIMARY_SERVICE, endpoint.primaryPort, "read-write"),
      service(REPLICAS_SERVICE, endpoint.replicaPort, "any"),
    ].join("\n\n") + "\n"
  );
}

export function renderPgService(
  ctx: ManagedFileContext,
  endpoint: ClientEndpoint,
  user: string,
  caFile?: string,
  dbname = "postgres",
): string {
  return managedHeader(ctx) + renderPgServices(endpoint, user, caFile, dbname);
}

const escapePgpass = (s: string) => s.replace(/\\/g, "\\\\").replace(/:/g, "\\:");

export function renderPgpass(
  ctx: ManagedFileContext,
  entries: readonly { host: string; port: number; user: string; password: string }[],
): string {
  return (
    managedHeader(ctx) +
    entries.map((e) => `${e.host}:${e.port}:*:${escapePgpass(e.user)}:${escapePgpass(e.password)}`).join("\n") +
    "\n"
  );
}
