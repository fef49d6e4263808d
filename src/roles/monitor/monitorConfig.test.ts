// What the monitor role renders, parsed back: Prometheus' configuration and
// target files from the topology, Alertmanager's receivers, every service's
// flags (each listener on the host's own address), and what the other roles
// open for it.
import { describe, expect, it } from "vitest";
import * as yaml from "js-yaml";
import { seed002 } from "../../../test/fixtures/topologies";
import { parseStackConfig, topologyOf } from "../../stack/stackConfig";
import { renderEnvironmentFile } from "../../render/environmentFile";
import { renderSystemdDropIn } from "../../render/systemdUnit";
import { etcdEnvironmentInput, renderEtcdEnvironment } from "../etcd/etcdEnvironment";
import { etcdSlice } from "../etcd/slice";
import { renderHaproxyConfig } from "../haproxy/haproxyConfig";
import { haproxyConfigInput } from "../haproxy/haproxyNode";
import { renderPgbouncerHba } from "../pgbouncer/pgbouncerHba";
import { renderPgbouncerIni } from "../pgbouncer/pgbouncerIni";
import { renderClusterSql } from "../postgres/clusterSql";
import { renderPgHba } from "../postgres/patroniConfig";
import { MONITORING_USER } from "../postgres/slice";
import { TLS_PATHS } from "../../tls/settings";
import { alertmanagerInput, renderAlertmanagerConfig } from "./alertmanagerConfig";
import { exportersOn, PGBACKREST_EXPORTER, PGBOUNCER_EXPORTER, POSTGRES_EXPORTER } from "./exporters";
import { renderClusterPage } from "./monitorFiles";
import {
  renderPrometheusConfig,
  renderTargetsFile,
  renderWebConfig,
  targetsFile,
  WEB_CONFIG_PATH,
} from "./prometheusConfig";
import { FILE_JOBS, httpsJobs, scrapeTargets } from "./scrapeTargets";
import {
  alertmanagerEnvironment,
  exporterDropIn,
  exporterEnvironment,
  prometheusDropIn,
  prometheusEnvironment,
} from "./serviceEnvironment";

const ctx = { stack: "test" };
const raw = {
  ...seed002,
  hosts: [...seed002.hosts, { name: "mon", address: "10.0.26.20", roles: ["client", "monitor"] }],
};
const config = parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
const topology = topologyOf(config);
const envOf = (text: string) =>
  Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 2, -1)]),
  );

describe("prometheus.yml and its target files", () => {
  const targets = scrapeTargets(config, topology);

  it("scrapes every component on the host that runs it, labelled with the cluster and the member", () => {
    expect(targets.node.map((t) => t.target)).toEqual([
      "10.0.26.10:9100",
      "10.0.26.11:9100",
      "10.0.26.12:9100",
      "10.0.26.20:9100",
    ]);
    expect(targets.patroni).toEqual([
      { target: "10.0.26.11:8008", member: "pg1" },
      { target: "10.0.26.12:8008", member: "pg2" },
    ]);
    expect(targets.postgres.map((t) => t.target)).toEqual(["10.0.26.11:9187", "10.0.26.12:9187"]);
    expect(targets.pgbouncer.map((t) => t.target)).toEqual(["10.0.26.11:9127", "10.0.26.12:9127"]);
    expect(targets.etcd).toEqual([{ target: "10.0.26.10:2381", member: "proxy" }]);
    expect(targets.haproxy).toEqual([{ target: "10.0.26.10:8405", member: "proxy" }]);
    const file = yaml.load(renderTargetsFile(ctx, "pgcluster", targets.patroni));
    expect(file).toEqual([
      { targets: ["10.0.26.11:8008"], labels: { cluster: "pgcluster", member: "pg1" } },
      { targets: ["10.0.26.12:8008"], labels: { cluster: "pgcluster", member: "pg2" } },
    ]);
    // A job with no target yet (pgBackRest before a backup host exists) is an empty list, which Prometheus accepts.
    expect(yaml.load(renderTargetsFile(ctx, "pgcluster", []))).toEqual([]);
  });

  it("reads each job's targets from its own file, alerts to the local Alertmanager, loads the rules", () => {
    const doc = yaml.load(
      renderPrometheusConfig(ctx, {
        clusterName: "pgcluster",
        scrapeIntervalSeconds: 5,
        self: { target: "10.0.26.20:9090", member: "mon", alertmanager: "10.0.26.20:9093" },
        fileJobs: FILE_JOBS,
        httpsJobs: [],
      }),
    ) as any;
    expect(doc.global).toEqual({ scrape_interval: "5s", scrape_timeout: "5s", evaluation_interval: "5s" });
    expect(doc.alerting.alertmanagers[0].static_configs[0].targets).toEqual(["10.0.26.20:9093"]);
    expect(doc.rule_files).toEqual(["/etc/prometheus/rules/*.yml"]);
    const jobs = doc.scrape_configs.map((j: any) => j.job_name);
    expect(jobs).toEqual(["prometheus", "alertmanager", ...FILE_JOBS]);
    expect(doc.scrape_configs[2].file_sd_configs).toEqual([{ files: [targetsFile("node")] }]);
    expect(doc.scrape_configs[0].static_configs[0].labels).toEqual({ cluster: "pgcluster", member: "mon" });
    expect(doc.scrape_configs.filter((j: any) => j.scheme || j.tls_config)).toEqual([]);
  });

  it("with TLS, Patroni's REST API and HAProxy's exporter over https: the cluster's CA, the monitor's certificate", () => {
    const tlsConfig = parseStackConfig(JSON.parse(JSON.stringify({ ...raw, tls: { enabled: true } })), () => false);
    expect(httpsJobs(tlsConfig)).toEqual(["patroni", "haproxy"]);
    expect(httpsJobs(config)).toEqual([]);
    const doc = yaml.load(
      renderPrometheusConfig(ctx, {
        clusterName: "pgcluster",
        scrapeIntervalSeconds: 15,
        self: { target: "10.0.26.20:9090", member: "mon", alertmanager: "10.0.26.20:9093" },
        fileJobs: FILE_JOBS,
        httpsJobs: httpsJobs(tlsConfig),
        tls: TLS_PATHS,
      }),
    ) as any;
    const job = (name: string) => doc.scrape_configs.find((j: any) => j.job_name === name);
    for (const name of ["patroni", "haproxy"]) {
      expect(job(name).scheme).toBe("https");
      expect(job(name).tls_config).toEqual({
        ca_file: "/etc/pulumi-patroni/tls/ca.crt",
        cert_file: "/etc/pulumi-patroni/tls/host.crt",
        key_file: "/etc/pulumi-patroni/tls/host.key",
      });
    }
    for (const name of ["node", "postgres", "pgbouncer", "etcd", "pgbackrest"])
      expect(job(name).scheme).toBeUndefined();
    // Prometheus reads the key through its group.
    expect(renderSystemdDropIn(ctx, prometheusDropIn("ssl-cert"))).toContain("SupplementaryGroups=ssl-cert\n");
    // Its own listener and Alertmanager's stay plain unless selfTls.
    for (const name of ["prometheus", "alertmanager"]) expect(job(name).scheme).toBeUndefined();
    expect(doc.alerting.alertmanagers[0].scheme).toBeUndefined();
  });

  it("with the monitor's listeners on TLS: itself, Alertmanager and its alerts over https, verified with the CA", () => {
    const doc = yaml.load(
      renderPrometheusConfig(ctx, {
        clusterName: "pgcluster",
        scrapeIntervalSeconds: 15,
        self: { target: "10.0.26.20:9090", member: "mon", alertmanager: "10.0.26.20:9093" },
        selfTls: true,
        fileJobs: FILE_JOBS,
        httpsJobs: ["patroni"],
        tls: TLS_PATHS,
      }),
    ) as any;
    const job = (name: string) => doc.scrape_configs.find((j: any) => j.job_name === name);
    const https = { scheme: "https", tls_config: { ca_file: "/etc/pulumi-patroni/tls/ca.crt" } };
    expect(job("prometheus")).toMatchObject(https);
    expect(job("alertmanager")).toMatchObject(https);
    expect(doc.alerting.alertmanagers).toEqual([{ ...https, static_configs: [{ targets: ["10.0.26.20:9093"] }] }]);
    // The web configuration names the host's certificate and key; it holds no key itself.
    const web = yaml.load(renderWebConfig(ctx, TLS_PATHS.monitorPem)) as any;
    expect(web).toEqual({
      tls_server_config: {
        cert_file: "/etc/pulumi-patroni/tls/monitor.pem",
        key_file: "/etc/pulumi-patroni/tls/monitor.pem",
        min_version: "TLS12",
      },
    });
    expect(renderWebConfig(ctx, TLS_PATHS.monitorPem)).not.toContain("PRIVATE KEY");
  });

  it("pgBackRest's exporter on the repository host, when there is one", () => {
    const withBackup = parseStackConfig(
      JSON.parse(
        JSON.stringify({
          ...raw,
          tls: { enabled: true },
          hosts: [...raw.hosts, { name: "repo", address: "10.0.26.30", roles: ["backup"] }],
        }),
      ),
      () => false,
    );
    const t = scrapeTargets(withBackup, topologyOf(withBackup));
    expect(t.pgbackrest).toEqual([{ target: "10.0.26.30:9854", member: "repo" }]);
    expect(t.node.map((x) => x.member)).toContain("repo");
    expect(targets.pgbackrest).toEqual([]);
    expect(exportersOn(["backup"]).map((e) => e.job)).toEqual(["node", "pgbackrest"]);
    const env = envOf(
      renderEnvironmentFile(
        ctx,
        exporterEnvironment(PGBACKREST_EXPORTER, {
          address: "10.0.26.30",
          monitorAddress: "10.0.26.20",
          postgresPort: 5432,
          pgbouncerPort: 6432,
          monitoringUser: MONITORING_USER,
          socketDir: "/var/run/postgresql",
          localMachine: true,
          pgbackrestConfig: "/etc/pgbackrest/pgbackrest.conf",
        }),
      ),
    );
    expect(env.ARGS).toBe("--web.listen-address=10.0.26.30:9854 --backrest.config=/etc/pgbackrest/pgbackrest.conf");
  });
});

describe("alertmanager.yml", () => {
  it("one receiver with the webhooks, the local receiver and e-mail; the SMTP password only by file", () => {
    const m = parseStackConfig(
      {
        ...JSON.parse(JSON.stringify(raw)),
        alertmanagerSmtpPassword: "pw",
        monitor: {
          alertmanager: {
            groupWait: "5s",
            webhooks: [{ url: "https://hooks.example.org/x" }],
            email: { to: ["a@b.org", "c@d.org"], from: "am@b.org", smarthost: "smtp.b.org:587", authUsername: "am" },
            localReceiver: true,
          },
        },
      },
      (k) => k === "alertmanagerSmtpPassword",
    ).monitor.alertmanager;
    const doc = yaml.load(renderAlertmanagerConfig(ctx, alertmanagerInput(m, true))) as any;
    expect(doc.route).toMatchObject({ receiver: "cluster", group_by: ["alertname", "cluster"], group_wait: "5s" });
    expect(doc.receivers[0].webhook_configs).toEqual([
      { url: "https://hooks.example.org/x", send_resolved: true },
      { url: "http://127.0.0.1:9099/alerts", send_resolved: true },
    ]);
    expect(doc.receivers[0].email_configs).toEqual([
      {
        to: "a@b.org, c@d.org",
        from: "am@b.org",
        smarthost: "smtp.b.org:587",
        auth_username: "am",
        auth_password_file: "/etc/prometheus/alertmanager-smtp-password",
        require_tls: true,
        send_resolved: true,
      },
    ]);
    // Without a login there is no password file either.
    const anonymous = yaml.load(
      renderAlertmanagerConfig(
        ctx,
        alertmanagerInput({ ...m, email: { ...m.email!, authUsername: undefined } }, false),
      ),
    ) as any;
    expect(anonymous.receivers[0].email_configs[0].auth_password_file).toBeUndefined();
  });
});

describe("the services' flags", () => {
  const host = {
    address: "10.0.26.11",
    monitorAddress: "10.0.26.20",
    postgresPort: 5432,
    pgbouncerPort: 6432,
    monitoringUser: MONITORING_USER,
    socketDir: "/var/run/postgresql",
    localMachine: false,
    pgbackrestConfig: "/etc/pgbackrest/pgbackrest.conf",
  };

  it("every exporter listens on the host's address only and answers only the monitor and the host", () => {
    for (const e of exportersOn(["postgres", "pgbouncer"])) {
      const env = envOf(renderEnvironmentFile(ctx, exporterEnvironment(e, host)));
      expect(env.ARGS).toContain(`--web.listen-address=10.0.26.11:${e.port}`);
      expect(env.ARGS).not.toMatch(/listen-address=(:|0\.0\.0\.0)/);
      const dropIn = renderSystemdDropIn(ctx, exporterDropIn(e, host));
      expect(dropIn).toContain("IPAddressDeny=any\n");
      expect(dropIn).toContain("IPAddressAllow=localhost 10.0.26.11 10.0.26.20\n");
    }
  });

  it("the database exporters log in over the unix socket as prometheus, with no password anywhere", () => {
    const pg = envOf(renderEnvironmentFile(ctx, exporterEnvironment(POSTGRES_EXPORTER, host)));
    expect(pg.DATA_SOURCE_NAME).toBe(
      "host=/var/run/postgresql port=5432 user=prometheus dbname=postgres sslmode=disable",
    );
    const bouncer = envOf(renderEnvironmentFile(ctx, exporterEnvironment(PGBOUNCER_EXPORTER, host)));
    expect(bouncer.PGBOUNCER_EXPORTER_CONNECTION_STRING).toBe(
      "postgres:///pgbouncer?host=/var/run/postgresql&port=6432&user=prometheus&sslmode=disable",
    );
    // Debian runs it as postgres, PgBouncer's admin; as prometheus it is a stats user.
    expect(renderSystemdDropIn(ctx, exporterDropIn(PGBOUNCER_EXPORTER, host))).toContain("User=prometheus\n");
  });

  it("node-exporter keeps overlay filesystems on local machines (their root is one)", () => {
    const [node] = exportersOn([]);
    const local = envOf(renderEnvironmentFile(ctx, exporterEnvironment(node, { ...host, localMachine: true })));
    expect(local.ARGS).toMatch(/--collector\.filesystem\.fs-types-exclude=\^\([^ ]*\)\$/);
    expect(local.ARGS).not.toContain("overlay");
    expect(envOf(renderEnvironmentFile(ctx, exporterEnvironment(node, host))).ARGS).not.toContain("fs-types");
  });

  it("Prometheus keeps the configured retention, without the lifecycle API; Alertmanager without a cluster port", () => {
    const m = { address: "10.0.26.20", prometheusPort: 9090, alertmanagerPort: 9093, retention: "30d" };
    const p = envOf(renderEnvironmentFile(ctx, prometheusEnvironment(m))).ARGS.split(" ");
    expect(p).toContain("--storage.tsdb.retention.time=30d");
    expect(p).toContain("--web.listen-address=10.0.26.20:9090");
    expect(p.join(" ")).not.toContain("enable-lifecycle");
    const a = envOf(renderEnvironmentFile(ctx, alertmanagerEnvironment(m))).ARGS.split(" ");
    expect(a).toContain("--web.listen-address=10.0.26.20:9093");
    expect(a).toContain("--cluster.listen-address=");
    expect([...p, ...a].join(" ")).not.toContain("web.config.file");
    expect(p).toContain("--web.external-url=http://10.0.26.20:9090/");
  });

  it("with TLS both listeners read the web configuration and name themselves https", () => {
    const m = {
      address: "10.0.26.20",
      prometheusPort: 9090,
      alertmanagerPort: 9093,
      retention: "30d",
      webConfig: WEB_CONFIG_PATH,
    };
    const p = envOf(renderEnvironmentFile(ctx, prometheusEnvironment(m))).ARGS.split(" ");
    const a = envOf(renderEnvironmentFile(ctx, alertmanagerEnvironment(m))).ARGS.split(" ");
    expect(p).toContain(`--web.config.file=${WEB_CONFIG_PATH}`);
    expect(p).toContain("--web.external-url=https://10.0.26.20:9090/");
    expect(a).toContain(`--web.config.file=${WEB_CONFIG_PATH}`);
    expect(a).toContain("--web.external-url=https://10.0.26.20:9093/");
  });

  it("an environment value that would break the file is refused", () => {
    expect(() => renderEnvironmentFile(ctx, [["ARGS", 'a"b']])).toThrow(/quote/);
    expect(() => renderEnvironmentFile(ctx, [["ARGS", "$HOME"]])).toThrow(/VARIABLE/);
  });
});

describe("what the other roles open for the monitor", () => {
  it("HAProxy's exporter on a frontend of its own, refused to anyone but the monitor", () => {
    const h = config.hosts.find((x) => x.name === "proxy")!;
    const cfg = renderHaproxyConfig(ctx, haproxyConfigInput(config, topology, h, "pw"));
    const frontend = cfg.slice(cfg.indexOf("frontend prometheus"));
    expect(frontend).toContain("bind 10.0.26.10:8405");
    expect(frontend).toContain("tcp-request connection reject unless { src 127.0.0.1 10.0.26.20/32 }");
    expect(frontend).toContain("http-request use-service prometheus-exporter if { path /metrics }");
    expect(frontend).not.toContain("stats auth");
    // No monitor host, no frontend.
    const plain = parseStackConfig(JSON.parse(JSON.stringify(seed002)), () => false);
    expect(renderHaproxyConfig(ctx, haproxyConfigInput(plain, topologyOf(plain), h, "pw"))).not.toContain("prometheus");
  });

  it("with TLS, HAProxy's exporter frontend serves https with the host's certificate", () => {
    const tlsConfig = parseStackConfig(JSON.parse(JSON.stringify({ ...raw, tls: { enabled: true } })), () => false);
    const h = tlsConfig.hosts.find((x) => x.name === "proxy")!;
    const cfg = renderHaproxyConfig(ctx, haproxyConfigInput(tlsConfig, topologyOf(tlsConfig), h, "pw"));
    expect(cfg.slice(cfg.indexOf("frontend prometheus"))).toContain(
      "bind 10.0.26.10:8405 ssl crt /etc/pulumi-patroni/tls/haproxy.pem",
    );
  });

  it("etcd's metrics listener runs with a monitor host even without TLS, and opens its port", () => {
    const plain = parseStackConfig(JSON.parse(JSON.stringify(seed002)), () => false);
    const env = (c: typeof config) => renderEtcdEnvironment(ctx, etcdEnvironmentInput(c, c.hosts[0], "plain"));
    expect(env(config)).toContain('ETCD_LISTEN_METRICS_URLS="http://10.0.26.10:2381,http://127.0.0.1:2381"');
    expect(env(plain)).not.toContain("METRICS");
    expect(etcdSlice.ports(config).map((p) => p.port)).toContain(2381);
    expect(etcdSlice.ports(plain).map((p) => p.port)).not.toContain(2381);
  });

  it("PostgreSQL: a pg_monitor role without a password, peer on the unix socket before any other local rule", () => {
    const hba = renderPgHba({
      cluster: config.cluster,
      clusterAddresses: ["10.0.26.11"],
      replicationAddresses: ["10.0.26.11"],
      monitoringUser: MONITORING_USER,
      tls: { stage: "plain", paths: TLS_PATHS, allowPlainClients: false },
    });
    expect(hba.slice(0, 3)).toEqual([
      "local all postgres peer",
      "local all prometheus peer",
      "local all all scram-sha-256",
    ]);
    const sql = renderClusterSql(config.cluster, "pw", {}, MONITORING_USER);
    expect(sql).toContain('ALTER ROLE "prometheus" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD NULL;');
    expect(sql).toContain('GRANT pg_monitor TO "prometheus";');
    expect(renderClusterSql(config.cluster, "pw", {})).not.toContain("prometheus");
  });

  it("PgBouncer: prometheus a stats user by peer on the socket, refused over the network", () => {
    const hba = renderPgbouncerHba(ctx, {
      authType: "scram-sha-256",
      superuser: "postgres",
      clusterAddresses: ["10.0.26.11"],
      adminNetworks: [],
      monitoringUser: MONITORING_USER,
      tlsOnly: false,
    }).split("\n");
    expect(hba).toContain("local pgbouncer prometheus peer");
    expect(hba.indexOf("host all prometheus 0.0.0.0/0 reject")).toBeLessThan(
      hba.indexOf("host all all 0.0.0.0/0 scram-sha-256"),
    );
    const ini = renderPgbouncerIni(ctx, {
      listenAddress: "10.0.26.11",
      port: 6432,
      postgresPort: 5432,
      poolMode: "session",
      defaultPoolSize: 20,
      maxClientConn: 100,
      authType: "scram-sha-256",
      adminUsers: ["postgres"],
      statsUsers: [MONITORING_USER],
      tls: { stage: "plain", paths: TLS_PATHS, allowPlainClients: false },
    });
    expect(ini).toContain("stats_users = postgres,prometheus\n");
    expect(ini).toContain("admin_users = postgres\n");
    expect(ini).toContain("ignore_startup_parameters = extra_float_digits,options\n");
  });
});

describe("the cluster page", () => {
  it("is a console template with the managed line as a template comment", () => {
    const page = renderClusterPage(ctx);
    expect(page.split("\n")[0]).toBe(
      "{{/* Managed by pulumi-patroni (stack test). Do not edit: change Pulumi.test.yaml and run pulumi up. */}}",
    );
    for (const id of ["summary", "leader", "members", "tps", "pgbouncer", "haproxy", "etcd", "alerts"])
      expect(page).toContain(`id="${id}"`);
    expect(page).toContain("<title>PostgreSQL cluster {{ $c }}</title>");
  });

  it("needs only prom.lib: its own head and navigation, not the example menu.lib's", () => {
    const page = renderClusterPage(ctx);
    const used = [...page.matchAll(/\{\{ template "([^"]+)"/g)].map((m) => m[1]);
    expect(used.filter((t) => !t.startsWith("prom_"))).toEqual([]);
    // The assets at the paths Debian's prometheus serves them (popper.js is a directory there).
    expect(page).toContain("/classic/static/popper.js/umd/popper.min.js");
    expect(page).not.toContain("d3.layout.min.js");
  });
});
