// The monitor role (Prometheus, Alertmanager and the cluster page, from
// Debian's packages) and its `monitor` section. With a monitor host in the
// stack every host also runs the exporters of its roles (exporters.ts), and
// the other roles open what the monitor scrapes: Patroni's /metrics, etcd's
// metrics listener, HAProxy's built-in exporter.
import { z } from "zod";
import { FieldClasses, live } from "../../config/fieldClasses";
import { positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { Topology } from "../../config/topology";
import { EtcdView } from "../etcd/slice";
import { exporterPackages, exporterPorts } from "./exporters";
import { MONITOR_ROLE, monitored } from "./monitored";

/** A Prometheus duration: 30s, 5m, 4h, 15d, 2w. */
const duration = (what: string) =>
  z.string().regex(/^[1-9]\d*(s|m|h|d|w|y)$/, `${what} must be a duration like 30s, 5m, 4h or 15d`);

export const thresholdsSchema = z
  .object({
    replicationLagBytes: positiveInt
      .default(64 * 1024 * 1024)
      .describe("A replica whose replay position is this many bytes behind the primary's WAL alerts."),
    replicationLagSeconds: positiveInt
      .default(300)
      .describe("A replica with WAL received but not replayed whose last replayed transaction is older alerts."),
    pendingRestartMinutes: positiveInt
      .default(30)
      .describe("A member pending a restart (a changed parameter) for longer alerts."),
    diskFullWithinHours: positiveInt
      .default(4)
      .describe("A filesystem that the last hour's rate fills within this many hours alerts."),
    certificateExpiryDays: positiveInt
      .default(14)
      .describe("A certificate under /etc/pulumi-patroni/tls expiring within this many days alerts."),
    backupMaxAgeHours: positiveInt
      .default(26)
      .describe("No backup of any type completed within this many hours alerts (a daily schedule plus two)."),
    fullBackupMaxAgeDays: positiveInt
      .default(8)
      .describe("No full backup completed within this many days alerts (a weekly schedule plus one)."),
    archiveReadyFiles: positiveInt
      .default(32)
      .describe("More WAL segments than this waiting for archive_command alerts."),
    etcdLeaderChangesPerHour: positiveInt
      .default(3)
      .describe("More etcd leader changes than this within an hour alerts."),
  })
  .strict();
export type AlertThresholds = z.infer<typeof thresholdsSchema>;

const webhookSchema = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s"'\\]+$/, "must be an http:// or https:// URL without spaces or quotes")
      .describe("Where Alertmanager POSTs its notifications (JSON)."),
    sendResolved: z.boolean().default(true).describe("Also notify when an alert is resolved."),
  })
  .strict();

const mailbox = z.string().regex(/^[^\s@<>"'\\,]+@[^\s@<>"'\\,]+$/, "must be an e-mail address like dba@example.org");

const emailSchema = z
  .object({
    to: z.array(mailbox).min(1, "list at least one address").describe("Recipients."),
    from: mailbox.describe("Sender address."),
    smarthost: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "must be host:port, like smtp.example.org:587")
      .describe("SMTP server (host:port)."),
    authUsername: z
      .string()
      .regex(/^[^\s"'\\]+$/, "must not contain spaces or quotes")
      .optional()
      .describe("SMTP login; its password is the secret alertmanagerSmtpPassword."),
    requireTls: z.boolean().default(true).describe("Refuse to send without STARTTLS."),
  })
  .strict();

export const alertmanagerSettingsSchema = z
  .object({
    groupWait: duration("groupWait")
      .default("30s")
      .describe("How long Alertmanager waits to group the first alerts of a group."),
    groupInterval: duration("groupInterval")
      .default("5m")
      .describe("How long it waits before notifying about changes of a group (resolved alerts included)."),
    repeatInterval: duration("repeatInterval")
      .default("4h")
      .describe("How often a still-firing alert is notified again."),
    webhooks: z.array(webhookSchema).default([]).describe("Webhook receivers."),
    email: emailSchema.optional().describe("E-mail receiver."),
    localReceiver: z
      .boolean()
      .default(false)
      .describe(
        "A webhook receiver on the monitor host's loopback that appends every notification to a file (tests and demos read it).",
      ),
  })
  .strict();

export type AlertmanagerSettings = z.infer<typeof alertmanagerSettingsSchema>;

export const monitorSettingsSchema = z
  .object({
    scrapeIntervalSeconds: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(15)
      .describe("How often Prometheus scrapes every target and evaluates the alert rules."),
    retention: duration("retention").default("15d").describe("How long Prometheus keeps its samples."),
    alertForSeconds: positiveInt
      .default(60)
      .describe(
        "How long a member, target or etcd member must be down (or a replica not streaming, or lagging) before it alerts; a failover takes 30-45 s.",
      ),
    thresholds: thresholdsSchema.default({}).describe("Alert thresholds."),
    alertmanager: alertmanagerSettingsSchema.default({}).describe("Where and how often alerts are notified."),
  })
  .strict();
export type MonitorSettings = z.infer<typeof monitorSettingsSchema>;

export interface MonitorView extends EtcdView {
  readonly monitor: MonitorSettings;
}

export { MONITOR_ROLE } from "./monitored";
/** Where Prometheus and Alertmanager listen on the monitor host (Debian's defaults). */
export const PROMETHEUS_PORT = 9090;
export const ALERTMANAGER_PORT = 9093;
/** The local receiver (monitor.alertmanager.localReceiver): webhooks and e-mail, on the loopback only. */
export const LOCAL_RECEIVER_PORT = 9099;
export const LOCAL_SMTP_PORT = 2525;
/** The cluster page, under Prometheus' /consoles/. */
export const CLUSTER_PAGE = "pg-cluster.html";

/** The monitor host, if the stack has one. */
export const monitorHostOf = <H extends { readonly roles: readonly string[] }>(topology: {
  withRole(role: string): readonly H[];
}): H | undefined => topology.withRole(MONITOR_ROLE)[0];

/** With TLS (tls.enabled) Prometheus and Alertmanager serve https only, with the monitor host's certificate. */
const scheme = (tls: boolean) => (tls ? "https" : "http");
export const prometheusUrl = (h: { readonly address: string }, tls: boolean) =>
  `${scheme(tls)}://${h.address}:${PROMETHEUS_PORT}`;
export const alertmanagerUrl = (h: { readonly address: string }, tls: boolean) =>
  `${scheme(tls)}://${h.address}:${ALERTMANAGER_PORT}`;
export const clusterPageUrl = (h: { readonly address: string }, tls: boolean) =>
  `${prometheusUrl(h, tls)}/consoles/${CLUSTER_PAGE}`;

function monitorProblems(c: MonitorView, topology: Topology): string[] {
  const problems: string[] = [];
  const monitors = topology.withRole(MONITOR_ROLE);
  if (monitors.length > 1) {
    problems.push(
      `hosts: ${monitors.map((h) => h.name).join(", ")} have the monitor role; one monitor host scrapes the whole cluster (two Alertmanagers would need clustering and notify twice), keep one`,
    );
  }
  const m = c.monitor;
  if (m.alertForSeconds < 2 * m.scrapeIntervalSeconds) {
    problems.push(
      `monitor.alertForSeconds: ${m.alertForSeconds} is shorter than two scrapes (2 x monitor.scrapeIntervalSeconds = ${2 * m.scrapeIntervalSeconds}); one missed scrape would alert`,
    );
  }
  return problems;
}

const rulesReloaded = live("the alert rules, checked with promtool, Prometheus reloaded");
const alertmanagerReloaded = live("alertmanager.yml, checked with amtool, Alertmanager reloaded");
const FIELD_CLASSES: FieldClasses = {
  "monitor.scrapeIntervalSeconds": live("prometheus.yml, checked with promtool, Prometheus reloaded"),
  "monitor.retention": live("Prometheus restarted with the new retention (its samples are kept)"),
  "monitor.alertForSeconds": rulesReloaded,
  "monitor.thresholds": rulesReloaded,
  "monitor.alertmanager": alertmanagerReloaded,
  alertmanagerSmtpPassword: live("its file rewritten (0640), Alertmanager reloaded"),
};

export const monitorSlice = {
  role: MONITOR_ROLE,
  summary: "monitor (Prometheus, Alertmanager, the cluster page)",
  settings: {
    key: "monitor",
    schema: monitorSettingsSchema,
    description:
      "Monitoring, on when a host has the monitor role: Prometheus and Alertmanager there, exporters on every host.",
  },
  ports: () => [
    { port: PROMETHEUS_PORT, field: "monitor (Prometheus)" },
    { port: ALERTMANAGER_PORT, field: "monitor (Alertmanager)" },
    { port: LOCAL_RECEIVER_PORT, field: "monitor (local receiver, webhooks)" },
    { port: LOCAL_SMTP_PORT, field: "monitor (local receiver, e-mail)" },
  ],
  problems: monitorProblems,
  packages: () => ["prometheus", "prometheus-alertmanager"],
  hostPackages: (c, roles) => (monitored(c) ? exporterPackages(roles) : []),
  hostPorts: (c, roles) => (monitored(c) ? exporterPorts(roles) : []),
  fieldClasses: FIELD_CLASSES,
  secrets: [
    {
      key: "alertmanagerSmtpPassword",
      field: "alertmanagerSmtp",
      generatedName: "alertmanager-smtp-password",
      external: "monitor.alertmanager.email.authUsername",
      neededBy: (c: MonitorView) => c.monitor.alertmanager.email?.authUsername !== undefined,
    },
  ],
} as const satisfies RoleSlice<MonitorView>;
