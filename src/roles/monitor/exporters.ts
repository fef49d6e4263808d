// The exporters the monitor role puts on the cluster's hosts, each from
// Debian's packages and each on the hosts of the role whose metrics it
// serves, and what the other roles open for the monitor (HAProxy's built-in
// exporter). Ports are Debian's defaults. Pure.
import { PortUse } from "../../config/roleSlice";

export interface PackagedExporter {
  /** Prometheus job name. */
  readonly job: string;
  readonly package: string;
  /** Debian's unit; it reads /etc/default/<unit> (ARGS and the exporter's own variables). */
  readonly unit: string;
  readonly port: number;
  /** The role of the hosts it runs on; every host when absent. */
  readonly role?: string;
}

export const NODE_EXPORTER: PackagedExporter = {
  job: "node",
  package: "prometheus-node-exporter",
  unit: "prometheus-node-exporter",
  port: 9100,
};
export const POSTGRES_EXPORTER: PackagedExporter = {
  job: "postgres",
  package: "prometheus-postgres-exporter",
  unit: "prometheus-postgres-exporter",
  port: 9187,
  role: "postgres",
};
export const PGBOUNCER_EXPORTER: PackagedExporter = {
  job: "pgbouncer",
  package: "prometheus-pgbouncer-exporter",
  unit: "prometheus-pgbouncer-exporter",
  port: 9127,
  role: "pgbouncer",
};

/** pgBackRest's exporter on the repository host: `pgbackrest info` as postgres, every collect interval (600 s). */
export const PGBACKREST_EXPORTER: PackagedExporter = {
  job: "pgbackrest",
  package: "prometheus-pgbackrest-exporter",
  unit: "prometheus-pgbackrest-exporter",
  port: 9854,
  role: "backup",
};

export const PACKAGED_EXPORTERS: readonly PackagedExporter[] = [
  NODE_EXPORTER,
  POSTGRES_EXPORTER,
  PGBOUNCER_EXPORTER,
  PGBACKREST_EXPORTER,
];

/** HAProxy's built-in Prometheus exporter: a frontend of its own, open to the monitor only. */
export const HAPROXY_METRICS_PORT = 8405;

/** The packaged exporters a host with `roles` runs. */
export const exportersOn = (roles: readonly string[]): PackagedExporter[] =>
  PACKAGED_EXPORTERS.filter((e) => e.role === undefined || roles.includes(e.role));

export const exporterPackages = (roles: readonly string[]): string[] => exportersOn(roles).map((e) => e.package);

export const exporterPorts = (roles: readonly string[]): PortUse[] => [
  ...exportersOn(roles).map((e) => ({ port: e.port, field: `monitor (${e.job} exporter)` })),
  ...(roles.includes("haproxy") ? [{ port: HAPROXY_METRICS_PORT, field: "monitor (HAProxy's exporter)" }] : []),
];
