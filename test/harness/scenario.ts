// One fault run on a deployed stand: write and probe the whole time, inject
// the fault, heal it, wait until the cluster is whole with no manual action,
// then read every node and check the invariants.
import { ETCDCTL, Stand } from "../helpers/stand";
import { leaderKeyTtlLeft, leaderOf, patroniCluster, readIdsEverywhere, waitWhole, WholeSpec } from "./clusterState";
import {
  checkDurability,
  DurabilityReport,
  dualPrimaryRounds,
  dualProxyRounds,
  staleProxyRounds,
  acksBetween,
  lostByWriter,
  lostCount,
  lostWrites,
  WriteRecord,
  ProbeRound,
  proxyDrops,
  writeUnavailabilityMs,
} from "./invariants";
import { TlsClient } from "./https";
import { AlertOutcome, AlertWatch, ExpectedAlert, Monitoring } from "./monitoring";
import { MonitorSettings } from "../../src/roles/monitor/slice";
import { SslOptions } from "./pgwire";
import {
  createWriteTable,
  Credentials,
  DIRECT_ID_RANGE,
  DIRECT_WRITER,
  PACED_WRITER,
  parseLibpqUri,
  ProbeNode,
  Prober,
  ProxyStats,
  Writer,
  WriterOptions,
} from "./traffic";

export interface FaultContext {
  readonly stand: Stand;
  /** The leader when the fault was injected. */
  readonly leader: string;
  readonly replicas: readonly string[];
}

/** What a scenario's inject gets besides: where to note its own moments, and the nodes to ask directly. */
export interface InjectContext extends FaultContext {
  /** Moments the scenario records while it injects (ms since the epoch), kept in the report: "stalled", say. */
  readonly marks: Record<string, number>;
  /** The stand's libpq credentials and where each PostgreSQL listens, for a scenario that asks one directly. */
  readonly nodes: readonly ProbeNode[];
  readonly creds: Credentials;
}

export interface FaultScenario {
  readonly name: string;
  /** Breaks something; resolves once the fault is in place. */
  readonly inject: (ctx: InjectContext) => Promise<void>;
  /** How long the fault lasts before heal. */
  readonly holdMs: number;
  /** Undoes the fault (SIGCONT, power on, ...). */
  readonly heal: (ctx: FaultContext) => Promise<void>;
  /** Bound on the time from heal to whole. */
  readonly wholeWithinMs: number;
  /** How hard the client writes during this fault (default: PACED_WRITER). */
  readonly writer?: WriterOptions;
  /**
   * The alerts the fault must raise on a stand with a monitor host (labels
   * beyond the cluster's, bounds from `monitor`, the settings in force: see
   * test/faults/alerts.ts). With them, the fault holds past holdMs until
   * every one fired or its bound passed.
   */
  readonly alerts?: (ctx: FaultContext, monitor: MonitorSettings) => readonly ExpectedAlert[];
}

export interface FaultReport {
  readonly scenario: string;
  readonly leaderBefore: string;
  readonly leaderAfter?: string;
  /** Longest stretch with no acknowledged write, from the fault on (ms). */
  readonly writeUnavailableMs: number;
  /** Acknowledged writes lost, through the entry and straight to each node together. */
  readonly lostAcknowledged: number;
  /** The lost ones by where they were acknowledged: "entry" (HAProxy), or a node's port (a zombie primary's). */
  readonly lostByWriter: Readonly<Record<string, number>>;
  /** The writers straight to each node's PostgreSQL and PgBouncer: acknowledged, refused (read-only) and unknown, by port. */
  readonly direct: Readonly<
    Record<string, { readonly ack: number; readonly failed: number; readonly unknown: number }>
  >;
  readonly durability: DurabilityReport;
  /** Probe rounds with two writable primaries at the database, and at HAProxy's primary port. */
  readonly dualPrimaryRounds: number;
  readonly dualProxyRounds: number;
  /** Rounds with two servers up in HAProxy's primary backend at all (stale checks after a role change). */
  readonly staleProxyRounds: number;
  /** Times an answering HAProxy stopped routing writes to the leader of before the fault. */
  readonly leaderDrops: number;
  readonly firstDualPrimary?: ProbeRound;
  /** The last round with two writable primaries at the database, from the heal (ms; negative: before it). */
  readonly lastDualPrimaryAfterHealMs?: number;
  /** Probe rounds per second between inject and heal. */
  readonly probeRateHz: number;
  /** Whether etcd's leader ran on the Patroni leader's host when the fault came (the power-loss tail's cause). */
  readonly etcdLeaderWithPatroniLeader?: boolean;
  /** From heal to whole (ms): every member healthy, HAProxy routing to them, and a write acknowledged through it. */
  readonly wholeAfterMs: number;
  readonly writes: number;
  /** Acknowledged in the last second before the fault, between inject and heal, and in the 2 s after whole: the vacuity guard. */
  readonly acks: { readonly beforeFault: number; readonly duringFault: number; readonly afterWhole: number };
  /** Acknowledgements per second in the 3 s before the fault: the writer's power. */
  readonly ackRatePerS: number;
  /** Acknowledgements per second between inject and heal: how much a fault that lets writes go on slows them. */
  readonly ackRateDuringFaultPerS: number;
  /** How far back acknowledged writes were lost, from the moment the primary was lost (ms): the RPO in time; undefined when none was. */
  readonly rpoMs?: number;
  /** When the oldest lost write was acknowledged (ms since the epoch). */
  readonly oldestLostAckAt?: number;
  readonly marks: Readonly<Record<string, number>>;
  /** From inject to heal (ms): holdMs, or longer while the fault's alerts had not fired yet. */
  readonly heldMs?: number;
  /** The fault's alerts as Alertmanager and the local receiver saw them (a stand with a monitor host). */
  readonly alerts?: readonly AlertOutcome[];
  /** How long the run waited for them to resolve once everything else was done (ms). */
  readonly alertsWaitMs?: number;
}

/**
 * How the controller speaks TLS to the stand, from its outputs: the CAs to
 * verify with and the controller's certificate (the REST API and etcd want
 * one). Undefined for a stand without TLS.
 */
export function standTls(stand: Stand): TlsClient | undefined {
  const o = stand.outputs;
  if (typeof o.tlsCaCertificate !== "string") return undefined;
  return { ca: o.tlsCaCertificate, cert: o.tlsClientCertificate as string, key: o.tlsClientKey as string };
}

/**
 * Where the harness reaches the stand: the entry's primary port (the VIP,
 * or every HAProxy host), every PostgreSQL, Patroni's REST API, and the
 * stats page of the entry and of each HAProxy host; with TLS, every session
 * verifies the server (verify-full) and the REST API and stats pages are
 * https. `ssl` overrides the sessions' TLS (a plain-text stand about to move
 * to TLS: prefer).
 */
export function standTargets(stand: Stand, clusterName: string, ssl?: SslOptions) {
  const o = stand.outputs;
  const tls = standTls(stand);
  const entry = parseLibpqUri(o.primaryUri);
  const creds: Credentials = {
    user: "postgres",
    password: entry.password,
    database: "postgres",
    ssl: ssl ?? (tls ? { mode: "verify-full", ca: tls.ca } : undefined),
  };
  const pgHosts = stand.hostsWith("postgres");
  const nodes: ProbeNode[] = pgHosts.map((name) => ({ name, host: stand.address(name), port: 5432 }));
  // Every port a client could reach a node's database on directly: PostgreSQL, and PgBouncer where the node has one.
  const bouncers = stand.hostsWith("pgbouncer");
  const bouncerPort = stand.parsedConfig().pgbouncer.port;
  const direct: ProbeNode[] = [
    ...nodes,
    ...nodes.filter((n) => bouncers.includes(n.name)).map((n) => ({ ...n, port: bouncerPort })),
  ];
  const page = (name: string, url: string): ProxyStats => ({
    name,
    url,
    user: o.haproxyStatsUser,
    password: o.haproxyStatsPassword,
    primaryBackend: `${clusterName}-primary`,
    tls,
  });
  const stats = page("entry", o.haproxyStatsUrl);
  const statsPort = stand.parsedConfig().haproxy.statsPort;
  const proxies = stand
    .hostsWith("haproxy")
    .map((h) => page(h, `${tls ? "https" : "http"}://${stand.address(h)}:${statsPort}/`));
  const etcdUrls = stand.hostsWith("etcd").map((h) => `${tls ? "https" : "http"}://${stand.address(h)}:2379`);
  const whole: WholeSpec = {
    restUrls: pgHosts.map((h) => `${tls ? "https" : "http"}://${stand.address(h)}:8008`),
    tls,
    members: pgHosts,
    stats: proxies,
    replicaBackend: `${clusterName}-replicas`,
    expectedReplicasUp: pgHosts.length - 1,
    primaryLogin: { targets: entry.hosts, creds },
    etcdUrls,
  };
  return { primary: entry.hosts, creds, nodes, direct, stats, proxies, whole };
}

/** Rounds per second in [from, to]. */
export function probeRate(rounds: readonly ProbeRound[], from: number, to: number): number {
  const n = rounds.filter((r) => r.at >= from && r.at <= to).length;
  return to > from ? Math.round((n / ((to - from) / 1000)) * 10) / 10 : 0;
}

/** Whether the etcd member on `host` leads etcd (undefined: no etcd member there or no answer). */
async function etcdLeaderOn(stand: Stand, host: string): Promise<boolean | undefined> {
  try {
    const own = `${stand.address(host)}:2379`;
    // With TLS, etcd serves https only and wants the host's certificate.
    const etcdctl = standTls(stand) ? `${ETCDCTL} --endpoints=https://${own}` : "etcdctl";
    const status = await stand.sshAsync(
      host,
      `ETCDCTL_API=3 ${etcdctl} --command-timeout=3s endpoint status --cluster`,
      15_000,
    );
    const leaderLine = status.split("\n").find((l) => l.split(", ")[4] === "true");
    return leaderLine === undefined ? undefined : leaderLine.split(", ")[0].endsWith(own);
  } catch {
    return undefined;
  }
}

export async function runFault(stand: Stand, clusterName: string, scenario: FaultScenario): Promise<FaultReport> {
  const t = standTargets(stand, clusterName);
  await waitWhole(t.whole, 120_000);
  const members = await patroniCluster(t.whole.restUrls, t.whole.tls);
  const leader = leaderOf(members)!;
  const ctx: InjectContext = {
    stand,
    leader,
    replicas: members!.filter((m) => m.name !== leader).map((m) => m.name),
    marks: {},
    nodes: t.nodes,
    creds: t.creds,
  };
  const table = `harness_${scenario.name.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_${Date.now()}`;
  await createWriteTable(t.primary, t.creds, table);
  const writer = new Writer(t.primary, t.creds, table, scenario.writer ?? PACED_WRITER);
  // Besides the entry: one paced session straight to each node's PostgreSQL and PgBouncer (see DIRECT_WRITER).
  const directWriters = t.direct.map(
    (n, i) =>
      new Writer(n, t.creds, table, {
        ...DIRECT_WRITER,
        firstId: (i + 1) * DIRECT_ID_RANGE,
        via: `${n.name}:${n.port}`,
      }),
  );
  const prober = new Prober(t.nodes, t.creds, t.proxies);
  writer.start();
  for (const d of directWriters) d.start();
  prober.start();
  let faultAt: number;
  let keyRead: Promise<void> | undefined;
  let wholeAt: number;
  let healedAt: number;
  let wholeAfterMs: number;
  let heldMs: number;
  const etcdLeaderWithPatroniLeader = await etcdLeaderOn(stand, leader);
  const expected = faultAlerts(stand, clusterName, scenario, ctx);
  let watch: AlertWatch | undefined;
  let alertsDone: Promise<readonly AlertOutcome[]> | undefined;
  try {
    await new Promise((r) => setTimeout(r, 3000));
    faultAt = Date.now();
    ctx.marks.fault = faultAt;
    if (expected.length > 0) watch = new AlertWatch(new Monitoring(stand), expected, faultAt);
    console.log(`[fault] ${scenario.name}: inject (leader ${leader})`);
    await scenario.inject(ctx);
    // Where in the leader's renewal cycle the fault fell (up to loop_wait of
    // jitter on any failover time): once the old leader can renew nothing,
    // its key's expiry is fixed. Read after the injection, since a renewal
    // can still slip in while it runs; asked of the other members first.
    const own = stand.address(leader);
    const etcdUrls = [...(t.whole.etcdUrls ?? [])].sort(
      (a, b) => Number(a.includes(`//${own}:`)) - Number(b.includes(`//${own}:`)),
    );
    keyRead = leaderKeyTtlLeft(etcdUrls, clusterName, t.whole.tls).then((ttl) => {
      if (ttl !== undefined) ctx.marks.leaderKeyExpires = Date.now() + ttl * 1000 + 500;
    });
    await new Promise((r) => setTimeout(r, scenario.holdMs));
    // The fault lasts until its alerts fired (or the latest of their bounds passed).
    if (watch && !watch.allFired) {
      console.log(`[fault] ${scenario.name}: holding until ${expected.map((e) => e.labels.alertname).join(", ")} fire`);
      await watch.waitFired(watch.firesBy);
    }
    console.log(`[fault] ${scenario.name}: heal`);
    heldMs = Date.now() - faultAt;
    await scenario.heal(ctx);
    healedAt = Date.now();
    await waitWhole(t.whole, scenario.wholeWithinMs);
    // Whole means clients write again: HAProxy may not have noticed the fault yet when the members look whole.
    const resumed = () => writer.records.some((w) => w.status === "ack" && w.sentAt > healedAt);
    while (!resumed()) {
      if (Date.now() - healedAt > scenario.wholeWithinMs)
        throw new Error(`${scenario.name}: no write acknowledged through HAProxy since the heal`);
      await new Promise((r) => setTimeout(r, 100));
    }
    wholeAt = Date.now();
    wholeAfterMs = wholeAt - healedAt;
    // The alerts resolve meanwhile: the watch waits for it (within their bounds from now) while the run ends.
    alertsDone = watch?.finish(healedAt, wholeAt);
    // Keep writing a little on the healed cluster.
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    if (!alertsDone) watch?.stop();
    await Promise.all([writer.stop(), ...directWriters.map((d) => d.stop())]);
    await prober.stop();
  }
  await keyRead;
  const rows = await readIdsEverywhere(t.nodes, t.creds, table);
  const all: WriteRecord[] = [...writer.records, ...directWriters.flatMap((d) => d.records)];
  const durability = checkDurability(all, rows);
  const dual = dualPrimaryRounds(prober.rounds);
  // When another node first answered as a writable primary (the new leader, or a second primary).
  const newPrimary = prober.rounds.find((r) => r.at >= faultAt && r.writable.some((n) => n !== leader));
  if (newPrimary) ctx.marks.newPrimary = newPrimary.at;
  const lost = lostWrites(all, durability);
  // What waiting for the alerts to resolve added to the run: the wait once everything else was done.
  const readAt = Date.now();
  const alerts = await alertsDone;
  const alertsWaitMs = alertsDone ? Date.now() - readAt : undefined;
  const report: FaultReport = {
    scenario: scenario.name,
    leaderBefore: leader,
    leaderAfter: leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls)),
    writeUnavailableMs: writeUnavailabilityMs(writer.records, faultAt),
    lostAcknowledged: lostCount(durability),
    lostByWriter: lostByWriter(all, durability),
    direct: Object.fromEntries(
      directWriters.map((d, i) => {
        const n = (s: WriteRecord["status"]) => d.records.filter((r) => r.status === s).length;
        return [
          `${t.direct[i].name}:${t.direct[i].port}`,
          { ack: n("ack"), failed: n("failed"), unknown: n("unknown") },
        ];
      }),
    ),
    durability,
    dualPrimaryRounds: dual.length,
    dualProxyRounds: dualProxyRounds(prober.rounds).length,
    staleProxyRounds: staleProxyRounds(prober.rounds).length,
    leaderDrops: proxyDrops(prober.rounds, leader),
    firstDualPrimary: dual[0],
    lastDualPrimaryAfterHealMs: dual.length > 0 ? dual[dual.length - 1].at - healedAt : undefined,
    probeRateHz: probeRate(prober.rounds, faultAt, healedAt),
    etcdLeaderWithPatroniLeader,
    wholeAfterMs,
    writes: writer.records.length,
    acks: {
      beforeFault: acksBetween(writer.records, faultAt - 1000, faultAt),
      duringFault: acksBetween(writer.records, faultAt, healedAt),
      afterWhole: acksBetween(writer.records, wholeAt, wholeAt + 2000),
    },
    ackRatePerS: Math.round(acksBetween(writer.records, faultAt - 3000, faultAt) / 3),
    ackRateDuringFaultPerS: Math.round(acksBetween(writer.records, faultAt, healedAt) / ((healedAt - faultAt) / 1000)),
    rpoMs: lost.length ? (ctx.marks.primaryLost ?? faultAt) - lost[0].doneAt : undefined,
    oldestLostAckAt: lost[0]?.doneAt,
    marks: ctx.marks,
    heldMs,
    alerts,
    alertsWaitMs,
  };
  console.log(
    `[fault] ${scenario.name}: ${JSON.stringify({ ...report, durability: { ...durability, lost: Object.fromEntries(Object.entries(durability.lost).map(([n, ids]) => [n, ids.length])), phantom: Object.keys(durability.phantom), ghost: Object.keys(durability.ghost) } })}`,
  );
  return report;
}

/**
 * The alerts `scenario` must raise on this stand, labelled with its cluster:
 * none when the stand has no monitor host (nothing to ask) or the scenario
 * states none.
 */
function faultAlerts(stand: Stand, clusterName: string, scenario: FaultScenario, ctx: FaultContext): ExpectedAlert[] {
  if (!scenario.alerts || stand.hostsWith("monitor").length === 0) return [];
  return scenario
    .alerts(ctx, stand.parsedConfig().monitor)
    .map((e) => ({ ...e, labels: { cluster: clusterName, ...e.labels } }));
}

export interface TrafficReport {
  readonly acknowledged: number;
  readonly lostAcknowledged: number;
  /** Longest stretch without an acknowledged write while `action` ran (ms). */
  readonly writePauseMs: number;
  readonly dualProxyRounds: number;
  readonly staleProxyRounds: number;
}

export interface TrafficOptions {
  /** How the writer and the prober negotiate TLS, when the stand's outputs would not say it right for the whole action (a migration to TLS: prefer). */
  readonly ssl?: SslOptions;
  /** The writer opens its connections again this often (HAProxy reloads: see Writer). */
  readonly reconnectMs?: number;
}

/**
 * Runs `action` while a client writes through HAProxy's primary port; then
 * checks every acknowledged write is on every node.
 */
export async function withTraffic(
  stand: Stand,
  clusterName: string,
  label: string,
  action: () => Promise<unknown>,
  options: TrafficOptions = {},
): Promise<TrafficReport> {
  const t = standTargets(stand, clusterName, options.ssl);
  const table = `traffic_${label.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_${Date.now()}`;
  await createWriteTable(t.primary, t.creds, table);
  const writer = new Writer(t.primary, t.creds, table, { ...PACED_WRITER, reconnectMs: options.reconnectMs ?? 0 });
  const prober = new Prober(t.nodes, t.creds, t.proxies);
  writer.start();
  prober.start();
  await new Promise((r) => setTimeout(r, 1000));
  const from = Date.now();
  try {
    await action();
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await writer.stop();
    await prober.stop();
  }
  // The action may have rotated the superuser's password: read with the current one.
  await stand.refreshOutputs();
  const now = standTargets(stand, clusterName);
  const durability = checkDurability(writer.records, await readIdsEverywhere(now.nodes, now.creds, table));
  const report: TrafficReport = {
    acknowledged: durability.acknowledged,
    lostAcknowledged: lostCount(durability),
    writePauseMs: writeUnavailabilityMs(writer.records, from),
    dualProxyRounds: dualProxyRounds(prober.rounds).length,
    staleProxyRounds: staleProxyRounds(prober.rounds).length,
  };
  console.log(`[traffic] ${label}: ${JSON.stringify(report)}`);
  return report;
}
