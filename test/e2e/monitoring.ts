// The monitor on a running stand, checked the way a DBA would use it: every
// target up, nothing listening wider than it should, the cluster page in a
// real (headless) browser, an alert from the fault to Alertmanager, the local
// receiver and npm run ctl -- status, a changed monitor section applied by
// pulumi up, e-mail with an SMTP login, and a host added and removed
// without Prometheus restarting.
import { describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { standTargets } from "../harness/scenario";
import { expectedTargets, matches, Monitoring } from "../harness/monitoring";
import { ctl } from "../faults/scenarios";
import {
  HAPROXY_METRICS_PORT,
  NODE_EXPORTER,
  PGBOUNCER_EXPORTER,
  POSTGRES_EXPORTER,
} from "../../src/roles/monitor/exporters";
import { ALERTMANAGER_PORT, PROMETHEUS_PORT } from "../../src/roles/monitor/slice";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every port the monitor scrapes, by job. */
const PORTS = {
  node: NODE_EXPORTER.port,
  patroni: 8008,
  postgres: POSTGRES_EXPORTER.port,
  pgbouncer: PGBOUNCER_EXPORTER.port,
  etcd: 2381,
  haproxy: HAPROXY_METRICS_PORT,
  prometheus: PROMETHEUS_PORT,
  alertmanager: ALERTMANAGER_PORT,
};

/** Every target of the stand is up, and Prometheus scrapes exactly those; returns how long it took. */
export async function expectEveryTargetUp(stand: Stand, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  const monitoring = new Monitoring(stand);
  const want = expectedTargets(stand, PORTS);
  let seen: string[] = [];
  while (Date.now() - start < timeoutMs) {
    const targets = await monitoring.targets();
    seen = targets.map((t) => `${t.job}=${t.instance}${t.health === "up" ? "" : ` (${t.health})`}`).sort();
    if (JSON.stringify(seen) === JSON.stringify(want)) return Date.now() - start;
    await sleep(1000);
  }
  expect(seen).toEqual(want);
  return Date.now() - start;
}

/** The cluster page as headless Chromium renders it (its scripts run): the members table, row by row. */
function clusterPageMembers(url: string): string[][] {
  const chromium = childProcess
    .execFileSync(path.join(REPO, "scripts", "prepare.sh"), ["--browser"], {
      encoding: "utf8",
    })
    .trim();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chromium-profile-"));
  try {
    const dom = childProcess.execFileSync(
      chromium,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
      ],
      { encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    const table = /<table[^>]*id="members"[^>]*>([\s\S]*?)<\/table>/.exec(dom)?.[1];
    if (!table) throw new Error(`no members table in the page:\n${dom.slice(0, 2000)}`);
    return table
      .split(/<tr>/)
      .slice(2)
      .map((row) =>
        row
          .split(/<\/td>/)
          .map((cell) => cell.replace(/<[^>]+>/g, "").trim())
          .filter((cell, i, all) => i < all.length - 1 || cell !== ""),
      )
      .filter((cells) => cells.length > 2);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** `secretSet`: called with each secret the tests configure (the log search looks for them later). */
export function monitoringTests(stand: Stand, clusterName: string, secretSet: (secret: string) => void): void {
  const monitoring = new Monitoring(stand);

  describe("monitoring", () => {
    it("every scrape target is up after the fresh deploy", async () => {
      const took = await expectEveryTargetUp(stand);
      console.log(`[e2e] every target up ${(took / 1000).toFixed(1)} s after the checks began`);
    });

    it("listeners bind to their host's address (never every address); HAProxy's exporter answers only the monitor", () => {
      const ports = Object.values(PORTS).join("|");
      for (const host of Object.keys(stand.outputs.hosts)) {
        const wide = stand.ssh(
          host,
          `ss -Hltn | awk '{print $4}' | grep -E '^(\\*|0\\.0\\.0\\.0|\\[::\\]):(${ports}|9094)$' || true`,
        );
        expect(wide, `${host} listens on every address`).toBe("");
      }
      const mon = monitoring.host;
      // The local receiver is on the loopback only; Alertmanager's cluster port is off.
      expect(stand.ssh(mon, "ss -Hltn | awk '{print $4}' | grep -E ':(9099|2525|9094)$' | sort")).toBe(
        "127.0.0.1:2525\n127.0.0.1:9099",
      );
      for (const h of stand.hostsWith("haproxy")) {
        const url = `http://${stand.address(h)}:${HAPROXY_METRICS_PORT}/metrics`;
        expect(stand.ssh(mon, `curl -s -o /dev/null -w '%{http_code}' ${url}`)).toBe("200");
        const other = stand.hostsWith("postgres")[0];
        expect(stand.ssh(other, `curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${url} || true`)).toBe("000");
      }
      // Each exporter's unit may only exchange packets with the monitor and its host (enforced where systemd has its cgroup firewall).
      const pg = stand.hostsWith("postgres")[0];
      expect(stand.ssh(pg, `systemctl show -p IPAddressAllow --value ${POSTGRES_EXPORTER.unit}`)).toContain(
        stand.address(mon),
      );
    });

    it("the exporters read PostgreSQL and PgBouncer as prometheus, by peer, with no password anywhere", () => {
      const pg = stand.hostsWith("postgres")[0];
      expect(
        stand.ssh(
          pg,
          `runuser -u postgres -- psql -X -At -c "select rolpassword is null, pg_has_role('prometheus', 'pg_monitor', 'member') from pg_authid where rolname = 'prometheus'"`,
        ),
      ).toBe("t|t");
      // Over the network it is refused before any password is asked.
      const refused = stand.ssh(
        stand.hostsWith("client")[0] ?? monitoring.host,
        `PGCONNECT_TIMEOUT=5 psql -X -At "host=${stand.address(pg)} port=6432 user=prometheus dbname=pgbouncer" -c 'SHOW POOLS' 2>&1 || true`,
      );
      expect(refused).toMatch(/rejected|not allowed|no such user/);
      expect(
        stand.ssh(pg, `curl -s http://${stand.address(pg)}:${POSTGRES_EXPORTER.port}/metrics | grep '^pg_up '`),
      ).toBe("pg_up 1");
    });

    it("the cluster page, in headless Chromium, shows the leader and every replica, and follows a switchover", async () => {
      const url = stand.outputs.clusterPageUrl as string;
      const whole = standTargets(stand, clusterName).whole;
      const roleOf = (rows: string[][]) => Object.fromEntries(rows.map((r) => [r[0], `${r[1]} ${r[2]}`]));
      const pageShows = async (leader: string) => {
        for (let i = 0; i < 20; i++) {
          const roles = roleOf(clusterPageMembers(url));
          const ok =
            roles[leader] === "up primary" &&
            stand
              .hostsWith("postgres")
              .filter((h) => h !== leader)
              .every((h) => /^up (replica|sync standby)$/.test(roles[h] ?? ""));
          if (ok) return roles;
          await sleep(3000);
        }
        return roleOf(clusterPageMembers(url));
      };
      const before = leaderOf(await patroniCluster(whole.restUrls))!;
      const shown = await pageShows(before);
      expect(shown[before]).toBe("up primary");
      expect(Object.keys(shown).sort()).toEqual(stand.hostsWith("postgres").sort());
      const r = await ctl(stand, "switchover");
      expect(r.code, r.out).toBe(0);
      await waitWhole(whole, 120_000);
      const after = leaderOf(await patroniCluster(whole.restUrls))!;
      expect(after).not.toBe(before);
      const followed = await pageShows(after);
      expect(followed[after]).toBe("up primary");
      expect(followed[before]).toMatch(/^up (replica|sync standby)$/);
    });

    it("a target that stops answering alerts through Alertmanager, the local receiver and ctl status, and resolves", async () => {
      const host = stand.hostsWith("haproxy")[0];
      const want = { alertname: "TargetDown", job: "node", member: host };
      const since = Date.now();
      stand.ssh(host, `systemctl stop ${NODE_EXPORTER.unit}`);
      let firedAfter = 0;
      try {
        for (;;) {
          if ((await monitoring.activeAlerts()).some((a) => matches(a.labels, want))) break;
          expect(Date.now() - since, "TargetDown within 60 s").toBeLessThan(60_000);
          await sleep(1000);
        }
        firedAfter = Date.now() - since;
        const status = await ctl(stand, "status");
        expect(status.code, status.out).toBe(0);
        expect(status.out).toMatch(new RegExp(`warning +TargetDown +${host} +for `));
        expect(status.out).toContain("Leader");
      } finally {
        stand.ssh(host, `systemctl start ${NODE_EXPORTER.unit}`);
      }
      const healed = Date.now();
      let sent = { firing: false, resolved: false };
      while (Date.now() - healed < 60_000) {
        const active = await monitoring.activeAlerts();
        sent = monitoring.notified(want, since);
        if (!active.some((a) => matches(a.labels, want)) && sent.resolved) break;
        await sleep(2000);
      }
      console.log(
        `[e2e] TargetDown fired ${(firedAfter / 1000).toFixed(1)} s after the stop, resolved within ${((Date.now() - healed) / 1000).toFixed(1)} s of the start`,
      );
      expect(sent).toEqual({ firing: true, resolved: true });
      expect((await ctl(stand, "status")).out).not.toContain("TargetDown");
    });

    it("a host added by pulumi up is scraped, and gone once removed, without Prometheus restarting", async () => {
      const started = () =>
        stand.ssh(monitoring.host, "systemctl show -p ExecMainStartTimestampMonotonic --value prometheus");
      const before = started();
      const existing = stand.hostsWith("haproxy")[0];
      const prefix = stand.address(existing).split(".").slice(0, 3).join(".");
      const added = { name: "haproxy02", address: `${prefix}.32`, roles: ["haproxy"] };
      const key = "pulumi-patroni:hosts";
      stand.editConfig((c) => (c[key] = [...c[key], added]));
      await stand.up("haproxy02 added (monitoring)");
      expect(
        await monitoring.targets().then((t) =>
          t
            .filter((x) => x.member === "haproxy02")
            .map((x) => x.job)
            .sort(),
        ),
      ).toEqual(["haproxy", "node"]);
      await expectEveryTargetUp(stand);
      stand.editConfig((c) => (c[key] = c[key].filter((h: { name: string }) => h.name !== "haproxy02")));
      await stand.up("haproxy02 removed (monitoring)");
      expect((await monitoring.targets()).filter((t) => t.member === "haproxy02")).toEqual([]);
      await expectEveryTargetUp(stand);
      expect(started()).toBe(before);
    });

    it("a changed monitor section is applied by pulumi up: flags, scrape interval, rules, receivers, e-mail with its SMTP login", async () => {
      const password = crypto.randomBytes(12).toString("base64url");
      secretSet(password);
      await stand.setSecret("alertmanagerSmtpPassword", password);
      stand.editConfig((c) => {
        c["pulumi-patroni:monitor"] = {
          ...(c["pulumi-patroni:monitor"] ?? {}),
          scrapeIntervalSeconds: 10,
          retention: "7d",
          alertForSeconds: 30,
          thresholds: { replicationLagBytes: 33554432, certificateExpiryDays: 21 },
          alertmanager: {
            groupWait: "5s",
            groupInterval: "15s",
            repeatInterval: "2h",
            webhooks: [{ url: "http://127.0.0.1:9099/extra", sendResolved: false }],
            email: {
              to: ["dba@example.org"],
              from: "alertmanager@example.org",
              smarthost: "127.0.0.1:2525",
              authUsername: "alerts",
              requireTls: false,
            },
            localReceiver: true,
          },
        };
      });
      await stand.up("monitor section changed");
      const flags = await monitoring.api<Record<string, string>>("status/flags");
      expect(flags["storage.tsdb.retention.time"]).toBe("7d");
      const config = await monitoring.api<{ yaml: string }>("status/config");
      expect(config.yaml).toContain("scrape_interval: 10s");
      const rules = await monitoring.api<{ groups: { rules: { name: string; query: string; duration: number }[] }[] }>(
        "rules",
      );
      const lag = rules.groups.flatMap((g) => g.rules).find((r) => r.name === "PatroniReplicationLagBytes")!;
      expect(lag.query).toContain("> 33554432");
      expect(lag.duration).toBe(30);
      const status = (await (await fetch(`${monitoring.alertmanager}/api/v2/status`)).json()) as {
        config: { original: string };
      };
      expect(status.config.original).toContain("group_interval: 15s");
      expect(status.config.original).toContain("http://127.0.0.1:9099/extra");
      expect(status.config.original).toContain("smarthost: 127.0.0.1:2525");
      expect(status.config.original).not.toContain(password);
      const mon = monitoring.host;
      expect(stand.ssh(mon, "stat -c '%a %U:%G' /etc/prometheus/alertmanager-smtp-password")).toBe(
        "640 root:prometheus",
      );
      expect(stand.ssh(mon, `grep -rlF -- "$(cat)" /etc/prometheus /etc/default || true`, password)).toBe(
        "/etc/prometheus/alertmanager-smtp-password",
      );
      // An alert posted to Alertmanager goes out by e-mail, logging in with the secret.
      const startsAt = new Date().toISOString();
      const posted = await fetch(`${monitoring.alertmanager}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([
          { labels: { alertname: "ReceiverCheck", cluster: clusterName, severity: "warning" }, startsAt },
        ]),
      });
      expect(posted.status).toBe(200);
      const sha = crypto.createHash("sha256").update(password).digest("hex");
      let mail: { user: string; password_sha256: string; to: string[]; subject: string } | undefined;
      for (let i = 0; i < 30 && !mail; i++) {
        await sleep(2000);
        mail = stand
          .ssh(mon, "cat /var/lib/pulumi-patroni-alert-receiver/mail.jsonl 2>/dev/null || true")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((m) => m.subject.includes("ReceiverCheck"));
      }
      expect(mail).toMatchObject({ user: "alerts", password_sha256: sha, to: ["<dba@example.org>"] });
      const preview = await stand.run(["preview", "--expect-no-changes"], true);
      expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    });
  });
}
