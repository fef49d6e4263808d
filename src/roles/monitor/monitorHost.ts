// The monitor host: Prometheus (its configuration, the target files rendered
// from the topology, the alert rules, the cluster page) and Alertmanager (its
// receivers), from Debian's packages; the local receiver when configured.
// A changed configuration or rule file is checked (promtool, amtool) before it
// replaces the old one and then reloaded, and the reload is verified (SIGHUP
// reports success even when Prometheus keeps its old configuration); a
// changed flag (retention) restarts the service. Target files need neither:
// Prometheus follows them. The gate waits until Prometheus scrapes exactly
// the stack's targets, each answering, with every rule loaded. With TLS both
// listeners serve https only, with the host's certificate (web-tls.yml): a
// stack moved to TLS by pulumi up restarts both with the new flags once the
// host's TLS files are in place (the stage waits for them).
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../../providers/shellCommand";
import { renderEnvironmentFile } from "../../render/environmentFile";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { TLS_KEY_GROUP, TLS_PATHS } from "../../tls/settings";
import { BundledFile, contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { RoleArgs } from "../roleArgs";
import { alertRules, renderAlertRules } from "./alertRules";
import {
  ALERTMANAGER_CONFIG_PATH,
  ALERTMANAGER_SMTP_PASSWORD_PATH,
  alertmanagerInput,
  renderAlertmanagerConfig,
} from "./alertmanagerConfig";
import {
  ALERT_RECEIVER_PATH,
  ALERT_RECEIVER_UNIT,
  alertReceiverUnit,
  CLUSTER_PAGE_PATH,
  renderAlertReceiver,
  renderClusterPage,
  unitPath,
} from "./monitorFiles";
import {
  PROMETHEUS_CONFIG_PATH,
  PROMETHEUS_RULES_PATH,
  renderPrometheusConfig,
  renderTargetsFile,
  renderWebConfig,
  targetsFile,
  WEB_CONFIG_PATH,
} from "./prometheusConfig";
import { FILE_JOBS, FileJob, httpsJobs, scrapeTargets } from "./scrapeTargets";
import {
  alertmanagerEnvironment,
  environmentPath,
  MonitorHostInput,
  prometheusDropIn,
  prometheusEnvironment,
} from "./serviceEnvironment";
import {
  ALERTMANAGER_PORT,
  alertmanagerUrl,
  LOCAL_RECEIVER_PORT,
  LOCAL_SMTP_PORT,
  PROMETHEUS_PORT,
  prometheusUrl,
} from "./slice";

const script = scriptsIn(__dirname);

export const CONSOLE_LIBRARIES_DIR = "/etc/prometheus/console_libraries";

export interface MonitorHostArgs extends RoleArgs {
  /** What the gate waits for besides this host's services: every exporter of the stack answering. */
  readonly gateAfter: pulumi.Input<pulumi.Resource[]>;
}

export class MonitorHost extends pulumi.ComponentResource {
  /** Prometheus scrapes every target of the stack and Alertmanager runs. */
  readonly ready: ShellCommand;

  constructor(name: string, args: MonitorHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:MonitorHost", name, {}, opts);
    const { config, topology, host, managed } = args;
    const m = config.monitor;
    const steps = new HostSteps(this, name, host, args.facts);
    const after = { dependsOn: args.dependsOn };
    const tls = config.tls.enabled;

    // Prometheus: what it scrapes and what it alerts on.
    const targets = scrapeTargets(config, topology);
    const self = { target: `${host.address}:${PROMETHEUS_PORT}`, member: host.name };
    const prometheusYml = renderPrometheusConfig(managed, {
      clusterName: config.cluster.name,
      scrapeIntervalSeconds: m.scrapeIntervalSeconds,
      self: { ...self, alertmanager: `${host.address}:${ALERTMANAGER_PORT}` },
      selfTls: tls,
      fileJobs: FILE_JOBS,
      httpsJobs: httpsJobs(config),
      tls: tls ? TLS_PATHS : undefined,
    });
    const rules = renderAlertRules(managed, alertRules({ thresholds: m.thresholds, forSeconds: m.alertForSeconds }), {
      synchronousMode: config.cluster.dcs.synchronousMode,
    });
    const ruleCount = (rules.match(/^ {6}- alert: /gm) ?? []).length;
    const service: MonitorHostInput = {
      address: host.address,
      prometheusPort: PROMETHEUS_PORT,
      alertmanagerPort: ALERTMANAGER_PORT,
      retention: m.retention,
      webConfig: tls ? WEB_CONFIG_PATH : undefined,
    };
    const webConfig = tls ? renderWebConfig(managed, TLS_PATHS.monitorPem) : undefined;
    const prometheusEnv = renderEnvironmentFile(managed, prometheusEnvironment(service));
    // With TLS Prometheus reads the host's key (its client certificate): a changed drop-in restarts it.
    const unitDropIn = tls ? renderSystemdDropIn(managed, prometheusDropIn(TLS_KEY_GROUP)) : undefined;
    const alertmanagerEnv = renderEnvironmentFile(managed, alertmanagerEnvironment(service));
    const receiverUnit = renderSystemdDropIn(managed, alertReceiverUnit(LOCAL_RECEIVER_PORT, LOCAL_SMTP_PORT));
    const bundle: BundledFile[] = [
      ...FILE_JOBS.map((job) => ({
        path: targetsFile(job),
        content: renderTargetsFile(managed, config.cluster.name, targets[job]),
      })),
      { path: environmentPath("prometheus"), content: prometheusEnv },
      ...(unitDropIn ? [{ path: dropInPath("prometheus.service"), content: unitDropIn }] : []),
      { path: environmentPath("prometheus-alertmanager"), content: alertmanagerEnv },
      { path: CLUSTER_PAGE_PATH, content: renderClusterPage(managed) },
      ...(m.alertmanager.localReceiver
        ? [
            { path: ALERT_RECEIVER_PATH, content: renderAlertReceiver(managed), mode: "0755" },
            { path: unitPath(ALERT_RECEIVER_UNIT), content: receiverUnit },
          ]
        : []),
    ];
    const files = steps.files("files", "write Prometheus' targets, flags and the cluster page", bundle, after);
    const libraries = steps.command(
      "console-libraries",
      {
        description: "console libraries of the cluster page",
        create: script("console-libraries", { LIBRARIES_DIR: CONSOLE_LIBRARIES_DIR }),
      },
      after,
    );
    // Checked by promtool (it loads the certificate and key) before it replaces the old one.
    const webConfigFile = webConfig
      ? [
          steps.file(
            "web-config",
            { path: WEB_CONFIG_PATH, content: webConfig, validate: "promtool check web-config %s" },
            { dependsOn: [files] },
          ),
        ]
      : [];
    const rulesFile = steps.file(
      "rules",
      { path: PROMETHEUS_RULES_PATH, content: rules, validate: "promtool check rules %s" },
      { dependsOn: [files] },
    );
    const configFile = steps.file(
      "config",
      {
        path: PROMETHEUS_CONFIG_PATH,
        content: prometheusYml,
        validate: "promtool check config %s",
        removeOnDestroy: false,
      },
      { dependsOn: [files, rulesFile] },
    );
    const prometheus = steps.service(
      "prometheus",
      {
        unit: "prometheus",
        onChange: "restart",
        triggers: [contentHash(prometheusEnv), ...(unitDropIn ? [contentHash(unitDropIn)] : [])],
      },
      { dependsOn: [configFile, libraries, ...webConfigFile] },
    );
    const reloadTimeout = 60;
    const prometheusReloaded = steps.command(
      "prometheus-reload",
      {
        description: "prometheus reads its configuration and rules",
        create: script("reload-prometheus", { URL: prometheusUrl(host, tls), TIMEOUT: reloadTimeout }),
        triggers: [contentHash(prometheusYml), contentHash(rules)],
        runOnlyOnTriggers: true,
      },
      { dependsOn: [prometheus] },
    );

    // Alertmanager: where notifications go.
    const smtpPassword = args.passwords.apply((p) => p.alertmanagerSmtp);
    // The SMTP password goes with the login (the configuration refuses a login without it).
    const smtpConfigured = m.alertmanager.email?.authUsername !== undefined;
    const alertmanagerYml = renderAlertmanagerConfig(managed, alertmanagerInput(m.alertmanager, smtpConfigured));
    const passwordFile = smtpConfigured
      ? [
          steps.file(
            "smtp-password",
            {
              path: ALERTMANAGER_SMTP_PASSWORD_PATH,
              content: pulumi.secret(smtpPassword),
              mode: "0640",
              group: "prometheus",
              mask: smtpPassword.apply((p) => (p ? [p] : [])),
            },
            after,
          ),
        ]
      : [];
    const amFile = steps.file(
      "alertmanager-config",
      {
        path: ALERTMANAGER_CONFIG_PATH,
        content: alertmanagerYml,
        validate: "amtool check-config %s",
        removeOnDestroy: false,
      },
      { dependsOn: [files, ...passwordFile] },
    );
    const alertmanager = steps.service(
      "alertmanager",
      { unit: "prometheus-alertmanager", onChange: "restart", triggers: [contentHash(alertmanagerEnv)] },
      { dependsOn: [amFile, ...webConfigFile] },
    );
    const alertmanagerReloaded = steps.command(
      "alertmanager-reload",
      {
        description: "alertmanager reads its configuration",
        create: script("reload-alertmanager", { URL: alertmanagerUrl(host, tls), TIMEOUT: reloadTimeout }),
        triggers: [contentHash(alertmanagerYml), contentHash(smtpPassword)],
        runOnlyOnTriggers: true,
      },
      { dependsOn: [alertmanager] },
    );
    const receiver = m.alertmanager.localReceiver
      ? [
          steps.service(
            "receiver",
            {
              unit: ALERT_RECEIVER_UNIT,
              onChange: "restart",
              triggers: [contentHash(receiverUnit), contentHash(renderAlertReceiver(managed))],
            },
            { dependsOn: [files] },
          ),
        ]
      : [];

    // JOB=ADDRESS:PORT, and the scheme for the gate's own look at each target.
    const https = httpsJobs(config);
    const expected = [
      `prometheus=${self.target}`,
      `alertmanager=${host.address}:${ALERTMANAGER_PORT}`,
      ...FILE_JOBS.flatMap((job) => targets[job].map((t) => `${job}=${t.target}`)),
    ];
    const schemes = expected.map((t) => {
      const job = t.split("=")[0];
      return (tls && (job === "prometheus" || job === "alertmanager")) || https.includes(job as FileJob)
        ? "https"
        : "http";
    });
    const gateAfter = pulumi
      .output(args.gateAfter)
      .apply((others) => [...others, prometheusReloaded, alertmanagerReloaded, ...receiver]);
    this.ready = steps.gate(
      "gate",
      {
        what: "prometheus and alertmanager",
        script: script("wait-monitor", {
          PROMETHEUS: prometheusUrl(host, tls),
          ALERTMANAGER: alertmanagerUrl(host, tls),
          TARGETS: expected.join(" "),
          TARGET_SCHEMES: schemes.join(" "),
          RULES: ruleCount,
          TIMEOUT: 120,
        }),
        triggers: [expected.join(" "), contentHash(rules), contentHash(prometheusYml)],
      },
      { dependsOn: gateAfter },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
