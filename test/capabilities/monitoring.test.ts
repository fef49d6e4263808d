// npm run test:capabilities (test/capabilities/monitoring.test.ts): the
// monitor role on its own stand (Pulumi.moncap.yaml: two database hosts,
// etcd's third member on the HAProxy host, the client host carrying the
// monitor role; TLS on). A leftover stand is destroyed first; this run's is
// destroyed at the end.
//   1. after the fresh deploy every scrape target is up, Patroni's REST API,
//      HAProxy's exporter, Prometheus and Alertmanager scraped over https
//      (verified with the cluster's CA), and a second `pulumi up` has nothing
//      to change;
//   2. a changed alert threshold is applied by `pulumi up` as a reload:
//      Prometheus shows the new rule, its start time unchanged;
//   3. a real fault: a replica's Patroni stopped raises PatroniMemberMissing
//      and PatroniReplicaNotStreaming for that member in Alertmanager and at
//      the local webhook receiver, and both resolve once it runs again;
//   4. a host added by `pulumi up` is scraped, and no longer once removed,
//      Prometheus never restarted.
// The cluster page (clusterPageUrl) is loaded in a real headless browser
// (Debian's chromium, test/harness/browser.ts; this file runs
// PREPARE_BROWSER=1 scripts/prepare.sh to install it when it is missing): after the deploy it
// answers 200 with no script or asset error and shows the leader and every
// replica with their roles, the timeline, replay lag, commits per second,
// the sessions held through PgBouncer, HAProxy's backends and etcd's members;
// during the fault of 3 the member's Patroni down and both alerts firing; and
// it shows a switchover's new leader within PAGE_FOLLOWS_WITHIN_MS of
// Patroni's REST API reporting it.
import * as childProcess from "child_process";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";
import { Browser, CHROMIUM, findChromium } from "../harness/browser";
import { ClusterPageView, pageLeaders, readClusterPage } from "../harness/clusterPage";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { ctl } from "../harness/ctl";
import { standTargets } from "../harness/scenario";
import { connectAny } from "../harness/traffic";
import { verifiedSpki } from "../harness/https";
import { AlertWatch, expectEveryTargetUp, Monitoring, SCRAPE_PORTS } from "../harness/monitoring";

const STACK = "moncap";
const CLUSTER = "moncap";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "moncap-stand-passphrase" });
const monitoring = new Monitoring(stand);
const MONITOR_KEY = "pulumi-patroni:monitor";
/** MONCAP_KEEP=1: bring the stand up from where it is and leave it up (while developing); else fresh, destroyed after. */
const KEEP = process.env.MONCAP_KEEP === "1";

/**
 * The bounds on the fault's alerts with this stand's monitor (scrapes every
 * 5 s, alertForSeconds 20, Alertmanager's groupWait 5 s, groupInterval 10 s):
 * seen within a scrape, held 20 s, evaluated within 5 s, grouped 5 s: about
 * 35 s after the fault; gone at the next evaluation after a good scrape,
 * notified at the group's next interval.
 */
const FIRES_WITHIN_MS = 60_000;
const RESOLVES_WITHIN_MS = 90_000;

/**
 * The cluster page follows the cluster within a scrape (5 s here) of the
 * change, plus the time Prometheus takes to render the page and the test's
 * reload every second: 30 s leaves room for a loaded controller.
 */
const PAGE_FOLLOWS_WITHIN_MS = 30_000;
/** A switchover from its request until the page shows the old leader streaming from the new one on the new timeline. */
const PAGE_WHOLE_WITHIN_MS = 120_000;

let browser: Browser | undefined;
/**
 * The one headless browser of this file, started on first use; with TLS it
 * accepts the key of the certificate Prometheus serves, once verified here
 * against the stack's CAs.
 */
async function theBrowser(): Promise<Browser> {
  if (!browser) {
    const tls = monitoring.tls;
    const trust = tls ? [await verifiedSpki(pageUrl(), tls)] : [];
    browser = await Browser.launch(new URL(pageUrl()).hostname, trust);
  }
  return browser;
}
const pageUrl = () => stand.outputs.clusterPageUrl as string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reloads the page once a second until `done` holds for what it shows, or
 * `timeoutMs` passed: the last view, and when (ms after the call) a load
 * showing it ended; undefined: never.
 */
async function pageUntil(
  done: (v: ClusterPageView) => boolean,
  timeoutMs: number,
): Promise<{ view?: ClusterPageView; afterMs?: number; error?: string }> {
  const b = await theBrowser();
  const start = Date.now();
  let view: ClusterPageView | undefined;
  let error: string | undefined;
  while (Date.now() - start < timeoutMs) {
    try {
      view = await readClusterPage(b, pageUrl());
      error = undefined;
      if (done(view)) return { view, afterMs: Date.now() - start };
    } catch (e) {
      error = String(e);
    }
    await sleep(1000);
  }
  return { view, error };
}

const rowOf = (v: ClusterPageView, table: string, key: string, value: string) =>
  (v.tables[table] ?? []).find((r) => r[key] === value);
/** HAProxy's primary backend on every HAProxy host has exactly `leader` UP, the others DOWN. */
const haproxyRoutesTo = (v: ClusterPageView, leader: string, others: string[]) =>
  stand
    .hostsWith("haproxy")
    .every((h) =>
      (v.tables.haproxy ?? []).some(
        (r) =>
          r["HAProxy on"] === h &&
          r["Backend"] === `${CLUSTER}-primary` &&
          r["Servers UP"] === "1" &&
          r["Server states"].split(/ (?=\S+: )/).includes(`${leader}: UP`) &&
          others.every((o) => r["Server states"].includes(`${o}: DOWN`)),
      ),
    );

const figures: Record<string, string> = {};

async function expectNoChanges() {
  const preview = await stand.run(["preview", "--expect-no-changes"], true);
  expect(preview.code, preview.stdout + preview.stderr).toBe(0);
}

/** When systemd last started Prometheus (monotonic µs): a restart changes it, a reload does not. */
const prometheusStarted = () =>
  stand.ssh(monitoring.host, "systemctl show -p ExecMainStartTimestampMonotonic --value prometheus");

beforeAll(async () => {
  // The browser before the stand: a controller without chromium gets it from scripts/prepare.sh.
  if (!findChromium()) {
    const r = childProcess.spawnSync(path.join(REPO, "scripts", "prepare.sh"), {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, PREPARE_BROWSER: "1" },
    });
    if (r.status !== 0 || !findChromium())
      throw new Error(`${CHROMIUM} is missing and scripts/prepare.sh did not install it (exit ${r.status})`);
  }
  await stand.select();
  if (!KEEP) {
    const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
    if (leftover.code !== 0)
      throw new Error(`could not destroy a leftover moncap stand:\n${leftover.stdout}${leftover.stderr}`);
  }
  await stand.up("pulumi up (fresh machines to a monitored cluster)");
});

afterAll(async () => {
  await browser?.close();
  if (!KEEP) await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
  console.log(`[moncap] timings: ${JSON.stringify(stand.timings)}; ${JSON.stringify(figures)}`);
});

describe("monitoring on its own stand", () => {
  it("every scrape target is up after the deploy, the TLS endpoints over https; a second up changes nothing", async () => {
    const { tookMs, targets } = await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS);
    figures.targetsUp = `${targets.length} targets up ${(tookMs / 1000).toFixed(1)} s after the deploy ended`;
    const scheme = (job: string) => [
      ...new Set(targets.filter((t) => t.job === job).map((t) => t.scrapeUrl.split(":")[0])),
    ];
    expect(scheme("patroni")).toEqual(["https"]);
    expect(scheme("haproxy")).toEqual(["https"]);
    expect(scheme("etcd")).toEqual(["http"]);
    // Prometheus and Alertmanager themselves serve https only (the stand has TLS).
    expect(scheme("prometheus")).toEqual(["https"]);
    expect(scheme("alertmanager")).toEqual(["https"]);
    expect(monitoring.prometheus).toMatch(/^https:/);
    // Nothing fires on a healthy cluster.
    expect((await monitoring.activeAlerts()).map((a) => a.labels.alertname)).toEqual([]);
    const started = Date.now();
    await expectNoChanges();
    figures.noChangePreview = `${((Date.now() - started) / 1000).toFixed(1)} s`;
  });

  it("the cluster page in a headless browser: leader, replicas, timeline, lag, TPS, PgBouncer, HAProxy, etcd, alerts", async () => {
    expect(pageUrl()).toBe(`${monitoring.prometheus}/consoles/pg-cluster.html`);
    const t = standTargets(stand, CLUSTER);
    await waitWhole(t.whole, 120_000);
    const patroni = (await patroniCluster(t.whole.restUrls, t.whole.tls))!;
    const leader = leaderOf(patroni)!;
    const timeline = String(patroni.find((m) => m.name === leader)!.timeline);
    const pgHosts = stand.hostsWith("postgres").sort();
    const replicas = pgHosts.filter((h) => h !== leader);
    // Three sessions held through the entry (HAProxy, then PgBouncer on the leader).
    const sessions = await Promise.all([1, 2, 3].map(() => connectAny(t.primary, t.creds, 10_000)));
    let shown: Awaited<ReturnType<typeof pageUntil>>;
    try {
      shown = await pageUntil(
        (v) => Number(rowOf(v, "pgbouncer", "Member", leader)?.["Clients active"]) >= 3,
        PAGE_FOLLOWS_WITHIN_MS,
      );
    } finally {
      await Promise.all(sessions.map((c) => c.close()));
    }
    const v = shown.view;
    expect(v, `the page never loaded: ${shown.error}`).toBeDefined();
    figures.pageLoad = `${v!.load.loadMs} ms to the load event; held sessions shown after ${shown.afterMs} ms`;
    console.log(`[moncap] cluster page: ${JSON.stringify(v)}`);
    // It loads: 200, its title and heading, no script or asset error, the graph drawn by its scripts.
    expect(v!.load.status).toBe(200);
    expect(v!.load.title).toBe(`PostgreSQL cluster ${CLUSTER}`);
    expect(v!.heading).toBe(`PostgreSQL cluster ${CLUSTER}`);
    expect(v!.load.errors).toEqual([]);
    expect(
      await (await theBrowser()).waitFor("document.querySelector('#tpsGraph svg path')", 15_000),
      "the commits/s graph drawn",
    ).toBe(true);
    // The leader and every replica, with their roles, streaming on the leader's timeline.
    expect(v!.summary).toMatchObject({ Leader: leader, Primaries: "1", Timeline: timeline, "Firing alerts": "0" });
    expect(v!.members.map((m) => m.member)).toEqual(pgHosts);
    expect(v!.members.find((m) => m.member === leader)).toMatchObject({
      api: "up",
      role: "primary",
      postgres: "running",
      timeline,
    });
    for (const r of replicas) {
      const row = v!.members.find((m) => m.member === r)!;
      expect(row, r).toMatchObject({ api: "up", postgres: "running", streaming: "yes", timeline });
      expect(["replica", "sync standby", "quorum standby"], `${r}'s role`).toContain(row.role);
      expect(row.replayLag, `${r}'s replay lag`).toMatch(/^[0-9.]+[kMGT]?i?B$/);
    }
    // Commits per second per member, and PgBouncer's clients: the three held sessions on the leader's.
    expect(v!.tables.tps.map((r) => r["Member"])).toEqual(pgHosts);
    for (const r of v!.tables.tps) expect(Number(r["Commits/s"]), `${r["Member"]} commits/s`).toBeGreaterThanOrEqual(0);
    expect(Number(v!.summary["Commits/s"])).toBeGreaterThan(0);
    expect(shown.afterMs, "the held sessions on the page").toBeDefined();
    expect(v!.tables.pgbouncer.map((r) => [r["Member"], r["PgBouncer"]])).toEqual(
      stand
        .hostsWith("pgbouncer")
        .sort()
        .map((h) => [h, "up"]),
    );
    // HAProxy's backends: the primary's routes to the leader only, the replicas' to every replica.
    expect(haproxyRoutesTo(v!, leader, replicas), JSON.stringify(v!.tables.haproxy)).toBe(true);
    for (const h of stand.hostsWith("haproxy")) {
      const r = v!.tables.haproxy.find((x) => x["HAProxy on"] === h && x["Backend"] === `${CLUSTER}-replicas`);
      expect(r?.["Servers UP"], `${h} ${CLUSTER}-replicas`).toBe(String(replicas.length));
      for (const rep of replicas) expect(r!["Server states"]).toContain(`${rep}: UP`);
    }
    // etcd: every member scraped with a leader, exactly one of them the leader.
    expect(v!.tables.etcd.map((r) => [r["Member"], r["Scrape"], r["Has leader"]])).toEqual(
      stand
        .hostsWith("etcd")
        .sort()
        .map((h) => [h, "up", "yes"]),
    );
    expect(v!.tables.etcd.filter((r) => r["Is leader"] === "leader")).toHaveLength(1);
    // Nothing firing.
    expect(v!.tables.alerts.map((r) => r["Alert"])).toEqual(["none"]);
  });

  it("the cluster page shows a switchover's new leader within 30 s of Patroni reporting it", async () => {
    const t = standTargets(stand, CLUSTER);
    await waitWhole(t.whole, 120_000);
    const patroni = (await patroniCluster(t.whole.restUrls, t.whole.tls))!;
    const from = leaderOf(patroni)!;
    const timeline = patroni.find((m) => m.name === from)!.timeline!;
    const to = stand.hostsWith("postgres").find((h) => h !== from)!;
    const others = stand.hostsWith("postgres").filter((h) => h !== to);
    const at = Date.now();
    const switchover = ctl(stand, "switchover", "--to", to);
    // When Patroni's REST API first names the new leader (polled every 250 ms).
    let restAt: number | undefined;
    let polling = true;
    const rest = (async () => {
      while (polling && restAt === undefined) {
        if (leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls, 1000)) === to) restAt = Date.now();
        else await sleep(250);
      }
    })();
    let pageAt: number | undefined;
    let wholeAt: number | undefined;
    let whole: Awaited<ReturnType<typeof pageUntil>>;
    try {
      // The page names the new leader, and it alone; then the whole picture follows.
      const led = await pageUntil((v) => v.summary.Leader === to && pageLeaders(v).join() === to, 120_000);
      // The end of the load that showed it (an upper bound: Prometheus rendered it earlier).
      if (led.afterMs !== undefined) pageAt = Date.now();
      whole = await pageUntil(
        (v) =>
          v.summary.Timeline === String(timeline + 1) &&
          v.members.every((m) => m.timeline === String(timeline + 1)) &&
          others.every((o) => {
            const m = v.members.find((x) => x.member === o);
            return m?.streaming === "yes" && m.role !== "primary";
          }) &&
          haproxyRoutesTo(v, to, others),
        Math.max(0, PAGE_WHOLE_WITHIN_MS - (Date.now() - at)),
      );
      if (whole.afterMs !== undefined) wholeAt = Date.now();
    } finally {
      polling = false;
      await rest;
    }
    const r = await switchover;
    expect(r.code, r.out).toBe(0);
    const s = (ms?: number) => (ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`);
    figures.switchoverPage =
      `${from} -> ${to}: Patroni's REST API ${s(restAt && restAt - at)} after the request, ` +
      `the page ${s(pageAt && pageAt - at)} (${s(pageAt && restAt && pageAt - restAt)} after the REST API), ` +
      `whole on timeline ${timeline + 1} ${s(wholeAt && wholeAt - at)}`;
    console.log(`[moncap] switchover on the page: ${figures.switchoverPage}`);
    expect(restAt, "Patroni's REST API names the new leader").toBeDefined();
    expect(pageAt, "the page names the new leader").toBeDefined();
    expect(pageAt! - restAt!, "from the REST API to the page (ms)").toBeLessThan(PAGE_FOLLOWS_WITHIN_MS);
    expect(whole.afterMs, `the page whole again: ${JSON.stringify(whole.view)}`).toBeDefined();
    expect(leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls))).toBe(to);
  });

  it("a changed alert threshold is applied by pulumi up as a reload: Prometheus keeps running", async () => {
    const before = prometheusStarted();
    // The threshold as Prometheus loaded it (its API prints the number its own way: 6.7108864e+07).
    const lagThreshold = async () => {
      const rules = await monitoring.api<{ groups: { rules: { name: string; query: string }[] }[] }>("rules");
      const query = rules.groups.flatMap((g) => g.rules).find((r) => r.name === "PatroniReplicationLagBytes")!.query;
      return Number(/> ([0-9.e+]+)$/.exec(query)?.[1]);
    };
    expect(await lagThreshold()).toBe(67108864);
    const runtime = () =>
      monitoring.api<{ lastConfigTime: string; reloadConfigSuccess: boolean }>("status/runtimeinfo");
    const configTime = (await runtime()).lastConfigTime;
    stand.editConfig((c) => {
      c[MONITOR_KEY] = { ...c[MONITOR_KEY], thresholds: { replicationLagBytes: 33554432 } };
    });
    await stand.up("monitor.thresholds.replicationLagBytes changed");
    expect(await lagThreshold()).toBe(33554432);
    const after = await runtime();
    expect(after.reloadConfigSuccess).toBe(true);
    expect(after.lastConfigTime).not.toBe(configTime);
    expect(prometheusStarted(), "Prometheus' start time").toBe(before);
    await expectNoChanges();
  });

  it("a replica's Patroni stopped: member missing and replica not streaming reach Alertmanager and the webhook, then resolve", async () => {
    const whole = standTargets(stand, CLUSTER).whole;
    await waitWhole(whole, 120_000);
    const members = await patroniCluster(whole.restUrls, whole.tls);
    const leader = leaderOf(members)!;
    const replica = stand.hostsWith("postgres").find((h) => h !== leader)!;
    const expected = ["PatroniMemberMissing", "PatroniReplicaNotStreaming"].map((alertname) => ({
      labels: { alertname, cluster: CLUSTER, member: replica },
      firesWithinMs: FIRES_WITHIN_MS,
      resolvesWithinMs: RESOLVES_WITHIN_MS,
    }));
    const faultAt = Date.now();
    const watch = new AlertWatch(monitoring, expected, faultAt);
    stand.ssh(replica, "systemctl stop patroni");
    let healedAt: number;
    let faultPage: ClusterPageView | string | undefined;
    try {
      // Hold the fault until both fired (or their bound passed).
      while (Date.now() - faultAt < FIRES_WITHIN_MS) {
        const active = await monitoring.activeAlerts();
        if (
          expected.every((e) =>
            active.some((a) => a.labels.alertname === e.labels.alertname && a.labels.member === replica),
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      // The cluster page while the fault holds (checked below, once healed).
      faultPage = await readClusterPage(await theBrowser(), pageUrl()).catch((e: unknown) => String(e));
    } finally {
      stand.ssh(replica, "systemctl start patroni");
      healedAt = Date.now();
    }
    const outcomes = await watch.finish(healedAt);
    await waitWhole(whole, 120_000);
    for (const o of outcomes) {
      figures[o.alertname] =
        `fired ${o.firedAfterMs === undefined ? "never" : `${(o.firedAfterMs / 1000).toFixed(1)} s`} after the stop, ` +
        `resolved ${o.resolvedAfterMs === undefined ? "never" : `${(o.resolvedAfterMs / 1000).toFixed(1)} s`} after the start, ` +
        `webhook firing ${o.notifiedFiring} resolved ${o.notifiedResolved}`;
      console.log(`[moncap] ${o.alertname} ${replica}: ${figures[o.alertname]}`);
      expect(o.firedAfterMs, `${o.alertname} fired`).toBeDefined();
      expect(o.firedAfterMs!, `${o.alertname} fired within ${FIRES_WITHIN_MS / 1000} s`).toBeLessThan(FIRES_WITHIN_MS);
      expect(o.resolvedAfterMs, `${o.alertname} resolved`).toBeDefined();
      expect(o.resolvedAfterMs!, `${o.alertname} resolved within ${RESOLVES_WITHIN_MS / 1000} s`).toBeLessThan(
        RESOLVES_WITHIN_MS,
      );
      expect({ firing: o.notifiedFiring, resolved: o.notifiedResolved }, `${o.alertname} at the webhook`).toEqual({
        firing: true,
        resolved: true,
      });
    }
    // The page showed the fault: the member's Patroni down, both alerts firing about it.
    expect(typeof faultPage, `the cluster page during the fault: ${String(faultPage)}`).toBe("object");
    const during = faultPage as ClusterPageView;
    expect(during.members.find((m) => m.member === replica)?.api, JSON.stringify(during.members)).toBe("DOWN");
    const firingOnPage = during.tables.alerts.filter((r) => r["Member / instance"] === replica).map((r) => r["Alert"]);
    for (const e of expected) expect(firingOnPage, JSON.stringify(during.tables.alerts)).toContain(e.labels.alertname);
    expect(Number(during.summary["Firing alerts"])).toBeGreaterThanOrEqual(2);
    // The same members as before, and nothing left firing about them.
    expect(leaderOf(await patroniCluster(whole.restUrls, whole.tls))).toBe(leader);
    await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS, 90_000);
  });

  it("a host added by pulumi up is scraped, and gone once removed, without Prometheus restarting", async () => {
    const before = prometheusStarted();
    const key = "pulumi-patroni:hosts";
    const added = { name: "client02", address: "10.213.16.42", roles: ["client"] };
    stand.editConfig((c) => (c[key] = [...c[key], added]));
    await stand.up("client02 added");
    const withIt = await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS, 90_000);
    expect(withIt.targets.filter((t) => t.member === "client02").map((t) => t.job)).toEqual(["node"]);
    stand.editConfig((c) => (c[key] = c[key].filter((h: { name: string }) => h.name !== "client02")));
    await stand.up("client02 removed");
    const without = await expectEveryTargetUp(monitoring, stand, SCRAPE_PORTS, 90_000);
    expect(without.targets.filter((t) => t.member === "client02")).toEqual([]);
    expect(prometheusStarted(), "Prometheus' start time").toBe(before);
    await expectNoChanges();
  });
});
