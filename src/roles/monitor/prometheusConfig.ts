// prometheus.yml and its file_sd target files. Every target carries the labels
// cluster (the Patroni scope) and member (the host's name, also its Patroni
// and etcd member name): the alert rules and the cluster page group by them.
// The targets of each job live in a file of their own, which Prometheus
// watches: a host added or removed changes a target file and Prometheus
// follows without a restart or even a reload.
// https://prometheus.io/docs/prometheus/2.53/configuration/configuration/
import * as yaml from "js-yaml";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export const PROMETHEUS_CONFIG_PATH = "/etc/prometheus/prometheus.yml";
export const PROMETHEUS_RULES_DIR = "/etc/prometheus/rules";
export const PROMETHEUS_RULES_PATH = `${PROMETHEUS_RULES_DIR}/pg-cluster.rules.yml`;
export const PROMETHEUS_TARGETS_DIR = "/etc/prometheus/targets";
export const targetsFile = (job: string) => `${PROMETHEUS_TARGETS_DIR}/${job}.yml`;
/** With TLS: the web configuration of Prometheus' and Alertmanager's listeners (--web.config.file). */
export const WEB_CONFIG_PATH = "/etc/prometheus/web-tls.yml";

/** One scrape target: host:port, and the member it belongs to. */
export interface ScrapeTarget {
  readonly target: string;
  readonly member: string;
}

export interface PrometheusConfigInput {
  readonly clusterName: string;
  readonly scrapeIntervalSeconds: number;
  /** The monitor host: Prometheus and Alertmanager listen there. */
  readonly self: ScrapeTarget & { readonly alertmanager: string };
  /**
   * Prometheus and Alertmanager serve https (WEB_CONFIG_PATH): Prometheus
   * scrapes both and sends its alerts over https, verified with the CA.
   */
  readonly selfTls?: boolean;
  /** The jobs whose targets are in target files, in order. */
  readonly fileJobs: readonly string[];
  /**
   * Jobs served over https (Patroni's REST API, HAProxy's exporter with TLS):
   * verified against the cluster's CA, showing the monitor host's certificate
   * (Patroni's REST API requires one). The certificates name every host's
   * address, which is what Prometheus dials.
   */
  readonly httpsJobs: readonly string[];
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

const seconds = (s: number) => `${s}s`;

export function renderPrometheusConfig(ctx: ManagedFileContext, p: PrometheusConfigInput): string {
  const labels = { cluster: p.clusterName, member: p.self.member };
  const selfHttps =
    p.selfTls && p.tls ? { scheme: "https", tls_config: { ca_file: p.tls.ca } } : ({} as Record<string, never>);
  const document = {
    global: {
      scrape_interval: seconds(p.scrapeIntervalSeconds),
      // A scrape may not take longer than the interval.
      scrape_timeout: seconds(Math.min(10, p.scrapeIntervalSeconds)),
      evaluation_interval: seconds(p.scrapeIntervalSeconds),
    },
    alerting: { alertmanagers: [{ ...selfHttps, static_configs: [{ targets: [p.self.alertmanager] }] }] },
    rule_files: [`${PROMETHEUS_RULES_DIR}/*.yml`],
    scrape_configs: [
      { job_name: "prometheus", ...selfHttps, static_configs: [{ targets: [p.self.target], labels }] },
      { job_name: "alertmanager", ...selfHttps, static_configs: [{ targets: [p.self.alertmanager], labels }] },
      ...p.fileJobs.map((job) => ({
        job_name: job,
        ...(p.tls && p.httpsJobs.includes(job)
          ? { scheme: "https", tls_config: { ca_file: p.tls.ca, cert_file: p.tls.cert, key_file: p.tls.key } }
          : {}),
        file_sd_configs: [{ files: [targetsFile(job)] }],
      })),
    ],
  };
  return managedHeader(ctx) + yaml.dump(document, { lineWidth: -1, noRefs: true });
}

/** A file_sd target file: the job's targets, each with its cluster and member labels. */
export function renderTargetsFile(
  ctx: ManagedFileContext,
  clusterName: string,
  targets: readonly ScrapeTarget[],
): string {
  const groups = targets.map((t) => ({ targets: [t.target], labels: { cluster: clusterName, member: t.member } }));
  return managedHeader(ctx) + (groups.length ? yaml.dump(groups, { lineWidth: -1, noRefs: true }) : "[]\n");
}

/**
 * The web configuration of both listeners: https with the monitor host's
 * certificate and key, from one file (`pem`: root:prometheus 0640, written
 * with the host's TLS files; Go reads the certificate and the key each from
 * its own PEM block). This file holds the path only. Both programs read it on
 * every connection, so a renewed certificate is served without a reload.
 * https://prometheus.io/docs/prometheus/2.53/configuration/https/
 */
export function renderWebConfig(ctx: ManagedFileContext, pem: string): string {
  const document = { tls_server_config: { cert_file: pem, key_file: pem, min_version: "TLS12" } };
  return managedHeader(ctx) + yaml.dump(document, { lineWidth: -1, noRefs: true });
}
