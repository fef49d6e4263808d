// The files the monitor role installs as they are (files/): the cluster page,
// postgres-exporter's extra queries, the local receiver, the certificate
// expiry collector; each with the managed-file line in its own comment
// syntax. And the units of the two programs of ours (unit files are the
// format of render/systemdUnit.ts). Pure.
import * as fs from "fs";
import * as path from "path";
import { MANAGED_MARKER, ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { UnitSections } from "../../render/systemdUnit";
import { CLUSTER_PAGE } from "./slice";

const FILES = path.join(__dirname, "files");
const read = (name: string) => fs.readFileSync(path.join(FILES, name), "utf8");

/** Our programs on the hosts. */
const LIB_DIR = "/usr/local/lib/pulumi-patroni";
export const ALERT_RECEIVER_PATH = `${LIB_DIR}/alert-receiver.py`;
export const TLS_EXPIRY_PATH = `${LIB_DIR}/tls-expiry-textfile.sh`;
export const ALERT_RECEIVER_UNIT = "pulumi-patroni-alert-receiver.service";
export const TLS_EXPIRY_UNIT = "pulumi-patroni-tls-expiry";
/** Where the local receiver appends what it receives (its StateDirectory). */
export const ALERT_RECEIVER_DIR = "/var/lib/pulumi-patroni-alert-receiver";
export const unitPath = (unit: string) => `/etc/systemd/system/${unit}`;

export const CLUSTER_PAGE_PATH = `/etc/prometheus/consoles/${CLUSTER_PAGE}`;

/** A script: the managed line goes after its #! line. */
const script = (ctx: ManagedFileContext, name: string) => {
  const [shebang, ...rest] = read(name).split("\n");
  return [shebang, managedHeader(ctx).trimEnd(), ...rest].join("\n");
};

/** The cluster page, a Prometheus console template (Go template: the managed line is a template comment). */
export const renderClusterPage = (ctx: ManagedFileContext): string =>
  `{{/* ${MANAGED_MARKER} (stack ${ctx.stack}). Do not edit: change Pulumi.${ctx.stack}.yaml and run pulumi up. */}}\n` +
  read("pg-cluster.html");

export const renderPostgresExporterQueries = (ctx: ManagedFileContext): string =>
  managedHeader(ctx) + read("postgres-exporter-queries.yml");

export const renderAlertReceiver = (ctx: ManagedFileContext): string => script(ctx, "alert-receiver.py");
export const renderTlsExpiryScript = (ctx: ManagedFileContext): string => script(ctx, "tls-expiry-textfile.sh");

/** The local receiver's unit: webhooks on WEBHOOK_PORT, e-mail on SMTP_PORT, both on the loopback. */
export const alertReceiverUnit = (webhookPort: number, smtpPort: number): UnitSections => ({
  Unit: { Description: "Local receiver of Alertmanager's notifications (pulumi-patroni)", After: "network.target" },
  Service: {
    User: "prometheus",
    StateDirectory: path.basename(ALERT_RECEIVER_DIR),
    ExecStart: `/usr/bin/python3 ${ALERT_RECEIVER_PATH} ${ALERT_RECEIVER_DIR} ${webhookPort} ${smtpPort}`,
    Restart: "on-failure",
    RestartSec: "2s",
  },
  Install: { WantedBy: "multi-user.target" },
});

export const TLS_EXPIRY_SERVICE: UnitSections = {
  Unit: { Description: "Certificate expiry for node-exporter's textfile collector (pulumi-patroni)" },
  Service: { Type: "oneshot", ExecStart: TLS_EXPIRY_PATH },
};
export const TLS_EXPIRY_TIMER: UnitSections = {
  Unit: { Description: "Hourly certificate expiry for node-exporter (pulumi-patroni)" },
  Timer: { OnBootSec: "2min", OnUnitActiveSec: "1h" },
  Install: { WantedBy: "timers.target" },
};
