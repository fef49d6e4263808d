// npm run test:capabilities (test/capabilities/monitoring.test.ts): the
// monitor role on its own stand (Pulumi.moncap.yaml: two database hosts,
// etcd's third member on the HAProxy host, the client host carrying the
// monitor role; TLS on). A leftover stand is destroyed first; this run's is
// destroyed at the end.
//   1. after the fresh deploy every scrape target is up, Patroni's REST API
//      and HAProxy's exporter scraped over https (verified with the cluster's
//      CA), and a second `pulumi up` has nothing to change;
//   2. a changed alert threshold is applied by `pulumi up` as a reload:
//      Prometheus shows the new rule, its start time unchanged;
//   3. a real fault: a replica's Patroni stopped raises PatroniMemberMissing
//      and PatroniReplicaNotStreaming for that member in Alertmanager and at
//      the local webhook receiver, and both resolve once it runs again;
//   4. a host added by `pulumi up` is scraped, and no longer once removed,
//      Prometheus never restarted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stand } from "../helpers/stand";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { standTargets } from "../harness/scenario";
import { AlertWatch, expectEveryTargetUp, Monitoring } from "../harness/monitoring";
import {
  HAPROXY_METRICS_PORT,
  NODE_EXPORTER,
  PGBACKREST_EXPORTER,
  PGBOUNCER_EXPORTER,
  POSTGRES_EXPORTER,
} from "../../src/roles/monitor/exporters";
import { ALERTMANAGER_PORT, PROMETHEUS_PORT } from "../../src/roles/monitor/slice";

const STACK = "moncap";
const CLUSTER = "moncap";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "moncap-stand-passphrase" });
const monitoring = new Monitoring(stand);
const MONITOR_KEY = "pulumi-patroni:monitor";
/** MONCAP_KEEP=1: bring the stand up from where it is and leave it up (while developing); else fresh, destroyed after. */
const KEEP = process.env.MONCAP_KEEP === "1";

/** Every port the monitor scrapes, by job (the stack's defaults: REST API 8008, etcd metrics 2381). */
const PORTS = {
  node: NODE_EXPORTER.port,
  patroni: 8008,
  postgres: POSTGRES_EXPORTER.port,
  pgbouncer: PGBOUNCER_EXPORTER.port,
  pgbackrest: PGBACKREST_EXPORTER.port,
  etcd: 2381,
  haproxy: HAPROXY_METRICS_PORT,
  prometheus: PROMETHEUS_PORT,
  alertmanager: ALERTMANAGER_PORT,
};

/**
 * The bounds on the fault's alerts with this stand's monitor (scrapes every
 * 5 s, alertForSeconds 20, Alertmanager's groupWait 5 s, groupInterval 10 s):
 * seen within a scrape, held 20 s, evaluated within 5 s, grouped 5 s: about
 * 35 s after the fault; gone at the next evaluation after a good scrape,
 * notified at the group's next interval.
 */
const FIRES_WITHIN_MS = 60_000;
const RESOLVES_WITHIN_MS = 90_000;

const figures: Record<string, string> = {};

async function expectNoChanges() {
  const preview = await stand.run(["preview", "--expect-no-changes"], true);
  expect(preview.code, preview.stdout + preview.stderr).toBe(0);
}

/** When systemd last started Prometheus (monotonic µs): a restart changes it, a reload does not. */
const prometheusStarted = () =>
  stand.ssh(monitoring.host, "systemctl show -p ExecMainStartTimestampMonotonic --value prometheus");

beforeAll(async () => {
  await stand.select();
  if (!KEEP) {
    const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
    if (leftover.code !== 0)
      throw new Error(`could not destroy a leftover moncap stand:\n${leftover.stdout}${leftover.stderr}`);
  }
  await stand.up("pulumi up (fresh machines to a monitored cluster)");
});

afterAll(async () => {
  if (!KEEP) await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
  console.log(`[moncap] timings: ${JSON.stringify(stand.timings)}; ${JSON.stringify(figures)}`);
});

describe("monitoring on its own stand", () => {
  it("every scrape target is up after the deploy, the TLS endpoints over https; a second up changes nothing", async () => {
    const { tookMs, targets } = await expectEveryTargetUp(monitoring, stand, PORTS);
    figures.targetsUp = `${targets.length} targets up ${(tookMs / 1000).toFixed(1)} s after the deploy ended`;
    const scheme = (job: string) => [
      ...new Set(targets.filter((t) => t.job === job).map((t) => t.scrapeUrl.split(":")[0])),
    ];
    expect(scheme("patroni")).toEqual(["https"]);
    expect(scheme("haproxy")).toEqual(["https"]);
    expect(scheme("etcd")).toEqual(["http"]);
    // Nothing fires on a healthy cluster.
    expect((await monitoring.activeAlerts()).map((a) => a.labels.alertname)).toEqual([]);
    const started = Date.now();
    await expectNoChanges();
    figures.noChangePreview = `${((Date.now() - started) / 1000).toFixed(1)} s`;
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
    // The same members as before, and nothing left firing about them.
    expect(leaderOf(await patroniCluster(whole.restUrls, whole.tls))).toBe(leader);
    await expectEveryTargetUp(monitoring, stand, PORTS, 90_000);
  });

  it("a host added by pulumi up is scraped, and gone once removed, without Prometheus restarting", async () => {
    const before = prometheusStarted();
    const key = "pulumi-patroni:hosts";
    const added = { name: "client02", address: "10.213.16.42", roles: ["client"] };
    stand.editConfig((c) => (c[key] = [...c[key], added]));
    await stand.up("client02 added");
    const withIt = await expectEveryTargetUp(monitoring, stand, PORTS, 90_000);
    expect(withIt.targets.filter((t) => t.member === "client02").map((t) => t.job)).toEqual(["node"]);
    stand.editConfig((c) => (c[key] = c[key].filter((h: { name: string }) => h.name !== "client02")));
    await stand.up("client02 removed");
    const without = await expectEveryTargetUp(monitoring, stand, PORTS, 90_000);
    expect(without.targets.filter((t) => t.member === "client02")).toEqual([]);
    expect(prometheusStarted(), "Prometheus' start time").toBe(before);
    await expectNoChanges();
  });
});
