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
import { ETCDCTL, Stand } from "../helpers/stand";
import { FaultContext, FaultReport, FaultScenario, standTargets } from "../harness/scenario";
import { leaderOf, patroniCluster } from "../harness/clusterState";
import { PgConnection } from "../harness/pgwire";
import { PACED_WRITER, SATURATING_WRITER } from "../harness/traffic";
import { vipHolders, waitVipHolders } from "../harness/entry";
import { ctl } from "../harness/ctl";
import { Monitoring } from "../harness/monitoring";
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
  /**
   * Under asynchronous replication this fault must lose acknowledged writes
   * (the replicas were held back: the suite measures the RPO), and only
   * those acknowledged after `marks.stalled`; under synchronous_mode none.
   */
  readonly lossUnderAsync?: boolean;
  /** Only meaningful with synchronous_mode on (the synchronous standby's faults). */
  readonly synchronousOnly?: boolean;
  /** Writes must go on being acknowledged while the fault lasts (a replica lost, etcd gone in failsafe mode). */
  readonly writesContinue?: boolean;
  /** What else must hold once the cluster is whole again (the VIP's holder, say). */
  readonly verify?: (ctx: FaultContext, report: FaultReport) => Promise<void>;
}

/** Patroni's DCS timings in seconds (the profile's). */
export interface DcsTimings {
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  /** synchronous_mode in force: no acknowledged write may be lost, whatever the replicas' lag. */
  readonly synchronousMode?: boolean;
  /** PostgreSQL's wal_sender_timeout (s): how long a walsender waits on a silent standby. */
  readonly walSenderTimeout?: number;
  /** Patroni's maximum_lag_on_failover (bytes): a replica further behind is not promoted. */
  readonly maximumLagOnFailover?: number;
}

export const DEFAULT_DCS: DcsTimings = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  walSenderTimeout: 60,
  maximumLagOnFailover: 1048576,
};

const s = (seconds: number) => seconds * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the leader's postmaster (Patroni starts it detached, so it is not Patroni's child: read postmaster.pid). */
function postmasterPid(ctx: FaultContext): Promise<string> {
  const dataDir = `python3 -c 'import yaml; print(yaml.safe_load(open("/etc/patroni/config.yml"))["postgresql"]["data_dir"])'`;
  return ctx.stand.sshAsync(ctx.leader, `head -1 "$(${dataDir})/postmaster.pid"`, 30_000);
}

/** The main pid of a unit on the leader. */
const mainPid = (unit: string) => (ctx: FaultContext) =>
  ctx.stand.sshAsync(ctx.leader, `systemctl show -p MainPID --value ${unit}`, 30_000);

/** A process on the leader frozen (SIGSTOP) at inject and resumed (SIGCONT) at heal; its pid read at inject. */
function frozenOnLeader(pidOf: (ctx: FaultContext) => Promise<string>): Pick<FaultCase, "inject" | "heal"> {
  let pid = "";
  return {
    inject: async (ctx) => {
      pid = (await pidOf(ctx)).trim();
      await ctx.stand.sshAsync(ctx.leader, `kill -STOP ${pid}`, 30_000);
    },
    heal: async (ctx) => {
      await ctx.stand.sshAsync(ctx.leader, `kill -CONT ${pid}`, 30_000);
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
): Pick<FaultCase, "what" | "inject" | "heal" | "holdMs" | "verify" | "pauseBound" | "pauseWhy" | "writesContinue"> {
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
    writesContinue: true,
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

/** Runs a command on the controller without blocking the event loop (the writer and the prober keep going). */
function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    childProcess.execFile(command, args, { encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/**
 * Holds back the leader's replication stream: in the leader's own network
 * namespace, packets from its PostgreSQL port to each replica are queued at
 * 8 kbit/s (htb; this kernel has neither netem nor a drop action), while
 * clients (PgBouncer's port) and everything else pass. Asynchronous commits
 * go on being acknowledged; the replicas fall behind. The queue dies with
 * the machine, as WAL in a real primary's send buffers does.
 */
async function holdBackReplication(stand: Stand, leader: string, replicas: readonly string[]): Promise<void> {
  const tc = (...args: string[]) => run("tc", ["-n", `pp-${stand.stack}-${leader}`, ...args]);
  await tc("qdisc", "replace", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10");
  await tc("class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit");
  await tc("class", "add", "dev", "eth0", "parent", "1:", "classid", "1:20", "htb", "rate", "8kbit", "ceil", "8kbit");
  for (const r of replicas)
    await tc(
      ...["filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32"],
      ...["match", "ip", "sport", "5432", "0xffff", "match", "ip", "dst", `${stand.address(r)}/32`, "flowid", "1:20"],
    );
}

/**
 * Drops each packet of the leader's link with probability `p`, both ways:
 * a clsact qdisc on eth0 in the leader's own namespace, with a classic BPF
 * filter in direct-action mode on egress and on ingress that draws a random
 * number per packet (the ancillary load SKF_AD_RANDOM) and answers
 * TC_ACT_SHOT below p * 2^32, TC_ACT_OK above. This kernel has neither
 * netem nor iptables on the controller; cls_bpf and clsact are built in.
 */
async function lossOnLink(stand: Stand, host: string, p: number): Promise<void> {
  const tc = (...args: string[]) => run("tc", ["-n", `pp-${stand.stack}-${host}`, ...args]);
  const threshold = Math.round(p * 2 ** 32);
  // ld rand; jge threshold ? pass : drop; ret TC_ACT_OK (0); ret TC_ACT_SHOT (2).
  const bytecode = `4,32 0 0 ${2 ** 32 - 4096 + 56},53 0 1 ${threshold},6 0 0 0,6 0 0 2`;
  await tc("qdisc", "replace", "dev", "eth0", "clsact");
  for (const dir of ["egress", "ingress"])
    await tc("filter", "add", "dev", "eth0", dir, "protocol", "all", "prio", "1", "bpf", "bytecode", bytecode, "da");
}

/** Port of the throwaway TCP stream that keeps the leader's narrowed link busy (latencyOnLink). */
const FILLER_PORT = 9099;

/**
 * Latency on the leader's link without netem: its egress (in its own
 * namespace) goes through one htb class of `rateMbit` with a `queueBytes`
 * FIFO, and a bulk TCP stream from the leader to `sink` keeps that FIFO
 * full, so every packet the leader sends waits about queueBytes / rate
 * (bufferbloat: the delay a saturated uplink adds; TCP's own losses at the
 * full FIFO come with it). Every other flow shares the queue.
 */
async function latencyOnLink(
  stand: Stand,
  host: string,
  sink: string,
  rateMbit: number,
  queueBytes: number,
): Promise<void> {
  const tc = (...args: string[]) => run("tc", ["-n", `pp-${stand.stack}-${host}`, ...args]);
  await tc("qdisc", "replace", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10");
  const rate = `${rateMbit}mbit`;
  await tc("class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb", "rate", rate, "ceil", rate);
  await tc("qdisc", "add", "dev", "eth0", "parent", "1:10", "bfifo", "limit", String(queueBytes));
  // This kernel's default congestion control is BBR, which keeps a queue short on purpose: the filler's
  // connection (its own route to the sink) uses CUBIC, as a bulk upload on a Debian host does, and fills it.
  await run("ip", [
    "-n",
    `pp-${stand.stack}-${host}`,
    "route",
    "replace",
    `${stand.address(sink)}/32`,
    "dev",
    "eth0",
    "congctl",
    "cubic",
  ]);
  await stand.sshAsync(
    sink,
    `systemd-run --quiet --unit=fault-filler-sink bash -c 'exec nc -lk ${FILLER_PORT} >/dev/null'`,
    30_000,
  );
  await stand.sshAsync(
    host,
    `systemd-run --quiet --unit=fault-filler bash -c 'exec nc ${stand.address(sink)} ${FILLER_PORT} </dev/zero'`,
    30_000,
  );
}

/** Undoes latencyOnLink: the filler stopped, the leader's egress back to its default qdisc. */
async function latencyOff(stand: Stand, host: string, sink: string): Promise<void> {
  await Promise.allSettled([
    stand.sshAsync(host, "systemctl stop fault-filler; systemctl reset-failed fault-filler || true", 30_000),
    stand.sshAsync(sink, "systemctl stop fault-filler-sink; systemctl reset-failed fault-filler-sink || true", 30_000),
  ]);
  await run("tc", ["-n", `pp-${stand.stack}-${host}`, "qdisc", "del", "dev", "eth0", "root"]);
  await run("ip", ["-n", `pp-${stand.stack}-${host}`, "route", "del", `${stand.address(sink)}/32`, "dev", "eth0"]);
}

/** Round-trip times (ms) of `count` pings from `from` to `to`'s address, one every 200 ms; lost ones left out. */
async function pingMs(stand: Stand, from: string, to: string, count: number): Promise<number[]> {
  const out = await stand.sshAsync(from, `ping -n -c ${count} -i 0.2 -W 3 ${stand.address(to)} || true`, 60_000);
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

/** Median and largest of some round-trip times, and how many of `sent` came back, into the run's marks. */
function markPings(marks: Record<string, number>, key: string, rtts: number[], sent: number): void {
  const sorted = [...rtts].sort((a, b) => a - b);
  marks[`${key}RttMedianMs`] = sorted.length ? sorted[Math.floor(sorted.length / 2)] : -1;
  marks[`${key}RttMaxMs`] = sorted.length ? sorted[sorted.length - 1] : -1;
  marks[`${key}PingLossPct`] = Math.round((100 * (sent - rtts.length)) / sent);
}

/** Bytes of WAL the most advanced replica has not written yet, as the leader sees it (pg_stat_replication). */
async function bestReplicaLagBytes(c: PgConnection): Promise<number> {
  const [[lag]] = await c.query(
    "SELECT coalesce(min(pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)), -1) FROM pg_stat_replication",
    2000,
  );
  return Number(lag);
}

/**
 * Asks, from inside `host`'s machine (nsenter into its namespaces: no
 * network needed, so it works while the host is cut off), whether its
 * PostgreSQL is a writable primary, every 250 ms until stopped: how the
 * prober learns what an isolated old leader did, and when.
 */
function sampleInside(
  stand: Stand,
  host: string,
): {
  firstWritable: (timeoutMs: number) => Promise<boolean>;
  stop: () => Promise<{ at: number; writable: boolean }[]>;
} {
  const ask = `runuser -u postgres -- psql -XAtc "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'" 2>/dev/null`;
  // Bounded on its own too (10 min), and ends with SIGPIPE once nobody reads.
  const loop = `end=$((SECONDS+600)); while ((SECONDS < end)); do echo "$(date +%s%3N) $(${ask} || echo down)"; sleep 0.25; done`;
  const child = childProcess.spawn(
    path.join(REPO, "src", "local", "machines", "machine.sh"),
    ["exec", host, "--stand", stand.stack, "--", "bash", "-c", loop],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const samples: { at: number; writable: boolean }[] = [];
  let rest = "";
  child.stdout.on("data", (d: Buffer) => {
    const lines = (rest + d.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      const [at, answer] = l.trim().split(" ");
      if (Number(at) > 0) samples.push({ at: Number(at), writable: answer === "f" });
    }
  });
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  return {
    // Under load the first answer (nsenter, psql) can take seconds: the cut waits for it.
    firstWritable: async (timeoutMs) => {
      const end = Date.now() + timeoutMs;
      while (!samples.some((x) => x.writable) && Date.now() < end) await sleep(100);
      return samples.some((x) => x.writable);
    },
    stop: async () => {
      child.stdout.destroy();
      child.kill();
      await Promise.race([exited, sleep(5000)]);
      return samples;
    },
  };
}

/** How long the replicas are held back at most before the power goes, and the lag that ends it sooner. */
const STALL_MAX_MS = 3000;
const STALL_LAG_BYTES = 256 * 1024;

/**
 * Cuts `a` off from each of `others`, both ways, as partitionHaproxies does
 * (their addresses resolve to a MAC nobody has), while every other host
 * (HAProxy, the client, the controller) still reaches all of them.
 */
async function partition(stand: Stand, a: string, others: readonly string[], action: "add" | "del"): Promise<void> {
  const neigh = (from: string, to: string) =>
    run(
      "ip",
      action === "add"
        ? [
            "-n",
            `pp-${stand.stack}-${from}`,
            "neigh",
            "replace",
            stand.address(to),
            "lladdr",
            "02:00:5e:00:de:ad",
            "nud",
            "permanent",
            "dev",
            "eth0",
          ]
        : ["-n", `pp-${stand.stack}-${from}`, "neigh", "del", stand.address(to), "dev", "eth0"],
    );
  for (const b of others) await Promise.all([neigh(a, b), neigh(b, a)]);
}

/** The host whose etcd member leads etcd, asked of each member's own status. */
async function etcdLeaderHost(stand: Stand): Promise<string> {
  for (const h of stand.hostsWith("etcd")) {
    const out = await stand.sshAsync(
      h,
      `ETCDCTL_API=3 ${stand.outputs.tlsCaCertificate ? `${ETCDCTL} --endpoints=https://${stand.address(h)}:2379` : "etcdctl"} --command-timeout=3s endpoint status -w json`,
      15_000,
    );
    const [status] = JSON.parse(out) as { Status: { header: { member_id: number }; leader: number } }[];
    if (status && status.Status.header.member_id === status.Status.leader) return h;
  }
  throw new Error("no etcd member says it leads");
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
      writesContinue: true,
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
  "archive-failing-repository": (() => {
    // The segment PostgreSQL's archiver had failed last when the repository came back.
    let failedWal = "";
    return {
      name: "archive-failing-repository",
      writesContinue: true,
      // Twice the others' 5 s: this fault holds over six minutes (the rule's for), fifteen times as long as
      // theirs, and a loaded controller stalls a paced writer now and then (measured: 7.1 s once at load 27).
      pauseBound: () => s(10),
      pauseWhy:
        "archiving runs beside the commits: a failing archive_command keeps WAL in pg_wal, it never holds a commit (10 s: a six-minute hold on a shared controller)",
      what: "the repository's pgBackRest TLS server stopped (systemctl stop pgbackrest on the backup host) until PostgresWalArchivingFailing fires (its for: 5 minutes), then started: writes go on throughout, the archiver catches up by itself, npm run ctl -- check passes",
      inject: async (ctx) => {
        await ctx.stand.sshAsync(repositoryHost(ctx), "systemctl stop pgbackrest");
        // A segment to archive now, not at archive_timeout: the archiver tries it at once and fails.
        await psqlOn(ctx, ctx.leader, "SELECT pg_switch_wal()");
      },
      holdMs: 20_000,
      heal: async (ctx) => {
        failedWal = (await psqlOn(ctx, ctx.leader, "SELECT last_failed_wal FROM pg_stat_archiver")).trim();
        await ctx.stand.sshAsync(repositoryHost(ctx), "systemctl start pgbackrest");
        // For a run whose archiving does not recover (two whole runs of 2026-12-07): what waits to be archived,
        // oldest first, and what pgBackRest's async push said last.
        const queue = await ctx.stand.sshAsync(
          ctx.leader,
          `cd ${dataDirectoryOf(ctx)}/pg_wal/archive_status && echo "$(ls | grep -c '\\.ready$') ready, oldest: $(ls | grep '\\.ready$' | sort | head -n 3 | tr '\\n' ' ')"; tail -n 4 /var/log/pgbackrest/*-archive-push-async.log | cut -c1-240`,
        );
        console.log(`[fault] archive-failing-repository: at the heal, ${ctx.leader}: ${queue}`);
      },
      wholeWithinMs: 60_000,
      leaderChanges: false,
      leaderStaysRouted: true,
      alerts: (ctx, m) => [
        faultAlert(
          m,
          "PostgresWalArchivingFailing",
          { member: ctx.leader },
          // The forced segment's archive-push fails once pgBackRest's archive-timeout (60 s, its default) passed
          // with the asynchronous push still retrying the repository (measured: 66 s after the stop); after the
          // heal the push under way, or the archiver's next try within a minute (PGARCH_AUTOWAKE_INTERVAL, sooner
          // for a new segment), succeeds and clears the condition.
          { conditionMs: s(60 + 10), clearsMs: s(60 + 10) },
        ),
      ],
      verify: async (ctx) => {
        expect(failedWal, "PostgreSQL's archiver failed a segment while the repository was down").toMatch(
          /^[0-9A-F]{24}$/,
        );
        // Caught up by itself (the alert resolved meanwhile): the failed segment and those after it are archived.
        const [lastArchived, archivedAfterFailed] = (
          await psqlOn(
            ctx,
            ctx.leader,
            "SELECT last_archived_wal, last_archived_time > last_failed_time FROM pg_stat_archiver",
          )
        )
          .trim()
          .split("|");
        expect(lastArchived >= failedWal, `last archived ${lastArchived}, last failed ${failedWal}`).toBe(true);
        expect(archivedAfterFailed, "an archive success after the last failure").toBe("t");
        // As a DBA asks: pgbackrest check (a new segment archived end to end), no push failing, no WAL dropped.
        const check = await ctl(ctx.stand, "check");
        expect(check.code, check.out).toBe(0);
        // pgBackRest's exporter on the repository host is scraped, and could run pgbackrest info.
        const monitoring = new Monitoring(ctx.stand);
        const target = (await monitoring.targets()).find(
          (t) => t.job === "pgbackrest" && t.member === repositoryHost(ctx),
        );
        expect(target?.health, `pgbackrest target on ${repositoryHost(ctx)}: ${target?.lastError}`).toBe("up");
        const status = await monitoring.api<{ result: { value: [number, string] }[] }>(
          `query?query=${encodeURIComponent(`pgbackrest_exporter_status{member="${repositoryHost(ctx)}"}`)}`,
        );
        expect(
          status.result.map((r) => r.value[1]),
          "pgbackrest_exporter_status (1: pgbackrest info answered)",
        ).toEqual(["1"]);
        await expectOldTimelineClashSkipped(ctx);
      },
    } satisfies FaultCase;
  })(),
};

/**
 * After failovers a new leader can hold an older timeline's segment it received as a standby up to the timeline
 * switch (no status file: the walreceiver marks only whole segments done); a checkpoint marks it ready, while the
 * archive already has that timeline's primary's version of it (a zombie primary's archive_timeout completed it).
 * pgBackRest refuses the push (exit 45) and PostgreSQL's archiver retried it forever, nothing after it archived:
 * two whole runs of 2026-12-07 failed so. Planted here: such a segment, with another version in the archive; a
 * segment switched after it must be archived within 90 s, pp-pgbackrest-archive-push's warning naming the skipped one.
 */
async function expectOldTimelineClashSkipped(ctx: FaultContext): Promise<void> {
  const stanza = ctx.stand.parsedConfig().cluster.name;
  let leader = ctx.leader;
  const timelineOf = async (host: string) =>
    parseInt((await psqlOn(ctx, host, "SELECT pg_walfile_name(pg_current_wal_lsn())")).trim().slice(0, 8), 16);
  if ((await timelineOf(leader)) < 2) {
    // An older timeline needs a timeline switch first (the scenario run alone, on a fresh stand).
    const r = await ctl(ctx.stand, "switchover");
    expect(r.code, r.out).toBe(0);
    const t = standTargets(ctx.stand, ctx.stand.parsedConfig().cluster.name);
    leader = leaderOf(await patroniCluster(t.whole.restUrls, t.whole.tls)) ?? "";
    expect(leader, "the leader after the switchover").not.toBe("");
  }
  const timeline = await timelineOf(leader);
  // A segment number far beyond this cluster's: no recovery ever reads it.
  const name = `${(timeline - 1).toString(16).toUpperCase().padStart(8, "0")}000000FF000000FE`;
  const wal = `${dataDirectoryOf(ctx)}/pg_wal`;
  // The archive's version first (as the old primary pushed it), then another in pg_wal, marked ready.
  // pgBackRest pushes only files under the data directory: the first version goes from pg_wal, not marked ready.
  await ctx.stand.sshAsync(
    leader,
    [
      `set -e; cd ${wal}`,
      `set -- $(ls | grep -E '^[0-9A-F]{24}$' | sort | head -n 2)`,
      `cp "$1" ${name}; chown postgres:postgres ${name}`,
      `rc=0; su postgres -c 'pgbackrest --stanza=${stanza} --no-archive-async archive-push ${wal}/${name}' >/tmp/pp-clash.log 2>&1 || rc=$?`,
      `[ $rc -eq 0 ] || [ $rc -eq 45 ] || { cat /tmp/pp-clash.log >&2; exit 1; }`,
      `cp "$2" ${name}; su postgres -c 'touch archive_status/${name}.ready'`,
    ].join("; "),
    60_000,
  );
  try {
    // A WAL record first: with nothing written since the last switch, pg_switch_wal() switches nothing.
    const switched = (
      await psqlOn(
        ctx,
        leader,
        "SELECT pg_walfile_name(pg_switch_wal()) FROM (SELECT pg_create_restore_point('pp-archive-clash')) r",
      )
    ).trim();
    // Both done: the planted one skipped (PostgreSQL archives in name order, it comes first), the new one archived.
    const bothDone = async () =>
      (
        await ctx.stand.sshAsync(
          leader,
          `cd ${wal}/archive_status && test -e ${name}.done && test -e ${switched}.done && echo yes || true`,
        )
      ).trim();
    const deadline = Date.now() + 90_000;
    let archiver = "";
    while (Date.now() < deadline) {
      archiver = (await psqlOn(ctx, leader, "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")).trim();
      if ((await bothDone()) === "yes") break;
      await sleep(2000);
    }
    expect(
      await bothDone(),
      `${name} (skipped) and ${switched}, switched after it, done within 90 s on ${leader}; pg_stat_archiver (last archived, last failed): ${archiver}`,
    ).toBe("yes");
    const warning = await ctx.stand.sshAsync(
      leader,
      `journalctl --since '-5min' --no-pager | grep -c 'pp-pgbackrest-archive-push: WARNING: ${name} ' || true`,
    );
    expect(
      Number(warning.trim()),
      `pp-pgbackrest-archive-push's warning naming ${name} in ${leader}'s journal`,
    ).toBeGreaterThan(0);
  } finally {
    await ctx.stand.sshAsync(leader, `rm -f ${wal}/${name} ${wal}/archive_status/${name}.* /tmp/pp-clash.log`);
  }
}

/** The leader's data directory (the stand's cluster name and PostgreSQL version). */
function dataDirectoryOf(ctx: FaultContext): string {
  const c = ctx.stand.parsedConfig().cluster;
  return `/var/lib/postgresql/${c.postgresVersion}/${c.name}`;
}

/** The stand's repository host (the backup role); the archive's fault needs one. */
function repositoryHost(ctx: FaultContext): string {
  const host = ctx.stand.hostsWith("backup")[0];
  if (!host) throw new Error(`stack ${ctx.stand.stack} has no backup host: archive-failing-repository needs one`);
  return host;
}

/** How long the leader's data disk stays full (data-filesystem-full-leader). */
const DISK_FULL_HOLD_S = 45;

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
      await ctx.stand.sshAsync(ctx.leader, `kill -9 ${(await postmasterPid(ctx)).trim()}`, 30_000);
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
      await ctx.stand.sshAsync(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value patroni)"', 30_000);
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
  "sigstop-all-postgres-leader": {
    name: "sigstop-all-postgres-leader",
    pauseBound: (t) => s(t.ttl + t.loopWait + 10),
    pauseWhy:
      "Patroni's own queries hang too, so it stops renewing the lock; it expires after ttl; a replica promotes at its next loop",
    what: "every postgres process on the leader frozen (the seed's killall -STOP postgres) for ttl + 15 s, then resumed: a replica takes over, the old leader demotes when it wakes (seed 002)",
    inject: async (ctx) => {
      await ctx.stand.sshAsync(ctx.leader, "pkill -STOP -x postgres", 30_000);
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      await ctx.stand.sshAsync(ctx.leader, "pkill -CONT -x postgres", 30_000);
    },
    wholeWithinMs: 120_000,
    leaderChanges: true,
    // Its PostgreSQL wakes as a primary until its Patroni, woken too, sees the lock is gone.
    dualAtDatabaseExpected: true,
  },
  "kill9-patroni-no-restart": {
    name: "kill9-patroni-no-restart",
    pauseBound: (t) => s(t.ttl + t.loopWait + 10),
    pauseWhy:
      "nobody renews the lock: it expires after ttl, a replica promotes at its next loop; HAProxy took the node out when its REST API went",
    what: "kill -9 of Patroni on the leader and no restart (the seed's case: systemd told not to) for ttl + 15 s, then started: its PostgreSQL runs on unmanaged, a replica takes over, the old one rejoins (seed 002)",
    inject: async (ctx) => {
      await ctx.stand.sshAsync(
        ctx.leader,
        'mkdir -p /run/systemd/system/patroni.service.d && printf "[Service]\\nRestart=no\\n" > /run/systemd/system/patroni.service.d/zz-fault-no-restart.conf && systemctl daemon-reload && kill -9 "$(systemctl show -p MainPID --value patroni)"',
        30_000,
      );
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      await ctx.stand.sshAsync(
        ctx.leader,
        "rm -f /run/systemd/system/patroni.service.d/zz-fault-no-restart.conf && systemctl daemon-reload && systemctl reset-failed patroni; systemctl start patroni",
        60_000,
      );
    },
    wholeWithinMs: 120_000,
    leaderChanges: true,
    // Without its Patroni (and no watchdog here) the old primary stays writable until Patroni is back and demotes it.
    dualAtDatabaseExpected: true,
  },
  "stop-patroni-leader": {
    name: "stop-patroni-leader",
    pauseBound: () => s(10),
    pauseWhy: "a clean shutdown hands the lock to a replica at once",
    what: "systemctl stop patroni on the leader (clean shutdown hands the lock over), then start",
    inject: async (ctx) => {
      await ctx.stand.sshAsync(ctx.leader, "systemctl stop patroni", 120_000);
    },
    holdMs: 15_000,
    heal: async (ctx) => {
      await ctx.stand.sshAsync(ctx.leader, "systemctl start patroni", 60_000);
    },
    wholeWithinMs: 90_000,
    leaderChanges: true,
  },
  "etcd-all-stopped": {
    name: "etcd-all-stopped",
    writesContinue: true,
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
      await ctx.stand.machineAsync("kill", ctx.leader);
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
  "power-loss-leader-lagging": {
    name: "power-loss-leader-lagging",
    writer: SATURATING_WRITER,
    lossUnderAsync: true,
    pauseBound: (t) => s(t.ttl + t.loopWait) + STALL_MAX_MS,
    pauseWhy: "as power-loss-leader, plus the replicas held back first (at most 3 s)",
    what: "a saturating writer (16 sessions, 5-row transactions, no pause); the leader's replication stream held back until the best replica is 256 KiB (or 3 s) behind, then the leader loses power: asynchronous replication loses what was acknowledged meanwhile (the RPO, measured), synchronous_mode loses nothing",
    inject: async (ctx) => {
      await holdBackReplication(ctx.stand, ctx.leader, ctx.replicas);
      ctx.marks.stalled = Date.now();
      const node = ctx.nodes.find((n) => n.name === ctx.leader)!;
      const c = await PgConnection.connect({ ...node, ...ctx.creds, timeoutMs: 3000 });
      try {
        let lag = 0;
        while (Date.now() - ctx.marks.stalled < STALL_MAX_MS && lag < STALL_LAG_BYTES) {
          await sleep(100);
          lag = await bestReplicaLagBytes(c);
        }
        ctx.marks.lagBytes = lag;
      } finally {
        c.destroy();
      }
      ctx.marks.primaryLost = Date.now();
      await ctx.stand.machineAsync("kill", ctx.leader);
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      // The machine boots by itself (power-loss-leader shows pulumi up doing it): npm test runs this one twice.
      await ctx.stand.machineAsync("start", ctx.leader);
    },
    wholeWithinMs: 180_000,
    leaderChanges: true,
  },
  "link-down-leader": (() => {
    let inside: ReturnType<typeof sampleInside> | undefined;
    let marks: Record<string, number> = {};
    return {
      name: "link-down-leader",
      pauseBound: (t) => s(t.ttl + t.loopWait + 15),
      pauseWhy: "as a power loss, plus connections to the cut-off node that hang until the client gives up on them",
      what: "the leader's network link down (eth0 in its namespace) for 45 s, then up: it demotes itself, a replica takes over (seed 001)",
      inject: async (ctx) => {
        inside = sampleInside(ctx.stand, ctx.leader);
        if (!(await inside.firstWritable(20_000))) {
          await inside.stop(); // no heal follows a failed inject
          throw new Error(`${ctx.leader} did not answer as a writable primary from inside within 20 s`);
        }
        ctx.marks.cut = Date.now();
        marks = ctx.marks;
        await ctx.stand.machineAsync("link-down", ctx.leader);
      },
      holdMs: 45_000,
      heal: async (ctx) => {
        await ctx.stand.machineAsync("link-up", ctx.leader);
        const samples = (await inside?.stop()) ?? [];
        const cut = marks.cut;
        // The old leader's own answers while it was cut off: writable at first, then not.
        const writableAtCut = samples.filter((x) => x.at <= cut).pop()?.writable;
        if (writableAtCut !== true)
          throw new Error(
            `the leader did not answer as a writable primary from inside before the cut (${samples.length} samples)`,
          );
        const demoted = samples.find((x) => x.at > cut && !x.writable);
        if (demoted) marks.isolatedDemoted = demoted.at;
      },
      wholeWithinMs: 180_000,
      leaderChanges: true,
    } satisfies FaultCase;
  })(),
  "power-loss-replica": {
    name: "power-loss-replica",
    writesContinue: true,
    pauseBound: () => s(5),
    pauseWhy: "a replica's loss does not stop writes (asynchronous replication)",
    what: "a replica's machine loses power for 20 s, then boots and streams again",
    inject: async (ctx) => {
      await ctx.stand.machineAsync("kill", ctx.replicas[0]);
    },
    holdMs: 20_000,
    heal: async (ctx) => {
      await ctx.stand.machineAsync("start", ctx.replicas[0]);
    },
    wholeWithinMs: 180_000,
    leaderChanges: false,
    leaderStaysRouted: true,
    alerts: (ctx, m) =>
      ["PatroniReplicaNotStreaming", "PatroniMemberMissing"].map((a) => faultAlert(m, a, { member: ctx.replicas[0] })),
  },
  "power-loss-sync-standby": (() => {
    let standby = "";
    return {
      name: "power-loss-sync-standby",
      synchronousOnly: true,
      pauseBound: (t) => s((t.walSenderTimeout ?? 60) + t.loopWait + 10),
      pauseWhy:
        "commits wait for the dead standby: a machine without power sends no reset, so its walsender stays in pg_stat_replication until wal_sender_timeout (60 s) and Patroni keeps it synchronous until then (or until it is back)",
      what: "under synchronous_mode, the synchronous standby's machine loses power for 45 s, then boots: commits wait (see the bound), 0 acknowledged lost, nothing fails over",
      inject: async (ctx) => {
        const t = standTargets(ctx.stand, ctx.stand.parsedConfig().cluster.name);
        standby =
          (await patroniCluster(t.whole.restUrls, t.whole.tls))?.find((m) => m.role === "sync_standby")?.name ?? "";
        if (!standby) throw new Error("no synchronous standby: this fault needs synchronous_mode on");
        await ctx.stand.machineAsync("kill", standby);
      },
      holdMs: 45_000,
      heal: async (ctx) => {
        await ctx.stand.machineAsync("start", standby);
      },
      wholeWithinMs: 180_000,
      leaderChanges: false,
      leaderStaysRouted: true,
    } satisfies FaultCase;
  })(),
  "partition-leader-from-peers": {
    name: "partition-leader-from-peers",
    // Asynchronous: what the cut-off leader acknowledges until it demotes itself never reaches a replica.
    lossUnderAsync: true,
    pauseBound: (t) => s(t.ttl + t.loopWait + 15),
    pauseWhy:
      "the leader's etcd member is in the minority and it cannot reach its peers' REST API (failsafe): it demotes, the lock expires, a replica promotes",
    what: "the leader cut off from the other database hosts (their etcd members, Patroni and PostgreSQL) for 45 s while HAProxy and clients still reach it: it must demote itself, a replica takes over; never two primaries behind HAProxy; asynchronous replication loses what it acknowledged meanwhile",
    inject: async (ctx) => {
      ctx.marks.stalled = Date.now();
      await partition(ctx.stand, ctx.leader, ctx.replicas, "add");
    },
    holdMs: 45_000,
    heal: async (ctx) => {
      await partition(ctx.stand, ctx.leader, ctx.replicas, "del");
    },
    wholeWithinMs: 180_000,
    leaderChanges: true,
  },
  "loss-leader-link": (() => {
    let pings: Promise<number[]> | undefined;
    let marks: Record<string, number> = {};
    return {
      name: "loss-leader-link",
      writesContinue: true,
      pauseBound: (t) => s(t.ttl),
      pauseWhy:
        "nothing fails over (the leader renews its key through the retransmits), but HAProxy's checks (fall 2, timeout 3 s) fail now and then and take the leader out, cutting every session (measured: 10 times in 60 s, writes stopped 17.4 s at most); past ttl the leader would have lost its key",
      what: "30% of the packets on the leader's link dropped at random, both ways, for 60 s (cls_bpf on clsact: this kernel has no netem): nothing fails over, nothing acknowledged is lost; writes go on, far slower (HAProxy flaps the leader out and back)",
      inject: async (ctx) => {
        marks = ctx.marks;
        await lossOnLink(ctx.stand, ctx.leader, 0.3);
        // Measured, not assumed: pings from a replica to the leader while the loss is on.
        pings = pingMs(ctx.stand, ctx.replicas[0], ctx.leader, 100);
      },
      holdMs: 60_000,
      heal: async (ctx) => {
        await run("tc", ["-n", `pp-${ctx.stand.stack}-${ctx.leader}`, "qdisc", "del", "dev", "eth0", "clsact"]);
        markPings(marks, "fault", (await pings) ?? [], 100);
      },
      wholeWithinMs: 90_000,
      leaderChanges: false,
    } satisfies FaultCase;
  })(),
  "latency-leader-link": (() => {
    let pings: Promise<number[]> | undefined;
    let marks: Record<string, number> = {};
    let sink = "";
    return {
      name: "latency-leader-link",
      pauseBound: () => s(60 + 15),
      pauseWhy:
        "HAProxy's check must connect and finish TLS within inter (500 ms: its connect timeout is the lower of timeout connect and inter); at about 350 ms per round trip it cannot, so HAProxy takes the leader out for the whole fault (60 s) and writes through the entry stop until the latency ends; nothing fails over",
      what: "the leader's outgoing link narrowed to 4 Mbit/s with a 150 kB queue kept full by a bulk TCP stream (bufferbloat: about 350 ms per round trip, measured; this kernel has no netem) for 60 s: nothing fails over, nothing is lost, but HAProxy's checks time out and writes through the entry stop until the latency ends (a finding: see docs/faults.md)",
      inject: async (ctx) => {
        marks = ctx.marks;
        sink = ctx.stand.hostsWith("client")[0] ?? ctx.replicas[1] ?? ctx.replicas[0];
        markPings(marks, "before", await pingMs(ctx.stand, ctx.replicas[0], ctx.leader, 5), 5);
        await latencyOnLink(ctx.stand, ctx.leader, sink, 4, 150_000);
        pings = (async () => {
          await sleep(3000); // the queue fills
          return pingMs(ctx.stand, ctx.replicas[0], ctx.leader, 100);
        })();
      },
      holdMs: 60_000,
      heal: async (ctx) => {
        markPings(marks, "fault", (await pings) ?? [], 100);
        await latencyOff(ctx.stand, ctx.leader, sink);
      },
      wholeWithinMs: 90_000,
      leaderChanges: false,
    } satisfies FaultCase;
  })(),
  "partition-replicas": {
    name: "partition-replicas",
    writesContinue: true,
    pauseBound: () => s(5),
    pauseWhy: "the replicas no longer see each other; both still see the leader and etcd's majority: nothing changes",
    what: "the two replicas cut off from each other for 30 s (each still reaches the leader): nothing fails over, writes go on",
    inject: async (ctx) => {
      await partition(ctx.stand, ctx.replicas[0], ctx.replicas.slice(1), "add");
    },
    holdMs: 30_000,
    heal: async (ctx) => {
      await partition(ctx.stand, ctx.replicas[0], ctx.replicas.slice(1), "del");
    },
    wholeWithinMs: 90_000,
    leaderChanges: false,
    leaderStaysRouted: true,
  },
  "sigstop-etcd-leader": (() => {
    let host = "";
    let pid = "";
    return {
      name: "sigstop-etcd-leader",
      pauseBound: (t) => s(t.retryTimeout + 5),
      pauseWhy:
        "a hung etcd leader (not a refused connection): the other members elect a new one after the election timeout (5 s); Patroni retries within retry_timeout",
      what: "etcd's leader frozen (SIGSTOP) for 30 s, then resumed: etcd elects another leader, Patroni keeps its leader",
      inject: async (ctx) => {
        host = await etcdLeaderHost(ctx.stand);
        pid = (await ctx.stand.sshAsync(host, "systemctl show -p MainPID --value etcd", 30_000)).trim();
        console.log(`[fault] etcd leader on ${host} (pid ${pid})`);
        await ctx.stand.sshAsync(host, `kill -STOP ${pid}`, 30_000);
      },
      holdMs: 30_000,
      heal: async (ctx) => {
        await ctx.stand.sshAsync(host, `kill -CONT ${pid}`, 30_000);
      },
      wholeWithinMs: 90_000,
      leaderChanges: false,
    } satisfies FaultCase;
  })(),
  "up-during-failover": {
    name: "up-during-failover",
    pauseBound: (t) => s(t.ttl + t.loopWait + 20),
    pauseWhy: "as a power loss; pulumi up runs during the failover and must neither fail nor slow it much",
    what: "the leader loses power and pulumi up starts 5 s later, while the failover is under way: the up succeeds, boots the machine and the cluster converges",
    inject: async (ctx) => {
      await ctx.stand.machineAsync("kill", ctx.leader);
    },
    holdMs: 5000,
    heal: async (ctx) => {
      await ctx.stand.up(`pulumi up during the failover from ${ctx.leader}`);
    },
    wholeWithinMs: 180_000,
    // Either: an up that boots the machine within ttl finds its Patroni's leader key alive, and it leads on
    // after crash recovery (seen once machines came from a packages image: the up took about 20 s).
  },
  "power-loss-haproxy": {
    name: "power-loss-haproxy",
    pauseBound: () => s(20 + 40),
    pauseWhy:
      "with one HAProxy host its loss is the cluster's: writes stop until it is back (20 s) and has booted; give the entry two hosts and a VIP (haproxy.vip)",
    what: "the only HAProxy host loses power for 20 s, then boots: every client stops until it is back (the single point of failure the VIP removes); the database does not fail over",
    inject: async (ctx) => {
      for (const h of ctx.stand.hostsWith("haproxy")) await ctx.stand.machineAsync("kill", h);
    },
    holdMs: 20_000,
    heal: async (ctx) => {
      for (const h of ctx.stand.hostsWith("haproxy")) await ctx.stand.machineAsync("start", h);
    },
    wholeWithinMs: 120_000,
    leaderChanges: false,
  },
  "haproxy-restart": {
    name: "haproxy-restart",
    pauseBound: () => s(5),
    pauseWhy: "clients reconnect to the restarted HAProxy",
    what: "systemctl restart haproxy: clients reconnect, nothing fails over",
    inject: async (ctx) => {
      for (const h of ctx.stand.hostsWith("haproxy")) await ctx.stand.sshAsync(h, "systemctl restart haproxy", 60_000);
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
      await ctx.stand.sshAsync(ctx.leader, 'kill -9 "$(systemctl show -p MainPID --value pgbouncer)"', 30_000);
    },
    holdMs: 3000,
    heal: async () => {},
    wholeWithinMs: 60_000,
    leaderChanges: false,
  },
  "data-filesystem-full-leader": (() => {
    // The leader's data disk (localMachines.dataDiskMiB: a filesystem of its own, the data directory's parent).
    const FILLS = ["harness-fill", "harness-fill-tail"];
    const dataDisk = (ctx: FaultContext) => `/var/lib/postgresql/${ctx.stand.parsedConfig().cluster.postgresVersion}`;
    return {
      name: "data-filesystem-full-leader",
      pauseBound: (t) => s(DISK_FULL_HOLD_S + t.loopWait + 20),
      pauseWhy:
        "writes fail (none acknowledged) while the disk is full; at its next new WAL segment PostgreSQL PANICs, Patroni cannot start it and gives the leader key up at once (measured: a replica promoted 30 s after the fill), else writes come back at the heal",
      what: `the leader's data filesystem filled to its last block (fallocate, then dd until ENOSPC) for ${DISK_FULL_HOLD_S} s, then the files removed: writes fail meanwhile, none acknowledged is lost; once PostgreSQL cannot write WAL a replica takes over, the old leader rejoins`,
      inject: async (ctx) => {
        const d = dataDisk(ctx);
        await ctx.stand.sshAsync(
          ctx.leader,
          [
            `mountpoint -q ${d} || { echo "${d} is not a filesystem of its own on ${ctx.leader}: the stand needs localMachines.dataDiskMiB" >&2; exit 1; }`,
            `fallocate -l "$(df --output=avail -B1 ${d} | tail -n1)" ${d}/${FILLS[0]}`,
            `dd if=/dev/zero of=${d}/${FILLS[1]} bs=4k status=none 2>/dev/null || true`,
            `test "$(df --output=avail -B1 ${d} | tail -n1)" -lt 1048576`,
          ].join(" && "),
          60_000,
        );
      },
      holdMs: DISK_FULL_HOLD_S * 1000,
      heal: async (ctx) => {
        const d = dataDisk(ctx);
        await ctx.stand.sshAsync(ctx.leader, FILLS.map((f) => `rm -f ${d}/${f}`).join(" && "), 60_000);
      },
      wholeWithinMs: 180_000,
      // Either: a failover once PostgreSQL needs a new WAL segment, or none if it had recycled ones to fill.
      verify: async (ctx, report) => {
        // WAL archiving works again on whichever node leads: a segment switched now reaches the repository.
        // (In one whole-suite run the leader kept its role and archiving on it still failed minutes later.)
        const leader = report.leaderAfter;
        if (ctx.stand.hostsWith("backup").length > 0 && leader) {
          const switched = (await psqlOn(ctx, leader, "SELECT pg_walfile_name(pg_switch_wal())")).trim();
          const deadline = Date.now() + 90_000;
          let archiver = "";
          while (Date.now() < deadline) {
            archiver = (
              await psqlOn(ctx, leader, "SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver")
            ).trim();
            if (archiver.split("|")[0] >= switched) break;
            await new Promise((r) => setTimeout(r, 2000));
          }
          const log = await ctx.stand.sshAsync(
            leader,
            "tail -n 8 /var/log/pgbackrest/*-archive-push-async.log 2>&1 | cut -c1-300",
          );
          expect(
            archiver.split("|")[0] >= switched,
            `${switched} archived from ${leader} within 90 s of the heal; pg_stat_archiver (last archived, failed, last failed): ${archiver}; pgBackRest: ${log}`,
          ).toBe(true);
        }
        // The field that made the disk is fixed for the stand's life: a change is refused at preview, naming it.
        const field = "pulumi-patroni:localMachines";
        const before = ctx.stand.parsedConfig().localMachines.dataDiskMiB;
        ctx.stand.editConfig((c) => (c[field].dataDiskMiB = (before ?? 1024) + 1024));
        try {
          const preview = await ctx.stand.run(["preview"], true);
          expect(preview.code, "preview with localMachines.dataDiskMiB changed").not.toBe(0);
          expect(preview.stdout + preview.stderr).toContain(
            `localMachines.dataDiskMiB: changed from ${before} to ${(before ?? 1024) + 1024} on a deployed stack`,
          );
        } finally {
          ctx.stand.editConfig((c) => (c[field].dataDiskMiB = before));
        }
      },
    } satisfies FaultCase;
  })(),
  ...MONITORED_FAULTS,
};

/**
 * No acknowledged write lost, through the entry or straight to a node;
 * except, under asynchronous replication, what an old leader that could not
 * be fenced (dualAtDatabaseExpected: no watchdog here) acknowledged to the
 * writers straight to its ports after the fault, rewound away when it
 * rejoined; and, for a fault that holds the replicas
 * back under asynchronous replication, the writes acknowledged while they
 * were held back (and a moment before: WAL already queued when the hold
 * began), which must then be lost (else the writer proved nothing), with
 * the replicas' lag under maximum_lag_on_failover (else Patroni would not
 * have promoted one).
 */
function expectDurability(fault: FaultCase, report: FaultReport, timings: DcsTimings): void {
  const lostIds = JSON.stringify(
    Object.fromEntries(Object.entries(report.durability.lost).map(([n, ids]) => [n, ids.slice(0, 20)])),
  );
  const where = JSON.stringify(report.lostByWriter);
  if (timings.synchronousMode) {
    expect(report.lostAcknowledged, `acknowledged writes lost (by writer ${where}): ${lostIds}`).toBe(0);
    return;
  }
  if (!fault.lossUnderAsync) {
    // A node that cannot be fenced (no watchdog) stays a writable primary after a replica took over: under
    // asynchronous replication what it acknowledged to a client writing to it directly is rewound away when
    // it rejoins. Only those may be lost: none through the entry, none acknowledged by any other node.
    const zombie = fault.dualAtDatabaseExpected
      ? Object.entries(report.lostByWriter)
          .filter(([via]) => via.split(":")[0] === report.leaderBefore)
          .reduce((n, [, lost]) => n + lost, 0)
      : 0;
    expect(
      report.lostAcknowledged - zombie,
      `acknowledged writes lost (by writer ${where}; the old leader's own may be): ${lostIds}`,
    ).toBe(0);
    if (zombie > 0)
      expect(
        report.oldestLostAckAt,
        "only writes the old leader acknowledged after the fault are lost",
      ).toBeGreaterThanOrEqual(report.marks.fault);
    return;
  }
  const stalled = report.marks.stalled;
  expect(stalled, "the scenario recorded when the replicas stopped receiving").toBeDefined();
  expect(
    report.lostAcknowledged,
    "asynchronous replication held back, then the primary lost: writes lost",
  ).toBeGreaterThan(0);
  expect(
    report.oldestLostAckAt,
    "only writes acknowledged after the replicas were held back are lost",
  ).toBeGreaterThanOrEqual(stalled - 500);
  // Where the replicas were held back by lag (not cut off), Patroni promotes only within maximum_lag_on_failover.
  if (report.marks.lagBytes !== undefined)
    expect(report.marks.lagBytes, "the best replica's lag when the power went").toBeLessThan(
      timings.maximumLagOnFailover ?? 1048576,
    );
}

/**
 * The leader's power lost one way or the other, with one client or the
 * other (issue 27: every run within the bound, whatever the client and
 * however the power goes): the wire cut first (peers hear nothing) or the
 * processes killed with the wire in (peers see resets); a writer keeping
 * its sessions, or opening a new one through HAProxy for every write. The
 * machine boots again by itself (no pulumi up: ten in a row stay short).
 */
export function powerLossVariant(how: "unplug" | "crash", client: "persistent" | "per-write"): FaultCase {
  return {
    name: `power-loss-leader-${how}-${client}`,
    writer: client === "per-write" ? { ...PACED_WRITER, reconnectMs: 1 } : PACED_WRITER,
    pauseBound: (t) => s(t.ttl + t.loopWait),
    pauseWhy: FAULTS["power-loss-leader"].pauseWhy,
    what: `the leader's power lost (${how === "unplug" ? "wire cut first" : "processes killed, wire in"}), a client ${client === "per-write" ? "connecting through HAProxy for every write" : "keeping its sessions"}; the machine boots after 30 s`,
    inject: async (ctx) => {
      await ctx.stand.machineAsync(how === "unplug" ? "kill" : "crash", ctx.leader);
    },
    holdMs: 30_000,
    heal: async (ctx) => {
      await ctx.stand.machineAsync("start", ctx.leader);
    },
    wholeWithinMs: 180_000,
    leaderChanges: true,
  };
}

/** The invariants every fault must keep, whatever its timings. */
export function expectFaultInvariants(fault: FaultCase, report: FaultReport, timings: DcsTimings): void {
  const bound = fault.pauseBound(timings);
  expect(report.writeUnavailableMs, `writes stopped longer than ${bound} ms (${fault.pauseWhy})`).toBeLessThan(bound);
  expect(report.durability.acknowledged, "writes were acknowledged during the run").toBeGreaterThan(100);
  // The vacuity guard: the writer was writing when the fault came, and writes again once whole.
  expect(report.acks.beforeFault, "writes acknowledged in the last second before the fault").toBeGreaterThan(0);
  expect(report.acks.afterWhole, "writes acknowledged once the cluster was whole").toBeGreaterThan(0);
  if (fault.writesContinue)
    expect(report.acks.duringFault, "writes acknowledged while the fault lasted").toBeGreaterThan(0);
  expectDurability(fault, report, timings);
  expect(report.durability.phantom, "ids on a node that were never sent").toEqual({});
  expect(report.durability.ghost, "ids the server refused, present on a node").toEqual({});
  expect(report.durability.divergent, "nodes holding different ids after the heal").toEqual([]);
  // A leader cut off (link down) must have demoted itself, seen from inside its
  // machine, before its lock could expire and before another node took writes.
  if (report.marks.cut !== undefined) {
    const demotedAfter = report.marks.isolatedDemoted - report.marks.cut;
    expect(demotedAfter, "the cut-off leader demoted itself (asked from inside its machine)").toBeGreaterThan(0);
    expect(demotedAfter, "the cut-off leader demoted itself within ttl").toBeLessThan(s(timings.ttl));
    if (report.marks.newPrimary !== undefined)
      expect(report.marks.isolatedDemoted, "the cut-off leader demoted before another node took writes").toBeLessThan(
        report.marks.newPrimary,
      );
  }
  // The prober's sampling never waits on a node that went silent.
  expect(report.probeRateHz, "probe rounds per second during the fault").toBeGreaterThanOrEqual(2);
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
    lostByWriter: {},
    direct: {},
    durability,
    dualPrimaryRounds: NaN,
    dualProxyRounds: NaN,
    staleProxyRounds: NaN,
    wholeAfterMs: NaN,
    probeRateHz: NaN,
    writes: 0,
    acks: { beforeFault: NaN, duringFault: NaN, afterWhole: NaN },
    ackRatePerS: NaN,
    ackRateDuringFaultPerS: NaN,
    marks: {},
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
    "| profile | fault | outcome | leader | writes stopped (s) | bound (s) | acknowledged (per s before / during) | lost (RPO, s; by writer) | direct writes acknowledged (by port) | unknown | dual primary, DB rounds (last, s after heal) | dual primary, HAProxy rounds | HAProxy dropped the leader | probe Hz | new primary after (s) | leader key expired after (s) | new primary after the key's expiry (s) | etcd leader on its host | whole after heal (s) |",
    "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ...rows.map(
      (r) =>
        `| ${r.profile} | ${r.scenario} | ${r.outcome.replace(/\|/g, "/")} | ${r.leaderBefore} → ${r.leaderAfter ?? "none"} | ${sec(r.writeUnavailableMs)} | ${sec(r.boundMs)} | ${r.durability.acknowledged} (${r.ackRatePerS} / ${r.ackRateDuringFaultPerS}) | ${r.lostAcknowledged}${r.rpoMs === undefined ? "" : ` (${sec(r.rpoMs)})`}${
          Object.keys(r.lostByWriter).length
            ? ` ${Object.entries(r.lostByWriter)
                .map(([w, n]) => `${w}: ${n}`)
                .join(", ")}`
            : ""
        } | ${
          Object.entries(r.direct)
            .map(([port, d]) => `${port}: ${d.ack}`)
            .join(", ") || "-"
        } | ${r.durability.unknown} | ${r.dualPrimaryRounds}${r.lastDualPrimaryAfterHealMs === undefined ? "" : ` (${sec(r.lastDualPrimaryAfterHealMs)})`} | ${r.dualProxyRounds} | ${r.leaderDrops ?? "-"} | ${r.probeRateHz} | ${r.marks.newPrimary && r.marks.fault ? sec(r.marks.newPrimary - r.marks.fault) : "-"} | ${r.marks.leaderKeyExpires && r.marks.fault ? sec(r.marks.leaderKeyExpires - r.marks.fault) : "-"} | ${r.marks.newPrimary && r.marks.leaderKeyExpires ? sec(r.marks.newPrimary - r.marks.leaderKeyExpires) : "-"} | ${r.etcdLeaderWithPatroniLeader === undefined ? "?" : r.etcdLeaderWithPatroniLeader ? "yes" : "no"} | ${sec(r.wholeAfterMs)} |`,
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
