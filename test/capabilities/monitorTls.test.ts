// npm run test:capabilities (test/capabilities/monitorTls.test.ts): the
// monitor's own listeners moved to TLS by `pulumi up`, and the e-mail
// receiver end to end, on a stand deployed in plain text: Pulumi.montls.yaml
// (or MONTLS_STACK's file), like Pulumi.moncap.yaml on a bridge and subnet of
// its own but without the tls field (pg01, pg02: etcd, postgres, pgbouncer;
// haproxy01: haproxy, etcd; client01: client, monitor; monitor timings 5 s /
// 20 s, groupWait 5s, groupInterval 10s, localReceiver). A leftover stand is destroyed first and this run's at the end
// (MONTLS_KEEP=1: brought up from where it is and left up).
//   1. plain text: Prometheus and Alertmanager on http;
//   2. tls.enabled: true by pulumi up: both serve https only with the monitor
//      host's certificate (curl --cacert works, plain http refused, on the
//      host and from the controller), restarted once with the new flags; their
//      certificate and key in monitor.pem, root:prometheus 0640; Prometheus
//      scrapes both and sends its alerts over https; the outputs, `npm run
//      ctl status`, the harness's Monitoring/AlertWatch and the cluster page
//      in a headless browser follow; a second up changes nothing;
//   3. monitor.alertmanager.email by pulumi up (the local receiver's SMTP
//      listener as smarthost, a login whose password is a Pulumi secret),
//      Alertmanager reloaded, not restarted: a replica's postgres exporter
//      stopped raises TargetDown, which arrives by e-mail (the alert's name in
//      the subject, the login and the password's hash as the server saw them)
//      within MAIL_WITHIN_MS, and its resolution after the heal; the password
//      is nowhere in the state in clear, in no file but its own (0640), in no
//      process's command line, in nothing pulumi printed.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";
import { Browser, findChromium } from "../harness/browser";
import { readClusterPage } from "../harness/clusterPage";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { ctl } from "../harness/ctl";
import { httpRequest, verifiedSpki } from "../harness/https";
import { AlertWatch, expectEveryTargetUp, Monitoring, SCRAPE_PORTS } from "../harness/monitoring";
import { standTargets } from "../harness/scenario";
import { ALERTMANAGER_SMTP_PASSWORD_PATH } from "../../src/roles/monitor/alertmanagerConfig";
import { WEB_CONFIG_PATH } from "../../src/roles/monitor/prometheusConfig";
import { ALERTMANAGER_PORT, LOCAL_SMTP_PORT, PROMETHEUS_PORT } from "../../src/roles/monitor/slice";
import { TLS_PATHS } from "../../src/tls/settings";

const STACK = process.env.MONTLS_STACK ?? "montls";
const stand = new Stand(STACK, {
  PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "montls-stand-passphrase",
});
const monitoring = new Monitoring(stand);
const KEEP = process.env.MONTLS_KEEP === "1";
const MONITOR_KEY = "pulumi-patroni:monitor";

/**
 * With the stand's monitor (scrapes every 5 s, alertForSeconds 20,
 * groupWait 5 s): TargetDown fires within about 35 s of the stop (a scrape,
 * 20 s held, an evaluation, the group's wait) and the mail leaves at once;
 * 90 s leaves room for a loaded controller. Its resolution: the next good
 * scrape, an evaluation, the group's next interval (10 s).
 */
const MAIL_WITHIN_MS = 90_000;
const RESOLVED_MAIL_WITHIN_MS = 90_000;

const figures: Record<string, string> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function expectNoChanges() {
  const preview = await stand.run(["preview", "--expect-no-changes"], true);
  expect(preview.code, preview.stdout + preview.stderr).toBe(0);
}

/** When systemd last started `unit` on the monitor host (monotonic µs): a restart changes it, a reload does not. */
const startedAt = (unit: string) =>
  stand.ssh(monitoring.host, `systemctl show -p ExecMainStartTimestampMonotonic --value ${unit}`);

/** A command's exit status on the monitor host (the command's own output dropped). */
const exitOf = (command: string) => Number(stand.ssh(monitoring.host, `${command} >/dev/null 2>&1; echo $?`));

describe(`the monitor's TLS and e-mail on stack ${STACK}`, () => {
  beforeAll(async () => {
    await stand.select();
    if (!KEEP) {
      const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
      if (leftover.code !== 0) throw new Error(`could not destroy a leftover ${STACK} stand:\n${leftover.stderr}`);
    }
    await stand.up("pulumi up (a plain-text monitored cluster)");
  });

  afterAll(async () => {
    if (!KEEP) await stand.run(["destroy", "--yes", "--skip-preview"], true);
    stand.cleanup();
    console.log(`[montls] timings: ${JSON.stringify(stand.timings)}; ${JSON.stringify(figures)}`);
  });

  it("in plain text Prometheus and Alertmanager answer on http", async () => {
    expect(stand.config()["pulumi-patroni:tls"]?.enabled ?? false, "the stack starts in plain text").toBe(false);
    expect(monitoring.prometheus).toBe(`http://${stand.address(monitoring.host)}:${PROMETHEUS_PORT}`);
    expect(monitoring.alertmanager).toBe(`http://${stand.address(monitoring.host)}:${ALERTMANAGER_PORT}`);
    for (const url of [monitoring.prometheus, monitoring.alertmanager])
      expect((await httpRequest(`${url}/-/ready`, { timeoutMs: 5000 })).status, url).toBe(200);
    await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS, 120_000);
  });

  it("tls.enabled: true by pulumi up: both listeners https only, with the host's certificate, everyone following", async () => {
    const before = { prometheus: startedAt("prometheus"), alertmanager: startedAt("prometheus-alertmanager") };
    stand.editConfig((c) => (c["pulumi-patroni:tls"] = { enabled: true }));
    await stand.up("tls.enabled: false -> true");
    const address = stand.address(monitoring.host);
    // The outputs name https, and the harness verifies with the stack's CAs.
    expect(monitoring.prometheus).toBe(`https://${address}:${PROMETHEUS_PORT}`);
    expect(monitoring.alertmanager).toBe(`https://${address}:${ALERTMANAGER_PORT}`);
    expect(stand.outputs.clusterPageUrl).toBe(`https://${address}:${PROMETHEUS_PORT}/consoles/pg-cluster.html`);
    const tls = monitoring.tls!;
    expect(tls, "tlsCaCertificate output").toBeDefined();
    // Restarted once with the new flags (the web configuration).
    expect(startedAt("prometheus")).not.toBe(before.prometheus);
    expect(startedAt("prometheus-alertmanager")).not.toBe(before.alertmanager);

    for (const [name, port] of [
      ["prometheus", PROMETHEUS_PORT],
      ["alertmanager", ALERTMANAGER_PORT],
    ] as const) {
      // From the controller: verified with the CA, refused without it, plain http not served.
      const ready = await httpRequest(`https://${address}:${port}/-/ready`, { timeoutMs: 5000, tls });
      expect(ready.status, `${name} over https`).toBe(200);
      const unverified = await httpRequest(`https://${address}:${port}/-/ready`, { timeoutMs: 5000 }).then(
        (r) => `answered ${r.status}`,
        (e: Error) => e.message,
      );
      expect(unverified, `${name} without the CA`).toMatch(/certificate/i);
      const plain = await httpRequest(`http://${address}:${port}/-/ready`, { timeoutMs: 5000 }).then(
        (r) => r,
        (e: Error) => ({ status: 0, text: e.message }),
      );
      expect(plain.status, `${name} over plain http: ${plain.text}`).not.toBe(200);
      // On the monitor host, as a DBA would check it.
      expect(exitOf(`curl -fsS --max-time 5 --cacert ${TLS_PATHS.ca} https://${address}:${port}/-/ready`)).toBe(0);
      expect(exitOf(`curl -fsS --max-time 5 http://${address}:${port}/-/ready`), `${name}: plain http`).not.toBe(0);
      expect(exitOf(`curl -fsS --max-time 5 https://${address}:${port}/-/ready`), `${name}: no CA`).not.toBe(0);
    }
    // The certificate served is the host's (the one under TLS_PATHS.cert).
    const served = await verifiedSpki(monitoring.prometheus, tls);
    const onHost = stand.ssh(
      monitoring.host,
      `openssl x509 -in ${TLS_PATHS.cert} -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
    );
    expect(served).toBe(onHost);

    // The listeners' certificate and key: monitor.pem, root:prometheus 0640 (the user both run as);
    // the host's key stays root:ssl-cert 0640, which Alertmanager is not given.
    expect(stand.ssh(monitoring.host, `stat -c '%a %U %G' ${TLS_PATHS.monitorPem}`)).toBe("640 root prometheus");
    expect(stand.ssh(monitoring.host, `stat -c '%a %U %G' ${TLS_PATHS.key}`)).toBe("640 root ssl-cert");
    expect(stand.ssh(monitoring.host, `cat ${WEB_CONFIG_PATH}`)).not.toContain("PRIVATE KEY");
    expect(stand.ssh(monitoring.host, `cat ${WEB_CONFIG_PATH}`)).toContain(`key_file: ${TLS_PATHS.monitorPem}`);
    const sslCertGid = stand.ssh(monitoring.host, "getent group ssl-cert | cut -d: -f3");
    const groupsOf = (unit: string) =>
      stand
        .ssh(monitoring.host, `grep ^Groups: /proc/$(systemctl show -p MainPID --value ${unit})/status`)
        .split(/\s+/)
        .slice(1);
    expect(groupsOf("prometheus-alertmanager"), "Alertmanager's groups").not.toContain(sslCertGid);
    figures.sslCertGroup = stand.ssh(monitoring.host, "getent group ssl-cert");

    // Prometheus sends its alerts to Alertmanager over https, and scrapes both over https.
    const ams = await monitoring.api<{ activeAlertmanagers: { url: string }[] }>("alertmanagers");
    expect(ams.activeAlertmanagers.map((a) => a.url)).toEqual([
      `https://${address}:${ALERTMANAGER_PORT}/api/v2/alerts`,
    ]);
    const { targets } = await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS, 120_000);
    for (const job of ["prometheus", "alertmanager", "patroni", "haproxy"])
      expect(
        targets.filter((t) => t.job === job).map((t) => t.scrapeUrl.split(":")[0]),
        job,
      ).toEqual(targets.filter((t) => t.job === job).map(() => "https"));

    // npm run ctl status reads Alertmanager over https.
    const status = await ctl(stand, "status");
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(
      new RegExp(`(No alert firing \\(|Firing alerts \\(\\d+, )Alertmanager on ${monitoring.host}`),
    );
    // The harness (what the fault suite's AlertWatch polls) reads it over https.
    expect(Array.isArray(await monitoring.activeAlerts())).toBe(true);
    await expectNoChanges();
  });

  it("the cluster page over https in a headless browser that accepts the verified key only", async () => {
    if (!findChromium()) throw new Error("chromium is missing: PREPARE_BROWSER=1 scripts/prepare.sh");
    const url = stand.outputs.clusterPageUrl as string;
    const host = new URL(url).hostname;
    const t = standTargets(stand, STACK);
    await waitWhole(t.whole, 120_000);
    const leader = leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls))!;
    // Without the key the browser refuses the page (the CA is not its own).
    const untrusting = await Browser.launch(host);
    try {
      const refused = await untrusting.load(url).then(
        (l) => `${l.status} ${l.errors.join("; ")}`,
        (e: Error) => e.message,
      );
      expect(refused).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await untrusting.close();
    }
    const browser = await Browser.launch(host, [await verifiedSpki(url, monitoring.tls!)]);
    try {
      let view = await readClusterPage(browser, url);
      const start = Date.now();
      while (view.summary.Leader !== leader && Date.now() - start < 30_000) {
        await sleep(1000);
        view = await readClusterPage(browser, url);
      }
      expect(view.load.status).toBe(200);
      expect(view.load.errors).toEqual([]);
      expect(view.summary.Leader).toBe(leader);
      expect(view.members.map((m) => m.member)).toEqual(stand.hostsWith("postgres").sort());
    } finally {
      await browser.close();
    }
  });

  it("an e-mail receiver by pulumi up: a replica's exporter stopped arrives by mail, the password kept secret", async () => {
    const password = crypto.randomBytes(18).toString("base64url");
    const user = "alerts";
    await stand.setSecret("alertmanagerSmtpPassword", password);
    stand.editConfig((c) => {
      c[MONITOR_KEY] = {
        ...c[MONITOR_KEY],
        alertmanager: {
          ...c[MONITOR_KEY].alertmanager,
          email: {
            to: ["dba@montls.test"],
            from: "alertmanager@montls.test",
            // The local receiver's SMTP listener on the monitor host's loopback.
            smarthost: `127.0.0.1:${LOCAL_SMTP_PORT}`,
            authUsername: user,
            requireTls: false,
          },
        },
      };
    });
    const amStarted = startedAt("prometheus-alertmanager");
    await stand.up("monitor.alertmanager.email with a login");
    expect(startedAt("prometheus-alertmanager"), "Alertmanager reloaded, not restarted").toBe(amStarted);
    expect(stand.ssh(monitoring.host, `stat -c '%a %U %G' ${ALERTMANAGER_SMTP_PASSWORD_PATH}`)).toBe(
      "640 root prometheus",
    );

    // The fault: a replica's postgres exporter stopped.
    const t = standTargets(stand, STACK);
    await waitWhole(t.whole, 120_000);
    const leader = leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls))!;
    const replica = stand.hostsWith("postgres").find((h) => h !== leader)!;
    const labels = { alertname: "TargetDown", job: "postgres", member: replica };
    const mailsBefore = (await monitoring.mails()).length;
    const faultAt = Date.now();
    const watch = new AlertWatch(
      monitoring,
      [{ labels, firesWithinMs: MAIL_WITHIN_MS, resolvesWithinMs: RESOLVED_MAIL_WITHIN_MS }],
      faultAt,
    );
    const mailed = async (prefix: string) =>
      (await monitoring.mails())
        .slice(mailsBefore)
        .find((m) => m.subject.startsWith(prefix) && m.subject.includes("TargetDown") && m.subject.includes(replica));
    let firingMail: Awaited<ReturnType<typeof mailed>>;
    let firingAfter: number | undefined;
    let healedAt: number;
    stand.ssh(replica, "systemctl stop prometheus-postgres-exporter");
    try {
      while (!firingMail && Date.now() - faultAt < MAIL_WITHIN_MS) {
        await sleep(2000);
        firingMail = await mailed("[FIRING");
      }
      if (firingMail) firingAfter = Date.now() - faultAt;
    } finally {
      stand.ssh(replica, "systemctl start prometheus-postgres-exporter");
      healedAt = Date.now();
    }
    const [outcome] = await watch.finish(healedAt);
    let resolvedMail: Awaited<ReturnType<typeof mailed>>;
    while (!resolvedMail && Date.now() - healedAt < RESOLVED_MAIL_WITHIN_MS) {
      resolvedMail = await mailed("[RESOLVED");
      if (!resolvedMail) await sleep(2000);
    }
    const resolvedAfter = resolvedMail ? Date.now() - healedAt : undefined;
    figures.mail =
      `TargetDown ${replica}: in Alertmanager ${outcome.firedAfterMs === undefined ? "never" : secs(outcome.firedAfterMs)}, ` +
      `mailed ${firingAfter === undefined ? "never" : secs(firingAfter)} after the stop (polled every 2 s); ` +
      `resolved mail ${resolvedAfter === undefined ? "never" : secs(resolvedAfter)} after the start`;
    console.log(`[montls] ${figures.mail}; mails: ${JSON.stringify((await monitoring.mails()).slice(mailsBefore))}`);
    expect(outcome.firedAfterMs, "TargetDown in Alertmanager (over https)").toBeDefined();
    expect(firingMail, `a [FIRING] mail about TargetDown ${replica} within ${MAIL_WITHIN_MS / 1000} s`).toBeDefined();
    expect(firingMail!.to).toEqual(["<dba@montls.test>"]);
    expect(firingMail!.from).toBe("<alertmanager@montls.test>");
    expect(firingMail!.user).toBe(user);
    expect(firingMail!.password_sha256).toBe(crypto.createHash("sha256").update(password).digest("hex"));
    expect(resolvedMail, `a [RESOLVED] mail within ${RESOLVED_MAIL_WITHIN_MS / 1000} s of the heal`).toBeDefined();
    expect(outcome.resolvedAfterMs, "TargetDown resolved in Alertmanager").toBeDefined();

    // The password: not in the state in clear, not in what pulumi printed.
    const exported = await stand.run(["stack", "export"]);
    expect(exported.stdout.includes(password), "pulumi stack export").toBe(false);
    expect(stand.upLog.includes(password), "pulumi up's output").toBe(false);
    const stateDir = path.join(REPO, ".pulumi-state");
    const inState = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return inState(p);
        return fs.readFileSync(p).includes(password) ? [p] : [];
      });
    if (fs.existsSync(stateDir)) expect(inState(stateDir), "state files holding the password").toEqual([]);
    expect(fs.readFileSync(stand.configPath, "utf8").includes(password), "the stack's config file").toBe(false);
    // On the monitor host only its own file holds it (grep reads the password from stdin, never argv).
    const holders = stand
      .ssh(
        monitoring.host,
        "grep -rlF -f - /etc /var/lib /var/log /run /tmp /root /home /usr/local /opt 2>/dev/null || true",
        password,
      )
      .split("\n")
      .filter(Boolean);
    expect(holders).toEqual([ALERTMANAGER_SMTP_PASSWORD_PATH]);
    // No process's command line on any host carries it (bash's own match: no argv of ours holds it).
    for (const host of Object.keys(stand.outputs.hosts)) {
      const hits = stand.ssh(
        host,
        'read -r pw; n=0; for f in /proc/[0-9]*/cmdline; do c=$(tr "\\0" " " < "$f" 2>/dev/null) || continue; [[ $c == *"$pw"* ]] && n=$((n + 1)); done; echo "$n"',
        `${password}\n`,
      );
      expect(hits, `processes on ${host} with the password in their command line`).toBe("0");
    }
    await expectNoChanges();
  });
});
