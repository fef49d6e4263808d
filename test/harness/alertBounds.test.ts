// The fault suite's alert checks can fail: bounds from the monitor settings,
// an alert that never fired, fired late, never resolved or never reached the
// webhook receiver fails the scenario; the watch records what Alertmanager
// listed and when.
import { describe, expect, it } from "vitest";
import { ALERT_MARGIN_MS, alertBounds, durationMs } from "./alertBounds";
import { ActiveAlert, AlertOutcome, AlertWatch, Monitoring, Notification } from "./monitoring";
import { expectFaultAlerts } from "../faults/alerts";

/** Pulumi.faults.yaml's monitor: scrapes every 5 s, for 20 s, groupWait 5 s, groupInterval 10 s. */
const FAULT_STAND = {
  scrapeIntervalSeconds: 5,
  alertForSeconds: 20,
  alertmanager: { groupWait: "5s", groupInterval: "10s" },
};

const outcome = (over: Partial<AlertOutcome>): AlertOutcome => ({
  alertname: "PatroniMemberMissing",
  labels: { alertname: "PatroniMemberMissing", cluster: "faults", member: "pg01" },
  firedAfterMs: 33_000,
  resolvedAfterMs: 0,
  resolvedAfterWholeMs: -20_000,
  notifiedFiring: true,
  notifiedResolved: true,
  firesWithinMs: 55_000,
  resolvesWithinMs: 40_000,
  ...over,
});

describe("alert bounds", () => {
  it("add the scrape, its timeout, for, the evaluation, groupWait and the margin; resolving adds groupInterval", () => {
    expect(ALERT_MARGIN_MS).toBe(15_000);
    const b = alertBounds(FAULT_STAND);
    expect(b.firesWithinMs).toBe(5_000 + 5_000 + 20_000 + 5_000 + 5_000 + 15_000);
    expect(b.resolvesWithinMs).toBe(10_000 + 5_000 + 10_000 + 15_000);
    expect(b.why).toContain("20 (for)");
    // A condition that holds only after a threshold, and clears after the whole cluster: both add.
    const lag = alertBounds(FAULT_STAND, 15_000, 5_000);
    expect(lag.firesWithinMs - b.firesWithinMs).toBe(15_000);
    expect(lag.resolvesWithinMs - b.resolvesWithinMs).toBe(5_000);
    // The defaults (15 s scrapes, for 60 s, groupWait 30 s, groupInterval 5m): the timeout is capped at 10 s.
    const d = alertBounds({
      scrapeIntervalSeconds: 15,
      alertForSeconds: 60,
      alertmanager: { groupWait: "30s", groupInterval: "5m" },
    });
    expect(d.firesWithinMs).toBe(15_000 + 10_000 + 60_000 + 15_000 + 30_000 + 15_000);
    expect(d.resolvesWithinMs).toBe(30_000 + 10_000 + 300_000 + 15_000);
  });

  it("reads Prometheus durations and refuses anything else", () => {
    expect(durationMs("5s")).toBe(5000);
    expect(durationMs("5m")).toBe(300_000);
    expect(durationMs("1h")).toBe(3_600_000);
    expect(() => durationMs("5")).toThrow(/not a Prometheus duration/);
    expect(() => durationMs("1h30m")).toThrow(/not a Prometheus duration/);
  });
});

describe("a fault's alerts", () => {
  it("pass when fired and resolved within their bounds and notified both ways", () => {
    expect(() => expectFaultAlerts([outcome({})])).not.toThrow();
  });

  it("fail when one never fired, fired late, never resolved, resolved late or missed the webhook", () => {
    expect(() => expectFaultAlerts([outcome({ firedAfterMs: undefined })])).toThrow(/never fired/);
    expect(() => expectFaultAlerts([outcome({ firedAfterMs: 56_000 })])).toThrow(/fired late/);
    expect(() => expectFaultAlerts([outcome({ resolvedAfterWholeMs: undefined })])).toThrow(/never resolved/);
    expect(() => expectFaultAlerts([outcome({ resolvedAfterWholeMs: 41_000 })])).toThrow(/resolved late/);
    expect(() => expectFaultAlerts([outcome({ notifiedResolved: false })])).toThrow(/webhook receiver/);
    expect(() => expectFaultAlerts([outcome({}), outcome({ notifiedFiring: false })])).toThrow(/webhook receiver/);
  });
});

describe("the alert watch", () => {
  it("records when Alertmanager first lists an alert that started after the fault, and when it is gone", async () => {
    const since = Date.now();
    const labels = { alertname: "EtcdMemberDown", cluster: "faults", member: "pg02" };
    // Alertmanager lists an older one (before the fault: not this fault's) all along, this fault's from 1.5 s to 3.5 s.
    const old: ActiveAlert = {
      labels: { ...labels, member: "pg03" },
      startsAt: new Date(since - 60_000).toISOString(),
      status: { state: "active" },
    };
    const mine: ActiveAlert = { labels, startsAt: new Date(since + 1000).toISOString(), status: { state: "active" } };
    const sent: Notification[] = [
      { status: "firing", alerts: [{ status: "firing", labels, startsAt: mine.startsAt }] },
      { status: "resolved", alerts: [{ status: "resolved", labels, startsAt: mine.startsAt }] },
    ];
    const fake = {
      activeAlerts: async () => {
        const t = Date.now() - since;
        return t >= 1500 && t < 3500 ? [old, mine] : [old];
      },
      notifications: async () => (Date.now() - since >= 3500 ? sent : sent.slice(0, 1)),
    } as unknown as Monitoring;
    const expected = [labels, { ...labels, member: "pg03" }].map((l) => ({
      labels: l,
      firesWithinMs: 10_000,
      resolvesWithinMs: 10_000,
    }));
    const watch = new AlertWatch(fake, expected, since);
    expect(await watch.waitFired(since + 4000)).toBe(false);
    const [pg02, pg03] = await watch.finish(since + 3000, since + 3200);
    expect(pg02.firedAfterMs).toBeGreaterThanOrEqual(1500);
    expect(pg02.firedAfterMs).toBeLessThan(3500);
    expect(pg02.resolvedAfterWholeMs).toBeGreaterThanOrEqual(300);
    expect(pg02.resolvedAfterWholeMs).toBeLessThan(2000);
    expect({ firing: pg02.notifiedFiring, resolved: pg02.notifiedResolved }).toEqual({ firing: true, resolved: true });
    expect(pg03.firedAfterMs, "an alert older than the fault is not this fault's").toBeUndefined();
  });
});
