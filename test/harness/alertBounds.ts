// How long an alert may take to fire after a fault, and to resolve once the
// cluster is whole again, from the monitor settings in force (pure, so the
// arithmetic is unit-tested: alertBounds.test.ts).

/** The monitor settings the bounds depend on (the `monitor` section, defaults applied). */
export interface MonitorTimings {
  readonly scrapeIntervalSeconds: number;
  readonly alertForSeconds: number;
  readonly alertmanager: { readonly groupWait: string; readonly groupInterval: string };
}

/**
 * What the harness allows on top of the monitor's own delays: a scrape or an
 * evaluation late by a few seconds on a loaded controller (2 cores shared by
 * three stands, load 10 and more), the harness polling Alertmanager once a
 * second and the receiver's file every 2 s.
 */
export const ALERT_MARGIN_MS = 15_000;

/** A Prometheus duration (30s, 5m, 1h) in milliseconds. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(d);
  if (!m) throw new Error(`not a Prometheus duration: ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2]]!;
  return Number(m[1]) * unit;
}

export interface AlertBounds {
  readonly firesWithinMs: number;
  readonly resolvesWithinMs: number;
  /** The sum, spelled out, for the report and the failure message. */
  readonly why: string;
}

/**
 * The bounds on one alert.
 *  - Fires, from the fault: its condition holds after `conditionMs` (0: at
 *    once; a lag threshold's seconds, a bulk write's time); the next scrape
 *    sees it (one interval, plus the scrape timeout when the target is gone:
 *    Prometheus' timeout is min(10 s, the interval)); the rule holds it for
 *    alertForSeconds counted from the first evaluation that saw it, and fires
 *    at the first evaluation after (one more interval); Alertmanager notifies
 *    the receiver after groupWait.
 *  - Resolves, from the cluster whole again (or `clearsMs` after it, when
 *    whole does not yet clear the condition): the next scrape and
 *    evaluation (two intervals plus the timeout) send it resolved, which
 *    takes it off Alertmanager's active list; the receiver hears of it at
 *    the group's next groupInterval.
 * Both plus ALERT_MARGIN_MS.
 */
export function alertBounds(m: MonitorTimings, conditionMs = 0, clearsMs = 0): AlertBounds {
  const interval = m.scrapeIntervalSeconds * 1000;
  const timeout = Math.min(10, m.scrapeIntervalSeconds) * 1000;
  const forMs = m.alertForSeconds * 1000;
  const groupWait = durationMs(m.alertmanager.groupWait);
  const groupInterval = durationMs(m.alertmanager.groupInterval);
  const s = (ms: number) => `${ms / 1000}`;
  return {
    firesWithinMs: conditionMs + interval + timeout + forMs + interval + groupWait + ALERT_MARGIN_MS,
    resolvesWithinMs: clearsMs + 2 * interval + timeout + groupInterval + ALERT_MARGIN_MS,
    why:
      `fires within ${conditionMs ? `${s(conditionMs)} (condition) + ` : ""}${s(interval)} (scrape) + ${s(timeout)} (scrape timeout) + ` +
      `${s(forMs)} (for) + ${s(interval)} (evaluation) + ${s(groupWait)} (groupWait) + ${s(ALERT_MARGIN_MS)} (margin) s; ` +
      `resolves within ${clearsMs ? `${s(clearsMs)} (condition clears) + ` : ""}${s(2 * interval)} (scrape, evaluation) + ${s(timeout)} (scrape timeout) + ` +
      `${s(groupInterval)} (groupInterval) + ${s(ALERT_MARGIN_MS)} (margin) s of the cluster whole`,
  };
}
