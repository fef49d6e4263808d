// What each of the monitoring units starts with: the /etc/default file Debian's
// unit reads (ARGS and the exporter's own variables) and the drop-in we add.
// Every listener is bound to the host's own address, never to every address;
// an exporter's unit may only exchange packets with the monitor, the host
// itself and the loopback (IPAddressAllow: the kernel drops the rest where
// systemd can attach its cgroup firewall; systemd-nspawn machines cannot).
// https://www.freedesktop.org/software/systemd/man/systemd.resource-control.html#IPAddressAllow=ADDRESS%5B/PREFIXLENGTH%5D%E2%80%A6
import { UnitSections } from "../../render/systemdUnit";
import { argsValue } from "../../render/environmentFile";
import {
  NODE_EXPORTER,
  PackagedExporter,
  PGBACKREST_EXPORTER,
  PGBOUNCER_EXPORTER,
  POSTGRES_EXPORTER,
} from "./exporters";

export const environmentPath = (unit: string) => `/etc/default/${unit}`;

/** postgres-exporter's extra queries (WAL archiving), postgresExporterQueries.yml. */
export const POSTGRES_EXPORTER_QUERIES_PATH = "/etc/prometheus-postgres-exporter-queries.yml";
/** node-exporter's textfile collector reads *.prom here (Debian's directory). */
export const NODE_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

/**
 * node-exporter's default fs-types-exclude without overlay: a local machine's
 * root filesystem is an overlay, and the disk alerts need it.
 */
const FS_TYPES_EXCLUDE_KEEPING_OVERLAY =
  "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

export interface ExporterHostInput {
  /** The host's address: the exporter listens there. */
  readonly address: string;
  readonly monitorAddress: string;
  readonly postgresPort: number;
  readonly pgbouncerPort: number;
  /** The PostgreSQL login the exporters use (peer authentication over the unix socket). */
  readonly monitoringUser: string;
  readonly socketDir: string;
  /** The host is a local machine (an overlay root filesystem). */
  readonly localMachine: boolean;
  /** pgBackRest's configuration on the repository host (the pgbackrest exporter reads the stanzas there). */
  readonly pgbackrestConfig: string;
}

/** The variables of an exporter's /etc/default file. */
export function exporterEnvironment(e: PackagedExporter, h: ExporterHostInput): [string, string][] {
  const listen = `--web.listen-address=${h.address}:${e.port}`;
  switch (e.job) {
    case NODE_EXPORTER.job:
      return [
        [
          "ARGS",
          argsValue([
            listen,
            `--collector.textfile.directory=${NODE_TEXTFILE_DIR}`,
            ...(h.localMachine ? [`--collector.filesystem.fs-types-exclude=${FS_TYPES_EXCLUDE_KEEPING_OVERLAY}`] : []),
          ]),
        ],
      ];
    case POSTGRES_EXPORTER.job:
      return [
        [
          "DATA_SOURCE_NAME",
          `host=${h.socketDir} port=${h.postgresPort} user=${h.monitoringUser} dbname=postgres sslmode=disable`,
        ],
        [
          "ARGS",
          argsValue([
            listen,
            `--extend.query-path=${POSTGRES_EXPORTER_QUERIES_PATH}`,
            "--collector.stat_checkpointer",
            "--collector.long_running_transactions",
            "--collector.postmaster",
            "--collector.stat_wal_receiver",
          ]),
        ],
      ];
    case PGBOUNCER_EXPORTER.job:
      return [
        // The admin console over the unix socket as the monitoring user (peer): no password anywhere.
        [
          "PGBOUNCER_EXPORTER_CONNECTION_STRING",
          `postgres:///pgbouncer?host=${h.socketDir}&port=${h.pgbouncerPort}&user=${h.monitoringUser}&sslmode=disable`,
        ],
        ["ARGS", argsValue([listen])],
      ];
    case PGBACKREST_EXPORTER.job:
      return [["ARGS", argsValue([listen, `--backrest.config=${h.pgbackrestConfig}`])]];
    default:
      throw new Error(`no environment for exporter ${e.job}`);
  }
}

/** The drop-in of an exporter's unit. */
export function exporterDropIn(e: PackagedExporter, h: ExporterHostInput): UnitSections {
  return {
    Service: {
      IPAddressDeny: "any",
      IPAddressAllow: `localhost ${h.address} ${h.monitorAddress}`,
      Restart: "on-failure",
      RestartSec: "5s",
      // Debian runs it as postgres (a PgBouncer admin); as prometheus it is only a stats user (peer).
      ...(e === PGBOUNCER_EXPORTER ? { User: "prometheus", Group: "prometheus" } : {}),
    },
  };
}

export interface MonitorHostInput {
  readonly address: string;
  readonly prometheusPort: number;
  readonly alertmanagerPort: number;
  readonly retention: string;
  /** With TLS: the web configuration both listeners read (webConfig.ts); they then serve https only. */
  readonly webConfig?: string;
}

/**
 * prometheus.service's drop-in with TLS: the group that may read the host's
 * key (root:ssl-cert 0640), which Prometheus shows to Patroni's REST API as
 * its client certificate. Its https listener (and Alertmanager's) use
 * monitor.pem instead, readable by the prometheus user only.
 */
export const prometheusDropIn = (keyGroup: string): UnitSections => ({ Service: { SupplementaryGroups: keyGroup } });

const listener = (m: MonitorHostInput, port: number) => [
  ...(m.webConfig ? [`--web.config.file=${m.webConfig}`] : []),
  `--web.listen-address=${m.address}:${port}`,
  `--web.external-url=${m.webConfig ? "https" : "http"}://${m.address}:${port}/`,
];

/** /etc/default/prometheus. The lifecycle API stays off: a reload is SIGHUP, after promtool has checked the files. */
export function prometheusEnvironment(m: MonitorHostInput): [string, string][] {
  return [
    [
      "ARGS",
      argsValue([
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
        `--storage.tsdb.retention.time=${m.retention}`,
        ...listener(m, m.prometheusPort),
      ]),
    ],
  ];
}

/**
 * /etc/default/prometheus-alertmanager: one Alertmanager, so no cluster
 * listener (9094) and no peers (nothing to give TLS there).
 */
export function alertmanagerEnvironment(m: MonitorHostInput): [string, string][] {
  return [
    [
      "ARGS",
      argsValue([
        "--config.file=/etc/prometheus/alertmanager.yml",
        "--storage.path=/var/lib/prometheus/alertmanager/",
        ...listener(m, m.alertmanagerPort),
        "--cluster.listen-address=",
      ]),
    ],
  ];
}
