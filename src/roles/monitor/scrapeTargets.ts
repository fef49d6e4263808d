// What the monitor scrapes, from the topology: one job per component, each
// target on the host that runs it. Pure.
import { Topology } from "../../config/topology";
import { TlsView } from "../../tls/settings";
import {
  HAPROXY_METRICS_PORT,
  NODE_EXPORTER,
  PGBACKREST_EXPORTER,
  PGBOUNCER_EXPORTER,
  POSTGRES_EXPORTER,
} from "./exporters";
import { ScrapeTarget } from "./prometheusConfig";
import { MonitorView } from "./slice";

/** The jobs whose targets come from the topology (a target file each), in the order prometheus.yml lists them. */
export const FILE_JOBS = ["node", "patroni", "postgres", "pgbouncer", "etcd", "haproxy", "pgbackrest"] as const;
export type FileJob = (typeof FILE_JOBS)[number];

export function scrapeTargets(c: MonitorView & TlsView, topology: Topology): Record<FileJob, ScrapeTarget[]> {
  const on = (role: string | undefined, port: () => number): ScrapeTarget[] =>
    (role ? topology.withRole(role) : topology.hosts).map((h) => ({
      target: `${h.address}:${port()}`,
      member: h.name,
    }));
  return {
    node: on(NODE_EXPORTER.role, () => NODE_EXPORTER.port),
    // Patroni's own /metrics, on its REST API.
    patroni: on("postgres", () => c.cluster.restApiPort),
    postgres: on(POSTGRES_EXPORTER.role, () => POSTGRES_EXPORTER.port),
    pgbouncer: on(PGBOUNCER_EXPORTER.role, () => PGBOUNCER_EXPORTER.port),
    // etcd's metrics listener (etcd.metricsPort), plain HTTP.
    etcd: on("etcd", () => c.etcd.metricsPort),
    haproxy: on("haproxy", () => HAPROXY_METRICS_PORT),
    // pgBackRest's exporter, on the repository host (the backup role).
    pgbackrest: on(PGBACKREST_EXPORTER.role, () => PGBACKREST_EXPORTER.port),
  };
}

/** The jobs scraped over https once TLS is on: Patroni's REST API, HAProxy's exporter (its frontend binds with TLS). */
export const httpsJobs = (c: TlsView): FileJob[] => (c.tls.enabled ? ["patroni", "haproxy"] : []);
