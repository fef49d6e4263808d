// The seeds' fault tests as data: what breaks, for how long, how it heals,
// and what must hold afterwards. `npm run faults` runs them all
// (test/faults/faults.test.ts); `npm test` runs a representative few
// (test/e2e/cluster.test.ts). Healing is what a real failure's end looks
// like (the process resumes, the power comes back, the cable is plugged in):
// never a manual repair of the cluster.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";
import { expect } from "vitest";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";
import { FaultContext, FaultReport, FaultScenario } from "../harness/scenario";
import { AlertOutcome } from "../harness/monitoring";

export interface FaultCase extends FaultScenario {
  /** What the seeds' runbook says this shows. */
  readonly what: string;
  /** Whether the leader must change (true), must stay (false), or either is fine (undefined). */
  readonly leaderChanges?: boolean;
  /**
   * Whether two nodes may answer as writable primaries at the database level
   * for a while: only when a frozen Patroni cannot fence its PostgreSQL (no
   * watchdog in a container). HAProxy must never route to two in any case.
   */
  readonly dualAtDatabaseExpected?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The bounds on an alert in the fault suite, with the faults stand's monitor
 * (Pulumi.faults.yaml: scrapes every 5 s, alertForSeconds 20, Alertmanager's
 * groupWait 5 s and groupInterval 10 s): the condition seen within a scrape,
 * held 20 s, evaluated within 5 s, grouped 5 s: about 35 s after the fault;
 * resolved at the next scrape and evaluation, notified at the group's next
 * interval: about 25 s after the heal.
 */
const ALERT_FIRES_WITHIN_MS = 60_000;
const ALERT_RESOLVES_WITHIN_MS = 60_000;
const alert = (alertname: string, labels: Record<string, string>) => ({
  labels: { alertname, ...labels },
  firesWithinMs: ALERT_FIRES_WITHIN_MS,
  resolvesWithinMs: ALERT_RESOLVES_WITHIN_MS,
});

/** The leader's PostgreSQL over its unix socket, as postgres (peer). */
const psqlOn = (ctx: FaultContext, host: string, sql: string) =>
  ctx.stand.ssh(host, `runuser -u postgres -- psql -X -At -c "${sql}"`);

/** The pid of the leader's postmaster (Patroni starts it detached, so it is not Patroni's child: read postmaster.pid). */
function postmasterPid(ctx: FaultContext): string {
  const dataDir = `python3 -c 'import yaml; print(yaml.safe_load(open("/etc/patroni/config.yml"))["postgresql"]["data_dir"])'`;
  return ctx.stand.ssh(ctx.leader, `head -1 "$(${dataDir})/postmaster.pid"`);
}

/** The main pid of a unit on the leader. */
const mainPid = (unit: string) => (ctx: FaultContext) =>
  ctx.stand.ssh(ctx.leader, `systemctl show -p MainPID --value ${unit}`);

/** A process on the leader frozen (SIGSTOP) at inject and resumed (SIGCONT) at heal; its pid read at inject. */
function frozenOnLeader(pidOf: (ctx: FaultContext) => string): Pick<FaultCase, "inject" | "heal"> {
  let pid = "";
  return {
    inject: async (ctx) => {
      pid = pidOf(ctx);
      ctx.stand.ssh(ctx.leader, `kill -STOP ${pid}`);
    },
    heal: async (ctx) => {
      ctx.stand.ssh(ctx.leader, `kill -CONT ${pid}`);
    },
  };
}

/** npm run ctl against the stand, as a DBA runs it. */
export function ctl(stand: Stand, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    childProcess.execFile(
      "npm",
      ["run", "--silent", "ctl", "--", "--stack", stand.stack, ...args],
      { cwd: REPO, env: { ...process.env, ...stand.env }, encoding: "utf8", timeout: 300_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

export const FAULTS: Record<string, FaultCase> = {
  "switchover-ctl": {
    name: "switchover-ctl",
    what: "planned switchover with npm run ctl -- switchover (seed 003)",
    inject: async (ctx) => {
      const r = await ctl(ctx.stand, "switchover");
      if (r.code !== 0) throw new Error(`ctl switchover failed: ${r.out}`);
    },
    holdMs: 0,
    heal: async () => {},
    wholeWithinMs: 60_000,
    leaderChanges: true,
  },
  "kill9-postgres-leader": {
    name: "kill9-postgres-leader",
    what: "kill -9 of the leader's postmaster: Patroni starts it again (seed 004)",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, `kill -9 ${postmasterPid(ctx)}`);
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 90_000,
  },
  "kill9-patroni-leader": {
    name: "kill9-patroni-leader",
    what: "kill -9 of Patroni on the leader: systemd starts it again, PostgreSQL keeps running (seed 004)",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value patroni)"');
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 90_000,
  },
  "sigstop-postgres-leader": {
    name: "sigstop-postgres-leader",
    what: "SIGSTOP of the leader's postmaster for 40 s, then SIGCONT (seed 004)",
    ...frozenOnLeader(postmasterPid),
    holdMs: 40_000,
    wholeWithinMs: 120_000,
  },
  "sigstop-patroni-leader": {
    name: "sigstop-patroni-leader",
    what: "SIGSTOP of Patroni on the leader for ttl + 15 s, then SIGCONT (seed 004; Debian 12's Patroni lost writes here)",
    ...frozenOnLeader(mainPid("patroni")),
    holdMs: 45_000,
    wholeWithinMs: 90_000,
    leaderChanges: true,
    dualAtDatabaseExpected: true,
  },
  "stop-patroni-leader": {
    name: "stop-patroni-leader",
    what: "systemctl stop patroni on the leader (clean shutdown hands the lock over), then start",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, "systemctl stop patroni");
    },
    holdMs: 15_000,
    heal: async (ctx) => {
      ctx.stand.ssh(ctx.leader, "systemctl start patroni");
    },
    wholeWithinMs: 90_000,
    leaderChanges: true,
  },
  "etcd-all-stopped": {
    name: "etcd-all-stopped",
    what: "every etcd member stopped for 40 s: failsafe mode keeps the primary while every member answers (seed 005)",
    inject: async (ctx) => {
      await Promise.all(ctx.stand.hostsWith("etcd").map((h) => ctx.stand.sshAsync(h, "systemctl stop etcd")));
    },
    holdMs: 40_000,
    heal: async (ctx) => {
      await Promise.all(ctx.stand.hostsWith("etcd").map((h) => ctx.stand.sshAsync(h, "systemctl start etcd")));
    },
    wholeWithinMs: 90_000,
    leaderChanges: false,
  },
  "power-loss-leader": {
    name: "power-loss-leader",
    what: "the leader's machine loses power for 45 s, then pulumi up boots it: a replica takes over, the old leader rejoins by pg_rewind (seed 005)",
    inject: async (ctx) => {
      ctx.stand.machine("kill", ctx.leader);
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      // As the README says to: pulumi up powers stopped machines on again and converges.
      await ctx.stand.up(`pulumi up after ${ctx.leader} lost power`);
    },
    wholeWithinMs: 180_000,
    leaderChanges: true,
    alerts: (ctx) => [alert("PatroniMemberMissing", { member: ctx.leader })],
  },
  "link-down-leader": {
    name: "link-down-leader",
    what: "the leader's network link down (eth0 in its namespace) for 45 s, then up: it demotes itself, a replica takes over (seed 005)",
    inject: async (ctx) => {
      ctx.stand.machine("link-down", ctx.leader);
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      ctx.stand.machine("link-up", ctx.leader);
    },
    wholeWithinMs: 180_000,
    leaderChanges: true,
  },
  "power-loss-replica": {
    name: "power-loss-replica",
    what: "a replica's machine loses power for 45 s, then boots and streams again",
    inject: async (ctx) => {
      ctx.stand.machine("kill", ctx.replicas[0]);
    },
    // Long enough for the replica's alert to fire (see ALERT_FIRES_WITHIN_MS).
    holdMs: 45_000,
    heal: async (ctx) => {
      ctx.stand.machine("start", ctx.replicas[0]);
    },
    wholeWithinMs: 180_000,
    leaderChanges: false,
    alerts: (ctx) => [alert("PatroniReplicaNotStreaming", { member: ctx.replicas[0] })],
  },
  "etcd-stopped-member": {
    name: "etcd-stopped-member",
    what: "etcd stopped on one member for 45 s, then started: the other two keep the quorum, nothing fails over",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.replicas[0], "systemctl stop etcd");
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      ctx.stand.ssh(ctx.replicas[0], "systemctl start etcd");
    },
    wholeWithinMs: 60_000,
    leaderChanges: false,
    alerts: (ctx) => [alert("EtcdMemberDown", { member: ctx.replicas[0] })],
  },
  "replication-lag": {
    name: "replication-lag",
    what: "a replica stops replaying WAL for 45 s (maintenance mode on, pg_wal_replay_pause) while the primary writes 32 MB: the lag alerts fire (bytes and seconds), then clear once it replays",
    inject: async (ctx) => {
      const r = await ctl(ctx.stand, "pause");
      if (r.code !== 0) throw new Error(`ctl pause failed: ${r.out}`);
      psqlOn(ctx, ctx.replicas[0], "select pg_wal_replay_pause()");
      psqlOn(
        ctx,
        ctx.leader,
        "create table fault_lag as select g, repeat('x', 120) as pad from generate_series(1, 200000) g; drop table fault_lag",
      );
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      psqlOn(ctx, ctx.replicas[0], "select pg_wal_replay_resume()");
      const r = await ctl(ctx.stand, "resume");
      if (r.code !== 0) throw new Error(`ctl resume failed: ${r.out}`);
    },
    wholeWithinMs: 90_000,
    leaderChanges: false,
    alerts: (ctx) => [
      alert("PatroniReplicationLagBytes", { member: ctx.replicas[0] }),
      alert("PostgresReplicationLagSeconds", { member: ctx.replicas[0] }),
    ],
  },
  "haproxy-restart": {
    name: "haproxy-restart",
    what: "systemctl restart haproxy: clients reconnect, nothing fails over",
    inject: async (ctx) => {
      for (const h of ctx.stand.hostsWith("haproxy")) ctx.stand.ssh(h, "systemctl restart haproxy");
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
  "sigstop-pgbouncer-leader": {
    name: "sigstop-pgbouncer-leader",
    what: "PgBouncer on the leader frozen (SIGSTOP) for 20 s, then SIGCONT: HAProxy's probe takes the node out, nothing fails over",
    ...frozenOnLeader(mainPid("pgbouncer")),
    holdMs: 20_000,
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
  "kill9-pgbouncer-leader": {
    name: "kill9-pgbouncer-leader",
    what: "kill -9 of PgBouncer on the leader: systemd starts it again, HAProxy's check follows",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value pgbouncer)"');
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
};

/** The invariants every fault must keep, whatever its timings. */
export function expectFaultInvariants(fault: FaultCase, report: FaultReport): void {
  expect(report.durability.acknowledged, "writes were acknowledged during the run").toBeGreaterThan(100);
  expect(report.lostAcknowledged, `acknowledged writes lost: ${JSON.stringify(report.durability.lost)}`).toBe(0);
  expect(report.durability.phantom).toEqual({});
  expect(report.dualProxyRounds, "HAProxy routed to two writable primaries").toBe(0);
  if (!fault.dualAtDatabaseExpected) expect(report.dualPrimaryRounds, "two writable primaries at the database").toBe(0);
  if (fault.leaderChanges === true) expect(report.leaderAfter).not.toBe(report.leaderBefore);
  if (fault.leaderChanges === false) expect(report.leaderAfter).toBe(report.leaderBefore);
  expect(report.wholeAfterMs).toBeLessThan(fault.wholeWithinMs);
  for (const a of report.alerts ?? []) {
    const what = `${a.alertname} ${JSON.stringify(a.labels)}`;
    expect(a.firedAfterMs, `${what} fired`).toBeDefined();
    expect(a.firedAfterMs!, `${what} fired within ${a.firesWithinMs / 1000} s of the fault`).toBeLessThan(
      a.firesWithinMs,
    );
    expect(a.resolvedAfterMs, `${what} resolved`).toBeDefined();
    expect(a.resolvedAfterMs!, `${what} resolved within ${a.resolvesWithinMs / 1000} s of the heal`).toBeLessThan(
      a.resolvesWithinMs,
    );
    expect(a.notifiedFiring && a.notifiedResolved, `${what}: the receiver got it firing and resolved`).toBe(true);
  }
}

/** One alert outcome for the report: "PatroniMemberMissing pg02 fired 34.1 s, resolved 8.2 s". */
export const alertSummary = (a: AlertOutcome): string =>
  `${a.alertname}${a.labels.member ? ` ${a.labels.member}` : ""} fired ${a.firedAfterMs === undefined ? "never" : `${(a.firedAfterMs / 1000).toFixed(1)} s`}, resolved ${a.resolvedAfterMs === undefined ? "never" : `${(a.resolvedAfterMs / 1000).toFixed(1)} s`}${a.notifiedFiring && a.notifiedResolved ? "" : " (receiver not told)"}`;

export interface FaultRow extends FaultReport {
  readonly profile: string;
  readonly what: string;
}

/** bench/results/faults-<date>.{json,md}: the figures of one `npm run faults`. */
export function writeFaultReport(rows: readonly FaultRow[], meta: Record<string, string>): string {
  const dir = path.join(REPO, "bench", "results");
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 10);
  const base = path.join(dir, `faults-${stamp}`);
  fs.writeFileSync(
    `${base}.json`,
    JSON.stringify({ meta, rows: rows.map(({ durability: _d, ...r }) => r) }, null, 2) + "\n",
  );
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const lines = [
    `# Fault suite, ${stamp}`,
    "",
    Object.entries(meta)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; "),
    "",
    "| profile | fault | leader | writes stopped (s) | acknowledged | lost | unknown | dual primary, DB rounds | dual primary, HAProxy rounds | whole after heal (s) | alerts (after the fault / after the heal) |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.profile} | ${r.scenario} | ${r.leaderBefore} → ${r.leaderAfter ?? "none"} | ${s(r.writeUnavailableMs)} | ${r.durability.acknowledged} | ${r.lostAcknowledged} | ${r.durability.unknown} | ${r.dualPrimaryRounds} | ${r.dualProxyRounds} | ${s(r.wholeAfterMs)} | ${(r.alerts ?? []).map(alertSummary).join("; ")} |`,
    ),
    "",
    ...rows.map((r) => `- **${r.scenario}** (${r.profile}): ${r.what}`),
    "",
  ];
  fs.writeFileSync(`${base}.md`, lines.join("\n"));
  return `${base}.md`;
}

export { sleep };
