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
import { vipHolders, waitVipHolders } from "../harness/entry";
import { ctl } from "../harness/ctl";
import { alertReportLines, expectFaultAlerts, faultAlert } from "./alerts";

export { ctl };

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
  /**
   * The longest writes may stop (ms) with the DCS timings in force, and why:
   * a regression past it fails the scenario.
   */
  readonly pauseBound: (t: DcsTimings) => number;
  readonly pauseWhy: string;
  /**
   * Nothing on the leader's path breaks: no HAProxy that answers may stop
   * routing to it (with HAProxy's short check intervals, this is the
   * flapping check).
   */
  readonly leaderStaysRouted?: boolean;
  /** What else must hold once the cluster is whole again (the VIP's holder, say). */
  readonly verify?: (ctx: FaultContext, report: FaultReport) => Promise<void>;
}

/** Patroni's DCS timings in seconds (the profile's). */
export interface DcsTimings {
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
}

export const DEFAULT_DCS: DcsTimings = { ttl: 30, loopWait: 10, retryTimeout: 10 };

const s = (seconds: number) => seconds * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** The stand's VIP (haproxy.vip.address); the VIP faults need one. */
function vipOf(stand: Stand): string {
  const vip = stand.parsedConfig().haproxy.vip?.address;
  if (!vip) throw new Error(`stack ${stand.stack} has no haproxy.vip: the VIP faults need one`);
  return vip;
}

/**
 * A fault of the HAProxy host that holds the VIP: the VIP must be on
 * another host within `writesBackWithinMs`, and stay there once the host
 * is back (nopreempt: a returning host never cuts the sessions again).
 */
function onVipHolder(
  what: string,
  inject: (stand: Stand, holder: string) => Promise<void>,
  heal: (stand: Stand, holder: string) => Promise<void>,
  holdMs: number,
  writesBackWithinMs: number,
): Pick<FaultCase, "what" | "inject" | "heal" | "holdMs" | "verify" | "pauseBound" | "pauseWhy"> {
  let holder = "";
  let takenOverBy: string[] = [];
  return {
    what,
    inject: async (ctx) => {
      const vip = vipOf(ctx.stand);
      [holder] = await waitVipHolders(ctx.stand, vip, (h) => h.length === 1, 30_000);
      console.log(`[fault] VIP ${vip} held by ${holder}`);
      await inject(ctx.stand, holder);
      takenOverBy = await waitVipHolders(ctx.stand, vip, (h) => h.length === 1 && h[0] !== holder, writesBackWithinMs);
    },
    holdMs,
    heal: (ctx) => heal(ctx.stand, holder),
    pauseBound: () => writesBackWithinMs,
    pauseWhy: "keepalived moves the VIP to a healthy HAProxy host",
    verify: async (ctx) => {
      // A few VRRP adverts after the host is back: the VIP has not moved back to it.
      await sleep(5000);
      expect(vipHolders(ctx.stand, vipOf(ctx.stand)), `the VIP stays with ${takenOverBy[0]}`).toEqual(takenOverBy);
    },
  };
}

/**
 * The HAProxy hosts cut off from each other, both ways: in each host's
 * namespace the other HAProxy hosts' addresses resolve to a MAC nobody has,
 * so every unicast packet between them (VRRP's raw socket, keepalived's
 * check of the peer) is lost on the bridge while clients and the database
 * stay reachable. (This kernel has no tc drop action and the controller no
 * nftables; a blackhole route does not stop keepalived's raw socket.)
 */
function partitionHaproxies(stand: Stand, action: "add" | "del"): void {
  const hosts = stand.hostsWith("haproxy");
  for (const h of hosts)
    for (const other of hosts.filter((o) => o !== h)) {
      const neigh = ["-n", `pp-${stand.stack}-${h}`, "neigh"];
      childProcess.execFileSync(
        "ip",
        action === "add"
          ? [
              ...neigh,
              "replace",
              stand.address(other),
              "lladdr",
              "02:00:5e:00:de:ad",
              "nud",
              "permanent",
              "dev",
              "eth0",
            ]
          : [...neigh, "del", stand.address(other), "dev", "eth0"],
      );
    }
}

/** The VIP faults: they need haproxy.vip and two HAProxy hosts or more. */
export const VIP_FAULTS: Record<string, FaultCase> = {
  "power-loss-vip-holder": {
    name: "power-loss-vip-holder",
    ...onVipHolder(
      "the HAProxy host holding the VIP loses power for 15 s, then boots: the VIP moves to another HAProxy host within 5 s and stays there",
      async (stand, holder) => void (await stand.machineAsync("kill", holder)),
      async (stand, holder) => void (await stand.machineAsync("start", holder)),
      15_000,
      5000,
    ),
    wholeWithinMs: 120_000,
    leaderChanges: false,
    leaderStaysRouted: true,
  },
  "keepalived-stop-vip-holder": {
    name: "keepalived-stop-vip-holder",
    ...onVipHolder(
      "keepalived stopped on the VIP holder for 10 s (it hands the VIP over: priority 0), then started: it comes back as a backup",
      async (stand, holder) => void (await stand.sshAsync(holder, "systemctl stop keepalived")),
      async (stand, holder) => void (await stand.sshAsync(holder, "systemctl start keepalived")),
      10_000,
      3000,
    ),
    wholeWithinMs: 60_000,
    leaderChanges: false,
    leaderStaysRouted: true,
  },
  "link-down-vip-holder": {
    name: "link-down-vip-holder",
    ...onVipHolder(
      "the VIP holder's network link down for 15 s, then up: another HAProxy host takes the VIP within 5 s and keeps it",
      async (stand, holder) => void (await stand.machineAsync("link-down", holder)),
      async (stand, holder) => void (await stand.machineAsync("link-up", holder)),
      15_000,
      5000,
    ),
    wholeWithinMs: 60_000,
    leaderChanges: false,
    leaderStaysRouted: true,
  },
  "haproxy-partition": (() => {
    let holders: string[][] = [];
    let sampling: Promise<void> | undefined;
    let healed = false;
    return {
      name: "haproxy-partition",
      what: "the HAProxy hosts cut off from each other (not from clients or the database) for 12 s: each takes the VIP, both route writes to the one primary only; after the heal one holder remains",
      inject: async (ctx) => {
        healed = false;
        holders = [];
        partitionHaproxies(ctx.stand, "add");
        const vip = vipOf(ctx.stand);
        sampling = (async () => {
          while (!healed) {
            holders.push(vipHolders(ctx.stand, vip));
            await sleep(200);
          }
        })();
      },
      holdMs: 12_000,
      heal: async (ctx) => {
        partitionHaproxies(ctx.stand, "del");
        healed = true;
        await sampling;
      },
      wholeWithinMs: 60_000,
      leaderChanges: false,
      leaderStaysRouted: true,
      pauseBound: () => 10_000,
      pauseWhy: "both hosts keep routing to the one primary; one VIP holder after the heal",
      verify: async (ctx) => {
        // The split happened (else this proved nothing), and healed to one holder.
        expect(Math.max(...holders.map((h) => h.length)), "two VIP holders during the partition").toBe(2);
        await waitVipHolders(ctx.stand, vipOf(ctx.stand), (h) => h.length === 1, 10_000);
      },
    } satisfies FaultCase;
  })(),
};

/** SQL as postgres over the host's socket (the fault's own statements, not the harness's traffic). */
const psqlOn = (ctx: FaultContext, host: string, sql: string) =>
  ctx.stand.sshAsync(host, `runuser -u postgres -- psql -XAtq -d postgres -v ON_ERROR_STOP=1 -c "${sql}"`);

/** The etcd member a fault stops: one on a replica's host (the leader's Patroni keeps its own). */
function etcdMemberOffLeader(ctx: FaultContext): string {
  const etcd = ctx.stand.hostsWith("etcd");
  const host = ctx.replicas.find((r) => etcd.includes(r)) ?? etcd.find((h) => h !== ctx.leader);
  if (!host) throw new Error("no etcd member off the leader's host");
  return host;
}

const LAG_FILLER = "harness_lag_filler";

/** The faults whose point is an alert (issue 26): they keep the invariants too, and raise their alerts on a monitored stand. */
const MONITORED_FAULTS: Record<string, FaultCase> = {
  "etcd-stop-member": {
    name: "etcd-stop-member",
    pauseBound: () => s(5),
    pauseWhy: "two etcd members of three keep the quorum: the leader's key is renewed, nothing fails over",
    what: "systemctl stop etcd on a replica's host until EtcdMemberDown fires (at least 20 s), then start: the quorum holds, nothing fails over",
    inject: async (ctx) => void (await ctx.stand.sshAsync(etcdMemberOffLeader(ctx), "systemctl stop etcd")),
    holdMs: 20_000,
    heal: async (ctx) => void (await ctx.stand.sshAsync(etcdMemberOffLeader(ctx), "systemctl start etcd")),
    wholeWithinMs: 60_000,
    leaderChanges: false,
    leaderStaysRouted: true,
    alerts: (ctx, m) => [faultAlert(m, "EtcdMemberDown", { member: etcdMemberOffLeader(ctx) })],
  },
  "replication-lag-replica": (() => {
    // Patroni resumes a replay paused with pg_wal_replay_pause() within its next loop (measured: under 3 s),
    // so the replica's startup process, which replays WAL, is frozen instead: WAL is still received and flushed.
    let pid = "";
    return {
      name: "replication-lag-replica",
      pauseBound: () => s(10),
      pauseWhy: "a bulk write of twice the lag threshold on the leader slows its commits; nothing fails over",
      what: "a replica's WAL replay stopped (its startup process frozen, SIGSTOP) and twice monitor.thresholds.replicationLagBytes written on the leader, held until both lag alerts fire, then SIGCONT: it catches up",
      inject: async (ctx) => {
        pid = await ctx.stand.sshAsync(ctx.replicas[0], "pgrep -f '^postgres: .*startup'");
        if (!/^\d+$/.test(pid)) throw new Error(`no single startup process on ${ctx.replicas[0]}: ${pid}`);
        await ctx.stand.sshAsync(ctx.replicas[0], `kill -STOP ${pid}`);
        // Rows of about 1 kB, uncompressed (under TOAST's threshold): twice the threshold in WAL.
        const rows = Math.ceil((2 * ctx.stand.parsedConfig().monitor.thresholds.replicationLagBytes) / 1000);
        await psqlOn(
          ctx,
          ctx.leader,
          `DROP TABLE IF EXISTS ${LAG_FILLER}; CREATE TABLE ${LAG_FILLER} AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, ${rows}) g`,
        );
      },
      holdMs: 10_000,
      heal: async (ctx) => {
        await ctx.stand.sshAsync(ctx.replicas[0], `kill -CONT ${pid}`);
        await psqlOn(ctx, ctx.leader, `DROP TABLE ${LAG_FILLER}`);
      },
      wholeWithinMs: 60_000,
      leaderChanges: false,
      leaderStaysRouted: true,
      alerts: (ctx, m) => [
        // Replay stops at once; the bulk write's commit (up to 15 s on a loaded controller) passes the threshold.
        faultAlert(
          m,
          "PatroniReplicationLagBytes",
          { member: ctx.replicas[0] },
          { conditionMs: s(15), clearsMs: s(5) },
        ),
        // Its condition holds once the last replayed commit is older than the threshold (the writer commits all along).
        faultAlert(
          m,
          "PostgresReplicationLagSeconds",
          { member: ctx.replicas[0] },
          { conditionMs: s(m.thresholds.replicationLagSeconds), clearsMs: s(5) },
        ),
      ],
    } satisfies FaultCase;
  })(),
};

export const FAULTS: Record<string, FaultCase> = {
  "switchover-ctl": {
    name: "switchover-ctl",
    pauseBound: () => s(5),
    pauseWhy: "a planned switchover: demote, promote, HAProxy's next check (2 s)",
    what: "planned switchover with npm run ctl -- switchover (every seed)",
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
    pauseBound: (t) => s(t.loopWait + 10),
    pauseWhy: "Patroni notices at its next loop and starts PostgreSQL again, plus HAProxy's checks",
    what: "kill -9 of the leader's postmaster: Patroni starts it again (seed 002)",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, `kill -9 ${postmasterPid(ctx)}`);
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 90_000,
  },
  "kill9-patroni-leader": {
    name: "kill9-patroni-leader",
    pauseBound: (t) => s(t.loopWait + 10),
    pauseWhy: "systemd starts Patroni again; HAProxy counts the node down while its REST API is gone",
    what: "kill -9 of Patroni on the leader: systemd starts it again, PostgreSQL keeps running (seed 002)",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value patroni)"');
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 90_000,
  },
  "sigstop-postgres-leader": {
    name: "sigstop-postgres-leader",
    pauseBound: (t) => s(40 + t.loopWait),
    pauseWhy: "the freeze itself (40 s) and one loop after it",
    what: "SIGSTOP of the leader's postmaster for 40 s, then SIGCONT (seed 002)",
    ...frozenOnLeader(postmasterPid),
    holdMs: 40_000,
    wholeWithinMs: 120_000,
  },
  "sigstop-patroni-leader": {
    name: "sigstop-patroni-leader",
    pauseBound: (t) => s(t.ttl + t.loopWait + 10),
    pauseWhy:
      "HAProxy takes the frozen REST API out at once; the lock expires after ttl; a replica promotes at its next loop",
    what: "SIGSTOP of Patroni on the leader for ttl + 15 s, then SIGCONT (seed 002; Debian 12's Patroni lost writes here)",
    ...frozenOnLeader(mainPid("patroni")),
    holdMs: 45_000,
    wholeWithinMs: 90_000,
    leaderChanges: true,
    dualAtDatabaseExpected: true,
  },
  "stop-patroni-leader": {
    name: "stop-patroni-leader",
    pauseBound: () => s(10),
    pauseWhy: "a clean shutdown hands the lock to a replica at once",
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
    pauseBound: () => s(5),
    pauseWhy: "failsafe mode: the primary keeps taking writes while every member answers",
    what: "every etcd member stopped for 40 s: failsafe mode keeps the primary while every member answers (seed 002)",
    inject: async (ctx) => {
      await Promise.all(ctx.stand.hostsWith("etcd").map((h) => ctx.stand.sshAsync(h, "systemctl stop etcd")));
    },
    holdMs: 40_000,
    heal: async (ctx) => {
      await Promise.all(ctx.stand.hostsWith("etcd").map((h) => ctx.stand.sshAsync(h, "systemctl start etcd")));
    },
    wholeWithinMs: 90_000,
    leaderChanges: false,
    leaderStaysRouted: true,
  },
  "power-loss-leader": {
    name: "power-loss-leader",
    pauseBound: (t) => s(t.ttl + t.loopWait),
    pauseWhy:
      "the lock expires after ttl (the etcd leader is kept off the primary's host), a replica promotes within a loop, HAProxy's checks",
    what: "the leader's machine loses power for 45 s, then pulumi up boots it: a replica takes over, the old leader rejoins by pg_rewind (seed 002 powers off cleanly; this cut is harder)",
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
    alerts: (ctx, m) => [faultAlert(m, "PatroniMemberMissing", { member: ctx.leader })],
  },
  "link-down-leader": {
    name: "link-down-leader",
    pauseBound: (t) => s(t.ttl + t.loopWait + 15),
    pauseWhy: "as a power loss, plus connections to the cut-off node that hang until the client gives up on them",
    what: "the leader's network link down (eth0 in its namespace) for 45 s, then up: it demotes itself, a replica takes over (seed 001)",
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
    pauseBound: () => s(5),
    pauseWhy: "a replica's loss does not stop writes (asynchronous replication)",
    what: "a replica's machine loses power for 20 s, then boots and streams again",
    inject: async (ctx) => {
      ctx.stand.machine("kill", ctx.replicas[0]);
    },
    holdMs: 20_000,
    heal: async (ctx) => {
      ctx.stand.machine("start", ctx.replicas[0]);
    },
    wholeWithinMs: 180_000,
    leaderChanges: false,
    leaderStaysRouted: true,
    alerts: (ctx, m) =>
      ["PatroniReplicaNotStreaming", "PatroniMemberMissing"].map((a) => faultAlert(m, a, { member: ctx.replicas[0] })),
  },
  "haproxy-restart": {
    name: "haproxy-restart",
    pauseBound: () => s(5),
    pauseWhy: "clients reconnect to the restarted HAProxy",
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
    pauseBound: () => s(20 + 10),
    pauseWhy: "no node takes writes while the leader's PgBouncer is frozen (20 s), then HAProxy's checks",
    what: "PgBouncer on the leader frozen (SIGSTOP) for 20 s, then SIGCONT: HAProxy's probe takes the node out, nothing fails over",
    ...frozenOnLeader(mainPid("pgbouncer")),
    holdMs: 20_000,
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
  "kill9-pgbouncer-leader": {
    name: "kill9-pgbouncer-leader",
    pauseBound: () => s(10),
    pauseWhy: "systemd starts PgBouncer again, then HAProxy's checks",
    what: "kill -9 of PgBouncer on the leader: systemd starts it again, HAProxy's check follows",
    inject: async (ctx) => {
      ctx.stand.ssh(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value pgbouncer)"');
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
  ...MONITORED_FAULTS,
};

/** The invariants every fault must keep, whatever its timings. */
export function expectFaultInvariants(fault: FaultCase, report: FaultReport, timings: DcsTimings): void {
  const bound = fault.pauseBound(timings);
  expect(report.writeUnavailableMs, `writes stopped longer than ${bound} ms (${fault.pauseWhy})`).toBeLessThan(bound);
  expect(report.durability.acknowledged, "writes were acknowledged during the run").toBeGreaterThan(100);
  expect(report.lostAcknowledged, `acknowledged writes lost: ${JSON.stringify(report.durability.lost)}`).toBe(0);
  expect(report.durability.phantom).toEqual({});
  expect(report.dualProxyRounds, "HAProxy routed to two writable primaries").toBe(0);
  if (!fault.dualAtDatabaseExpected) expect(report.dualPrimaryRounds, "two writable primaries at the database").toBe(0);
  // No watchdog in a container: a frozen Patroni cannot fence its PostgreSQL, but
  // it must demote it within a loop of resuming.
  if (report.dualPrimaryRounds > 0)
    expect(
      report.lastDualPrimaryAfterHealMs,
      "two writable primaries longer than one loop_wait after the heal",
    ).toBeLessThan(s(timings.loopWait + 5));
  if (fault.leaderStaysRouted) expect(report.leaderDrops, "HAProxy took the healthy leader out").toBe(0);
  if (fault.leaderChanges === true) expect(report.leaderAfter).not.toBe(report.leaderBefore);
  if (fault.leaderChanges === false) expect(report.leaderAfter).toBe(report.leaderBefore);
  expect(report.wholeAfterMs).toBeLessThan(fault.wholeWithinMs);
  if (report.alerts) expectFaultAlerts(report.alerts);
}

export interface FaultRow extends FaultReport {
  readonly profile: string;
  readonly what: string;
  /** passed, or why the scenario failed (an invariant, or an error before its report). */
  readonly outcome: string;
  /** The scenario's write-pause bound in force (ms). */
  readonly boundMs: number;
}

/** A scenario that threw before it had a report: kept as a row, never dropped. */
export function failedRow(scenario: string, profile: string, what: string, boundMs: number, error: unknown): FaultRow {
  const durability = {
    acknowledged: 0,
    unknown: 0,
    failed: 0,
    lost: [],
    phantom: {},
  } as unknown as FaultReport["durability"];
  return {
    scenario,
    profile,
    what,
    outcome: `error: ${String((error as Error)?.message ?? error)
      .split("\n")[0]
      .slice(0, 300)}`,
    leaderBefore: "?",
    boundMs,
    leaderDrops: NaN,
    writeUnavailableMs: NaN,
    lostAcknowledged: NaN,
    durability,
    dualPrimaryRounds: NaN,
    dualProxyRounds: NaN,
    staleProxyRounds: NaN,
    wholeAfterMs: NaN,
    probeRateHz: NaN,
    writes: 0,
  };
}

/**
 * bench/results/faults-<date>T<time>[-<suffix>].{json,md}: the figures of one
 * run of the suite, with its outcome per scenario. Every run keeps its own
 * file; nothing overwrites an earlier run.
 */
export function writeFaultReport(rows: readonly FaultRow[], meta: Record<string, string>, suffix = ""): string {
  const dir = path.join(REPO, "bench", "results");
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 16).replace(":", "");
  const base = path.join(dir, `faults-${stamp}${suffix ? `-${suffix}` : ""}`);
  fs.writeFileSync(
    `${base}.json`,
    JSON.stringify({ meta, rows: rows.map(({ durability: _d, ...r }) => r) }, null, 2) + "\n",
  );
  const sec = (ms: number) => (ms / 1000).toFixed(1);
  const lines = [
    `# Fault suite, ${stamp}`,
    "",
    Object.entries(meta)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; "),
    "",
    "| profile | fault | outcome | leader | writes stopped (s) | bound (s) | acknowledged | lost | unknown | dual primary, DB rounds (last, s after heal) | dual primary, HAProxy rounds | HAProxy dropped the leader | probe Hz | etcd leader on its host | whole after heal (s) |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ...rows.map(
      (r) =>
        `| ${r.profile} | ${r.scenario} | ${r.outcome.replace(/\|/g, "/")} | ${r.leaderBefore} → ${r.leaderAfter ?? "none"} | ${sec(r.writeUnavailableMs)} | ${sec(r.boundMs)} | ${r.durability.acknowledged} | ${r.lostAcknowledged} | ${r.durability.unknown} | ${r.dualPrimaryRounds}${r.lastDualPrimaryAfterHealMs === undefined ? "" : ` (${sec(r.lastDualPrimaryAfterHealMs)})`} | ${r.dualProxyRounds} | ${r.leaderDrops ?? "-"} | ${r.probeRateHz} | ${r.etcdLeaderWithPatroniLeader === undefined ? "?" : r.etcdLeaderWithPatroniLeader ? "yes" : "no"} | ${sec(r.wholeAfterMs)} |`,
    ),
    "",
    ...rows.map((r) => `- **${r.scenario}** (${r.profile}): ${r.what}`),
    ...alertReportLines(rows),
    "",
  ];
  fs.writeFileSync(`${base}.md`, lines.join("\n"));
  return `${base}.md`;
}

export { sleep };
