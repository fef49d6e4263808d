// One fault run on a deployed stand: write and probe the whole time, inject
// the fault, heal it, wait until the cluster is whole with no manual action,
// then read every node and check the invariants.
import { Stand } from "../helpers/stand";
import { leaderOf, patroniCluster, readIdsEverywhere, waitWhole, WholeSpec } from "./clusterState";
import {
  checkDurability,
  DurabilityReport,
  dualPrimaryRounds,
  dualProxyRounds,
  staleProxyRounds,
  lostCount,
  ProbeRound,
  writeUnavailabilityMs,
} from "./invariants";
import { AlertOutcome, AlertWatch, ExpectedAlert, Monitoring } from "./monitoring";
import { createWriteTable, Credentials, ProbeNode, Prober, ProxyStats, Writer } from "./traffic";

export interface FaultContext {
  readonly stand: Stand;
  /** The leader when the fault was injected. */
  readonly leader: string;
  readonly replicas: readonly string[];
}

export interface FaultScenario {
  readonly name: string;
  /** Breaks something; resolves once the fault is in place. */
  readonly inject: (ctx: FaultContext) => Promise<void>;
  /** How long the fault lasts before heal. */
  readonly holdMs: number;
  /** Undoes the fault (SIGCONT, power on, ...). */
  readonly heal: (ctx: FaultContext) => Promise<void>;
  /** Bound on the time from heal to whole. */
  readonly wholeWithinMs: number;
  /** The alerts the fault must raise (on a stand with a monitor host), each fired and resolved within its bound. */
  readonly alerts?: (ctx: FaultContext) => ExpectedAlert[];
}

export interface FaultReport {
  readonly scenario: string;
  readonly leaderBefore: string;
  readonly leaderAfter?: string;
  /** Longest stretch with no acknowledged write, from the fault on (ms). */
  readonly writeUnavailableMs: number;
  readonly lostAcknowledged: number;
  readonly durability: DurabilityReport;
  /** Probe rounds with two writable primaries at the database, and at HAProxy's primary port. */
  readonly dualPrimaryRounds: number;
  readonly dualProxyRounds: number;
  /** Rounds with two servers up in HAProxy's primary backend at all (stale checks after a role change). */
  readonly staleProxyRounds: number;
  readonly firstDualPrimary?: ProbeRound;
  /** From heal to whole (ms): every member healthy, HAProxy routing to them, and a write acknowledged through it. */
  readonly wholeAfterMs: number;
  readonly writes: number;
  /** The expected alerts: when each fired and resolved, and whether the local receiver was told (runFault's checkAlerts). */
  readonly alerts?: AlertOutcome[];
}

/** Where the harness reaches the stand: HAProxy's primary port, every PostgreSQL, Patroni's REST API, HAProxy's stats. */
export function standTargets(stand: Stand, clusterName: string) {
  const o = stand.outputs;
  const haproxy = new URL(o.primaryUri);
  const creds: Credentials = { user: "postgres", password: stand.superuserPassword, database: "postgres" };
  const pgHosts = stand.hostsWith("postgres");
  const nodes: ProbeNode[] = pgHosts.map((name) => ({ name, host: stand.address(name), port: 5432 }));
  const stats: ProxyStats = {
    url: o.haproxyStatsUrl,
    user: o.haproxyStatsUser,
    password: o.haproxyStatsPassword,
    primaryBackend: `${clusterName}-primary`,
  };
  const whole: WholeSpec = {
    restUrls: pgHosts.map((h) => `http://${stand.address(h)}:8008`),
    members: pgHosts,
    stats,
    replicaBackend: `${clusterName}-replicas`,
    expectedReplicasUp: pgHosts.length - 1,
    primaryLogin: { host: haproxy.hostname, port: Number(haproxy.port), creds },
  };
  return { primary: { host: haproxy.hostname, port: Number(haproxy.port) }, creds, nodes, stats, whole };
}

export async function runFault(
  stand: Stand,
  clusterName: string,
  scenario: FaultScenario,
  options: { readonly checkAlerts?: boolean } = {},
): Promise<FaultReport> {
  const t = standTargets(stand, clusterName);
  await waitWhole(t.whole, 120_000);
  const members = await patroniCluster(t.whole.restUrls);
  const leader = leaderOf(members)!;
  const ctx: FaultContext = { stand, leader, replicas: members!.filter((m) => m.name !== leader).map((m) => m.name) };
  const table = `harness_${scenario.name.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_${Date.now()}`;
  await createWriteTable(t.primary, t.creds, table);
  const writer = new Writer(t.primary, t.creds, table);
  const prober = new Prober(t.nodes, t.creds, t.stats);
  writer.start();
  prober.start();
  let faultAt: number;
  let healedAt: number;
  let wholeAfterMs: number;
  const expectedAlerts = options.checkAlerts && stand.outputs.alertmanagerUrl ? scenario.alerts?.(ctx) : undefined;
  let watch: AlertWatch | undefined;
  try {
    await new Promise((r) => setTimeout(r, 3000));
    faultAt = Date.now();
    if (expectedAlerts?.length) watch = new AlertWatch(new Monitoring(stand), expectedAlerts, faultAt);
    console.log(`[fault] ${scenario.name}: inject (leader ${leader})`);
    await scenario.inject(ctx);
    await new Promise((r) => setTimeout(r, scenario.holdMs));
    console.log(`[fault] ${scenario.name}: heal`);
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
    wholeAfterMs = Date.now() - healedAt;
    // Keep writing a little on the healed cluster.
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await writer.stop();
    await prober.stop();
  }
  const alerts = await watch?.finish(healedAt);
  const rows = await readIdsEverywhere(t.nodes, t.creds, table);
  const durability = checkDurability(writer.records, rows);
  const dual = dualPrimaryRounds(prober.rounds);
  const report: FaultReport = {
    scenario: scenario.name,
    leaderBefore: leader,
    leaderAfter: leaderOf(await patroniCluster(t.whole.restUrls)),
    writeUnavailableMs: writeUnavailabilityMs(writer.records, faultAt),
    lostAcknowledged: lostCount(durability),
    durability,
    dualPrimaryRounds: dual.length,
    dualProxyRounds: dualProxyRounds(prober.rounds).length,
    staleProxyRounds: staleProxyRounds(prober.rounds).length,
    firstDualPrimary: dual[0],
    wholeAfterMs,
    writes: writer.records.length,
    alerts,
  };
  console.log(
    `[fault] ${scenario.name}: ${JSON.stringify({ ...report, durability: { ...durability, lost: Object.keys(durability.lost), phantom: Object.keys(durability.phantom) } })}`,
  );
  return report;
}

export interface TrafficReport {
  readonly acknowledged: number;
  readonly lostAcknowledged: number;
  /** Longest stretch without an acknowledged write while `action` ran (ms). */
  readonly writePauseMs: number;
  readonly dualProxyRounds: number;
  readonly staleProxyRounds: number;
}

/** Runs `action` while a client writes through HAProxy's primary port; then checks every acknowledged write is on every node. */
export async function withTraffic(
  stand: Stand,
  clusterName: string,
  label: string,
  action: () => Promise<unknown>,
): Promise<TrafficReport> {
  const t = standTargets(stand, clusterName);
  const table = `traffic_${label.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_${Date.now()}`;
  await createWriteTable(t.primary, t.creds, table);
  const writer = new Writer(t.primary, t.creds, table);
  const prober = new Prober(t.nodes, t.creds, t.stats);
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
