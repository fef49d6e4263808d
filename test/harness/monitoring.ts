// The monitor of a stand as the tests see it: Prometheus' targets, the alerts
// Alertmanager holds, what the local receiver was sent, and a watch that
// records when an expected alert fires and when it resolves. With TLS
// Prometheus and Alertmanager serve https only: every request verifies them
// with the stack's CAs (tlsCaCertificate).
import { Stand } from "../helpers/stand";
import { httpRequest, TlsClient } from "./https";
import {
  HAPROXY_METRICS_PORT,
  NODE_EXPORTER,
  PGBACKREST_EXPORTER,
  PGBOUNCER_EXPORTER,
  POSTGRES_EXPORTER,
} from "../../src/roles/monitor/exporters";
import { ALERTMANAGER_PORT, PROMETHEUS_PORT } from "../../src/roles/monitor/slice";

/** Every port the monitor scrapes, by job (the stack's defaults: REST API 8008, etcd metrics 2381). */
export const SCRAPE_PORTS = {
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

/** One e-mail as the local receiver logged it (alert-receiver.py). */
export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly subject: string;
  readonly user: string;
  readonly password_sha256: string;
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

  /** The CAs the monitor's https listeners are verified with (TLS stacks). */
  get tls(): TlsClient | undefined {
    const ca = this.stand.outputs.tlsCaCertificate;
    return typeof ca === "string" ? { ca } : undefined;
  }

  /** GET `url` (Prometheus' or Alertmanager's), verified with the stack's CAs when https; JSON. */
  private async get<T>(url: string): Promise<T> {
    const r = await httpRequest(url, { timeoutMs: 5000, tls: this.tls });
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.text}`);
    return JSON.parse(r.text) as T;
  }

  /** The monitor host's name. */
  get host(): string {
    return this.stand.hostsWith("monitor")[0];
  }

  async api<T>(path: string): Promise<T> {
    return (await this.get<{ data: T }>(`${this.prometheus}/api/v1/${path}`)).data;
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
    return this.get<ActiveAlert[]>(`${this.alertmanager}/api/v2/alerts?active=true&silenced=false&inhibited=false`);
  }

  /**
   * Every notification the local receiver got (monitor.alertmanager.localReceiver),
   * read over ssh without blocking the event loop (a fault's writer and prober run meanwhile).
   */
  async notifications(): Promise<Notification[]> {
    const text = await this.stand.sshAsync(
      this.host,
      "cat /var/lib/pulumi-patroni-alert-receiver/webhook.jsonl 2>/dev/null || true",
      30_000,
    );
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Notification);
  }

  /**
   * Every e-mail the local receiver's SMTP listener (127.0.0.1:2525 on the
   * monitor host) was sent: sender, recipients, subject, login and the sha256
   * of the password it logged in with.
   */
  async mails(): Promise<ReceivedMail[]> {
    const text = await this.stand.sshAsync(
      this.host,
      "cat /var/lib/pulumi-patroni-alert-receiver/mail.jsonl 2>/dev/null || true",
      30_000,
    );
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ReceivedMail);
  }

  /** The receiver's notifications about `alert` after `since`: whether it was sent firing, and resolved. */
  async notified(alert: AlertLabels, since: number): Promise<{ firing: boolean; resolved: boolean }> {
    return notifiedIn(await this.notifications(), alert, since);
  }
}

/** Of `notifications`, those about `alert` that started after `since`: whether one was firing, one resolved. */
export function notifiedIn(
  notifications: readonly Notification[],
  alert: AlertLabels,
  since: number,
): { firing: boolean; resolved: boolean } {
  const mine = notifications.flatMap((n) =>
    n.alerts.filter((a) => matches(a.labels, alert) && Date.parse(a.startsAt) >= since - 1000),
  );
  return { firing: mine.some((a) => a.status === "firing"), resolved: mine.some((a) => a.status === "resolved") };
}

export const matches = (labels: AlertLabels, want: AlertLabels): boolean =>
  Object.entries(want).every(([k, v]) => labels[k] === v);

/** An alert a fault must raise, and the time it has to fire and, after the heal, to resolve. */
export interface ExpectedAlert {
  readonly labels: AlertLabels;
  readonly firesWithinMs: number;
  readonly resolvesWithinMs: number;
  /** How the bounds were reached (alertBounds' sum), for the report and a failure's message. */
  readonly why?: string;
}

export interface AlertOutcome {
  readonly alertname: string;
  readonly labels: AlertLabels;
  /** From the fault to Alertmanager listing it active (ms); undefined: it never fired. */
  readonly firedAfterMs?: number;
  /** From the heal to Alertmanager no longer listing it (ms; 0 when it was gone before the heal ended). */
  readonly resolvedAfterMs?: number;
  /** From the cluster whole again to Alertmanager no longer listing it (ms; negative: gone before). */
  readonly resolvedAfterWholeMs?: number;
  /** The local receiver was sent it firing, and resolved. */
  readonly notifiedFiring: boolean;
  readonly notifiedResolved: boolean;
  readonly firesWithinMs: number;
  readonly resolvesWithinMs: number;
  readonly why?: string;
}

/**
 * Polls Alertmanager from the fault on, once a second, asynchronously (the
 * caller's writer and prober keep running): records when each expected
 * alert (one that started after the fault) is first active, and when it
 * left the active list after that (a flap back to active clears it); at the
 * end reads the local receiver's log.
 */
export class AlertWatch {
  private readonly firedAt = new Map<number, number>();
  private readonly resolvedAt = new Map<number, number>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly monitoring: Monitoring,
    private readonly expected: readonly ExpectedAlert[],
    private readonly since: number,
  ) {
    this.loop = (async () => {
      while (this.running) {
        try {
          const active = await monitoring.activeAlerts();
          const now = Date.now();
          expected.forEach((e, i) => {
            if (active.some((a) => matches(a.labels, e.labels) && Date.parse(a.startsAt) >= since - 1000)) {
              if (!this.firedAt.has(i)) this.firedAt.set(i, now);
              this.resolvedAt.delete(i);
            } else if (this.firedAt.has(i) && !this.resolvedAt.has(i)) this.resolvedAt.set(i, now);
          });
        } catch {
          /* the monitor host may be the one that lost power: ask again */
        }
        await sleep(1000);
      }
    })();
  }

  /** Stops polling (a run that failed before finish). */
  stop(): void {
    this.running = false;
  }

  /** Whether every expected alert has fired. */
  get allFired(): boolean {
    return this.expected.every((_, i) => this.firedAt.has(i));
  }

  /** Waits until every expected alert fired, or until `deadline` (epoch ms); returns whether they all did. */
  async waitFired(deadline: number): Promise<boolean> {
    while (!this.allFired && Date.now() < deadline) await sleep(500);
    return this.allFired;
  }

  /** The latest fire bound, as an epoch deadline from the fault. */
  get firesBy(): number {
    return this.since + Math.max(...this.expected.map((e) => e.firesWithinMs));
  }

  /**
   * After the heal: waits until Alertmanager no longer lists each alert that
   * fired and the receiver was sent it resolved, at most the longest
   * resolvesWithinMs after `wholeAt` (the heal when not given), then reports.
   */
  async finish(healedAt: number, wholeAt = healedAt): Promise<AlertOutcome[]> {
    const deadline = wholeAt + Math.max(...this.expected.map((e) => e.resolvesWithinMs));
    let sent = this.expected.map(() => ({ firing: false, resolved: false }));
    const fired = (i: number) => this.firedAt.has(i);
    const done = () => this.expected.every((_, i) => !fired(i) || (this.resolvedAt.has(i) && sent[i].resolved));
    const readReceiver = async () => {
      const all = await this.monitoring.notifications().catch(() => undefined);
      if (all) sent = this.expected.map((e) => notifiedIn(all, e.labels, this.since));
    };
    try {
      while (!done() && Date.now() < deadline) {
        if (this.resolvedAt.size > 0) await readReceiver();
        if (!done()) await sleep(2000);
      }
    } finally {
      this.running = false;
      await this.loop;
    }
    await readReceiver();
    return this.expected.map((e, i) => {
      const resolvedAt = this.resolvedAt.get(i);
      return {
        alertname: e.labels.alertname,
        labels: e.labels,
        firedAfterMs: fired(i) ? this.firedAt.get(i)! - this.since : undefined,
        resolvedAfterMs: resolvedAt === undefined ? undefined : Math.max(0, resolvedAt - healedAt),
        resolvedAfterWholeMs: resolvedAt === undefined ? undefined : resolvedAt - wholeAt,
        notifiedFiring: sent[i].firing,
        notifiedResolved: sent[i].resolved,
        firesWithinMs: e.firesWithinMs,
        resolvesWithinMs: e.resolvesWithinMs,
        why: e.why,
      };
    });
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
