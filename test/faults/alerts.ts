// The alerts the fault suite proves (issue 26): what a fault must raise on a
// stand with a monitor host, with bounds from the monitor settings in force
// (test/harness/alertBounds.ts), and the check of what Alertmanager's API and
// the local webhook receiver showed during the run (runFault records it).
import { expect } from "vitest";
import { alertBounds } from "../harness/alertBounds";
import { AlertOutcome, ExpectedAlert } from "../harness/monitoring";
import { FaultReport } from "../harness/scenario";
import { MonitorSettings } from "../../src/roles/monitor/slice";
import { alertRules } from "../../src/roles/monitor/alertRules";

/**
 * One alert a fault must raise: `name` with `labels` (the member it hit;
 * runFault adds the cluster), its bounds from the rule's `for`. `conditionMs`: when its condition holds after
 * the inject (a threshold to pass), `clearsMs`: how long after the cluster
 * is whole it clears (replay catching up): see alertBounds.
 */
export function faultAlert(
  monitor: MonitorSettings,
  name: string,
  labels: Readonly<Record<string, string>>,
  timing: { conditionMs?: number; clearsMs?: number } = {},
): ExpectedAlert {
  // The rule's own `for`, as the monitor renders it from these settings: alertForSeconds for most,
  // longer for a few (WAL archiving failing: 5 minutes, retries are normal).
  const rule = alertRules({ thresholds: monitor.thresholds, forSeconds: monitor.alertForSeconds }).find(
    (r) => r.alert === name,
  );
  if (!rule) throw new Error(`no alert rule ${name}`);
  const b = alertBounds({ ...monitor, alertForSeconds: rule.forSeconds }, timing.conditionMs, timing.clearsMs);
  return {
    labels: { ...labels, alertname: name },
    firesWithinMs: b.firesWithinMs,
    resolvesWithinMs: b.resolvesWithinMs,
    why: b.why,
  };
}

/**
 * Every alert of the run fired within its bound of the inject (Alertmanager's
 * API), was gone from Alertmanager within its bound of the cluster whole
 * again, and the local receiver was sent it firing and resolved.
 */
export function expectFaultAlerts(alerts: readonly AlertOutcome[]): void {
  for (const a of alerts) {
    const what = `${a.alertname} ${JSON.stringify(a.labels)}`;
    expect(a.firedAfterMs, `${what} never fired (${a.why})`).toBeDefined();
    expect(a.firedAfterMs!, `${what} fired late (${a.why})`).toBeLessThan(a.firesWithinMs);
    expect(a.resolvedAfterWholeMs, `${what} never resolved (${a.why})`).toBeDefined();
    expect(a.resolvedAfterWholeMs!, `${what} resolved late (${a.why})`).toBeLessThan(a.resolvesWithinMs);
    expect({ firing: a.notifiedFiring, resolved: a.notifiedResolved }, `${what} at the webhook receiver`).toEqual({
      firing: true,
      resolved: true,
    });
  }
}

const sec = (ms?: number) => (ms === undefined ? "never" : (ms / 1000).toFixed(1));

/** The report's lines for the alerts of each run (none when no run watched any). */
export function alertReportLines(rows: readonly (FaultReport & { profile: string })[]): string[] {
  const watched = rows.filter((r) => r.alerts?.length);
  if (watched.length === 0) return [];
  return [
    "",
    "Alerts (Alertmanager's API; fired: s after the inject, resolved: s after the cluster was whole, negative: before; webhook: the local receiver was sent it firing/resolved; waited: what waiting for them added to the run):",
    "",
    "| profile | fault | held (s) | alert | labels | fired (s) | bound (s) | resolved (s) | bound (s) | webhook | waited (s) |",
    "|---|---|---:|---|---|---:|---:|---:|---:|---|---:|",
    ...watched.flatMap((r) =>
      r.alerts!.map((a) => {
        const { alertname: _n, cluster: _c, ...labels } = a.labels;
        return `| ${r.profile} | ${r.scenario} | ${sec(r.heldMs)} | ${a.alertname} | ${Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            " ",
          )} | ${sec(a.firedAfterMs)} | ${sec(a.firesWithinMs)} | ${sec(a.resolvedAfterWholeMs)} | ${sec(a.resolvesWithinMs)} | ${a.notifiedFiring ? "firing" : "-"}/${a.notifiedResolved ? "resolved" : "-"} | ${sec(r.alertsWaitMs)} |`;
      }),
    ),
  ];
}
