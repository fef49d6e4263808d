// How clients reach the cluster through its entry, and the client host's
// ready-to-use connection files: pg_service.conf (services "primary" and
// "replicas") and a 0600 .pgpass for root. The entry is the VIP when
// haproxy.vip is set, else every HAProxy host: libpq tries the hosts of a
// multi-host connection in turn (in random order where it can), so a dead
// HAProxy costs a client one connect_timeout, not the cluster.
// https://www.postgresql.org/docs/17/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS
// https://www.postgresql.org/docs/17/libpq-pgservice.html
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { clientEntryHosts, HaproxyView } from "../haproxy/slice";

export const PG_SERVICE_PATH = "/etc/postgresql-common/pg_service.conf";
export const ROOT_PGPASS_PATH = "/root/.pgpass";
/** The services of pg_service.conf: `psql service=primary` and `service=replicas`. */
export const PRIMARY_SERVICE = "primary";
export const REPLICAS_SERVICE = "replicas";

export interface ClientEndpoint {
  /** The VIP, or every HAProxy host's address. */
  readonly hosts: readonly string[];
  readonly primaryPort: number;
  readonly replicaPort: number;
  /** libpq 16+ picks the hosts of a multi-host connection in random order (load_balance_hosts). */
  readonly loadBalance: boolean;
}

/** The entry as the stack configures it; load_balance_hosts needs libpq 16 (the client host's is the cluster's major version). */
export function clientEndpoint(
  c: HaproxyView & { readonly cluster: { readonly postgresVersion: number } },
): ClientEndpoint {
  return {
    hosts: clientEntryHosts(c),
    primaryPort: c.haproxy.primaryPort,
    replicaPort: c.haproxy.replicaPort,
    loadBalance: c.cluster.postgresVersion >= 16,
  };
}

/**
 * Seconds libpq waits for one host before it tries the next (2 is its
 * minimum): with several entry hosts a dead one costs this much per new
 * connection; through the VIP, it bounds a connect sent while no host holds it.
 */
export const CONNECT_TIMEOUT_S = 2;

/** libpq's connection options for the entry, besides host and port (multi-host ones only when there are several hosts). */
export function entryOptions(endpoint: ClientEndpoint, session: "read-write" | "any"): [string, string][] {
  return [
    ["target_session_attrs", session],
    ...(endpoint.hosts.length > 1 && endpoint.loadBalance
      ? ([["load_balance_hosts", "random"]] as [string, string][])
      : []),
    ["connect_timeout", String(CONNECT_TIMEOUT_S)],
  ];
}

/**
 * A libpq URI of the entry: `postgresql://user:pw@vip:5000/db`, or with
 * several HAProxy hosts `postgresql://user:pw@h1:5000,h2:5000/db?target_session_attrs=...`;
 * `tls` (tlsOptions) joins the same query string.
 */
export function entryUri(
  endpoint: ClientEndpoint,
  port: number,
  user: string,
  password: string,
  dbname: string,
  session: "read-write" | "any",
  tls: readonly [string, string][] = [],
): string {
  const hosts = endpoint.hosts.map((h) => `${h}:${port}`).join(",");
  const base = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hosts}/${dbname}`;
  // One query string: the multi-host options (several hosts only), then TLS's.
  const options = [...(endpoint.hosts.length > 1 ? entryOptions(endpoint, session) : []), ...tls];
  if (options.length === 0) return base;
  return `${base}?${options.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`;
}

/**
 * libpq's options that make a client verify the cluster (tls.enabled):
 * verify-full, the entry address it dialled (the VIP or an HAProxy host) is
 * among the names of the certificate PgBouncer presents; against `caFile`,
 * or ~/.postgresql/root.crt without one.
 */
export function tlsOptions(caFile?: string): [string, string][] {
  return [["sslmode", "verify-full"], ...(caFile ? ([["sslrootcert", caFile]] as [string, string][]) : [])];
}

/**
 * pg_service.conf's services. With `caFile`, libpq verifies the server
 * (verify-full: the HAProxy address it dialled is among the names of the
 * certificate PgBouncer presents) against the cluster's CAs.
 */
export function renderPgServices(endpoint: ClientEndpoint, user: string, caFile?: string, dbname = "postgres"): string {
  const service = (name: string, port: number, session: "read-write" | "any") =>
    [
      `[${name}]`,
      `host=${endpoint.hosts.join(",")}`,
      `port=${port}`,
      `user=${user}`,
      `dbname=${dbname}`,
      ...[...entryOptions(endpoint, session), ...(caFile ? tlsOptions(caFile) : [])].map(([k, v]) => `${k}=${v}`),
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
