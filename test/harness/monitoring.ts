// The monitor of a stand as the tests see it: Prometheus' targets, the alerts
// Alertmanager holds, what the local receiver was sent, and a watch that
// records when an expected alert fires and when it resolves.
import { Stand } from "../helpers/stand";

export interface TargetHealth {
  readonly job: string;
  readonly instance: string;
  readonly member: string;
  readonly health: string;
  readonly lastError: string;
  readonly scrapeUrl: string;
}

export interface AlertLabels {
  readonly alertname: string;
  readonly [label: string]: string;
}

export interface ActiveAlert {
  readonly labels: AlertLabels;
  readonly startsAt: string;
  readonly status: { readonly state: string };
}

/** One webhook notification as Alertmanager sends it. */
export interface Notification {
  readonly status: "firing" | "resolved";
  readonly alerts: { readonly status: string; readonly labels: AlertLabels; readonly startsAt: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Monitoring {
  constructor(private readonly stand: Stand) {}

  get prometheus(): string {
    const url = this.stand.outputs.prometheusUrl as string | undefined;
    if (!url) throw new Error(`stack ${this.stand.stack} has no monitor host (no prometheusUrl output)`);
    return url;
  }

  get alertmanager(): string {
    return this.stand.outputs.alertmanagerUrl as string;
  }

  /** The monitor host's name. */
  get host(): string {
    return this.stand.hostsWith("monitor")[0];
  }

  async api<T>(path: string): Promise<T> {
    const r = await fetch(`${this.prometheus}/api/v1/${path}`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { data: T }).data;
  }

  async targets(): Promise<TargetHealth[]> {
    const data = await this.api<{
      activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[];
    }>("targets?state=active");
    return data.activeTargets.map((t) => ({
      job: t.labels.job,
      instance: t.labels.instance,
      member: t.labels.member,
      health: t.health,
      lastError: t.lastError,
      scrapeUrl: t.scrapeUrl,
    }));
  }

  /** Waits until Prometheus has scraped every target successfully (after the targets' latest change). */
  async waitAllTargetsUp(timeoutMs: number): Promise<TargetHealth[]> {
    const start = Date.now();
    let down: TargetHealth[] = [];
    while (Date.now() - start < timeoutMs) {
      const all = await this.targets();
      down = all.filter((t) => t.health !== "up");
      if (all.length > 0 && down.length === 0) return all;
      await sleep(1000);
    }
    throw new Error(
      `targets not up after ${timeoutMs / 1000} s: ${down.map((t) => `${t.job} ${t.instance} ${t.health} ${t.lastError}`).join("; ")}`,
    );
  }

  /** The alerts Alertmanager holds as active now (not silenced, not inhibited). */
  async activeAlerts(): Promise<ActiveAlert[]> {
    const r = await fetch(`${this.alertmanager}/api/v2/alerts?active=true&silenced=false&inhibited=false`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok) throw new Error(`Alertmanager: ${r.status} ${await r.text()}`);
    return (await r.json()) as ActiveAlert[];
  }

  /** Every notification the local receiver got (monitor.alertmanager.localReceiver). */
  notifications(): Notification[] {
    const text = this.stand.ssh(
      this.host,
      "cat /var/lib/pulumi-patroni-alert-receiver/webhook.jsonl 2>/dev/null || true",
    );
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Notification);
  }

  /** The receiver's notifications about `alert` after `since`: whether it was sent firing, and resolved. */
  notified(alert: AlertLabels, since: number): { firing: boolean; resolved: boolean } {
    const mine = this.notifications().flatMap((n) =>
      n.alerts.filter((a) => matches(a.labels, alert) && Date.parse(a.startsAt) >= since - 1000),
    );
    return { firing: mine.some((a) => a.status === "firing"), resolved: mine.some((a) => a.status === "resolved") };
  }
}

export const matches = (labels: AlertLabels, want: AlertLabels): boolean =>
  Object.entries(want).every(([k, v]) => labels[k] === v);

/** An alert a fault must raise, and the time it has to fire and, after the heal, to resolve. */
export interface ExpectedAlert {
  readonly labels: AlertLabels;
  readonly firesWithinMs: number;
  readonly resolvesWithinMs: number;
}

export interface AlertOutcome {
  readonly alertname: string;
  readonly labels: AlertLabels;
  /** From the fault to Alertmanager listing it active (ms); undefined: it never fired. */
  readonly firedAfterMs?: number;
  /** From the heal to Alertmanager no longer listing it (ms). */
  readonly resolvedAfterMs?: number;
  /** The local receiver was sent it firing, and resolved. */
  readonly notifiedFiring: boolean;
  readonly notifiedResolved: boolean;
  readonly firesWithinMs: number;
  readonly resolvesWithinMs: number;
}

/**
 * Polls Alertmanager from the fault on, once a second: records when each
 * expected alert (one that started after the fault) is first active; after
 * the heal, when it is gone; then reads the local receiver's log.
 */
export class AlertWatch {
  private readonly firedAt = new Map<number, number>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly monitoring: Monitoring,
    private readonly expected: readonly ExpectedAlert[],
    private readonly since: number,
  ) {
    this.loop = (async () => {
      while (this.running && this.firedAt.size < expected.length) {
        try {
          const active = await monitoring.activeAlerts();
          expected.forEach((e, i) => {
            if (this.firedAt.has(i)) return;
            if (active.some((a) => matches(a.labels, e.labels) && Date.parse(a.startsAt) >= since - 1000))
              this.firedAt.set(i, Date.now());
          });
        } catch {
          /* the monitor host may be the one that lost power: ask again */
        }
        await sleep(1000);
      }
    })();
  }

  /**
   * After the heal: waits until Alertmanager no longer lists each expected
   * alert and the receiver was sent it resolved (within its bound), then reports.
   */
  async finish(healedAt: number): Promise<AlertOutcome[]> {
    this.running = false;
    await this.loop;
    const deadline = healedAt + Math.max(...this.expected.map((e) => e.resolvesWithinMs));
    const resolvedAt = new Map<number, number>();
    let sent = this.expected.map(() => ({ firing: false, resolved: false }));
    const fired = (i: number) => this.firedAt.has(i);
    const done = () => this.expected.every((_, i) => !fired(i) || (resolvedAt.has(i) && sent[i].resolved));
    while (!done() && Date.now() < deadline) {
      const active = await this.monitoring.activeAlerts().catch(() => undefined);
      if (active)
        this.expected.forEach((e, i) => {
          if (fired(i) && !resolvedAt.has(i) && !active.some((a) => matches(a.labels, e.labels)))
            resolvedAt.set(i, Date.now());
        });
      if (resolvedAt.size > 0) sent = this.expected.map((e) => this.monitoring.notified(e.labels, this.since));
      if (!done()) await sleep(2000);
    }
    sent = this.expected.map((e) => this.monitoring.notified(e.labels, this.since));
    return this.expected.map((e, i) => ({
      alertname: e.labels.alertname,
      labels: e.labels,
      firedAfterMs: fired(i) ? this.firedAt.get(i)! - this.since : undefined,
      resolvedAfterMs: resolvedAt.has(i) ? Math.max(0, resolvedAt.get(i)! - healedAt) : undefined,
      notifiedFiring: sent[i].firing,
      notifiedResolved: sent[i].resolved,
      firesWithinMs: e.firesWithinMs,
      resolvesWithinMs: e.resolvesWithinMs,
    }));
  }
}

/** What Prometheus must scrape on a stand, job=instance, from its hosts' roles (the monitor's own ports too). */
export function expectedTargets(stand: Stand, ports: Readonly<Record<string, number>>): string[] {
  const out: string[] = [];
  for (const h of Object.values(stand.outputs.hosts)) {
    const on = (job: string) => out.push(`${job}=${h.address}:${ports[job]}`);
    on("node");
    if (h.roles.includes("postgres")) ["patroni", "postgres"].forEach(on);
    if (h.roles.includes("pgbouncer")) on("pgbouncer");
    if (h.roles.includes("etcd")) on("etcd");
    if (h.roles.includes("haproxy")) on("haproxy");
    if (h.roles.includes("backup")) on("pgbackrest");
    if (h.roles.includes("monitor")) ["prometheus", "alertmanager"].forEach(on);
  }
  return out.sort();
}

/**
 * Waits until Prometheus scrapes exactly the stand's targets (`ports` by job),
 * every one of them up; returns how long that took, or fails with what it saw.
 */
export async function expectEveryTargetUp(
  monitoring: Monitoring,
  stand: Stand,
  ports: Readonly<Record<string, number>>,
  timeoutMs = 60_000,
): Promise<{ tookMs: number; targets: TargetHealth[] }> {
  const start = Date.now();
  const want = expectedTargets(stand, ports);
  let seen: string[] = [];
  while (Date.now() - start < timeoutMs) {
    const targets = await monitoring.targets();
    seen = targets
      .map((t) => `${t.job}=${t.instance}${t.health === "up" ? "" : ` (${t.health}: ${t.lastError})`}`)
      .sort();
    if (JSON.stringify(seen) === JSON.stringify(want)) return { tookMs: Date.now() - start, targets };
    await sleep(1000);
  }
  throw new Error(
    `Prometheus' targets after ${timeoutMs / 1000} s:\n  ${seen.join("\n  ")}\nwanted, every one up:\n  ${want.join("\n  ")}`,
  );
}
