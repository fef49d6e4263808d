// The cluster's entry as the tests see it: which HAProxy host holds the VIP
// (read from the local machines' network namespaces, so a dead or cut-off
// host answers at once), a libpq client writing through the client host's
// pg_service.conf (the failover a real application gets: multi-host
// connection strings, connect_timeout), and the timeline of a switchover
// from the hosts' journals.
import * as childProcess from "child_process";
import { Stand } from "../helpers/stand";
import { leaderOf, patroniCluster, readIdsEverywhere, waitWhole } from "./clusterState";
import { ctl } from "./ctl";
import { checkDurability, dualProxyRounds, lostCount, writeUnavailabilityMs, WriteRecord } from "./invariants";
import { standTargets } from "./scenario";
import { createWriteTable, Prober, Writer } from "./traffic";

/** The HAProxy hosts that have the VIP on an interface now (two during a VRRP split). */
export function vipHolders(stand: Stand, vip: string): string[] {
  return stand.hostsWith("haproxy").filter((h) => {
    const r = childProcess.spawnSync("ip", ["-n", `pp-${stand.stack}-${h}`, "-o", "-4", "addr", "show"], {
      encoding: "utf8",
    });
    return r.status === 0 && r.stdout.split("\n").some((l) => l.split(/\s+/)[3]?.split("/")[0] === vip);
  });
}

/** Polls until `ok(holders)`; returns the holders then, or throws with the last ones. */
export async function waitVipHolders(
  stand: Stand,
  vip: string,
  ok: (holders: string[]) => boolean,
  timeoutMs: number,
): Promise<string[]> {
  const start = Date.now();
  let holders = vipHolders(stand, vip);
  while (!ok(holders)) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`VIP ${vip}: holders ${holders.join(",") || "none"} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
    holders = vipHolders(stand, vip);
  }
  return holders;
}

export interface LibpqWriterRun {
  /** Each insert: ack (psql exited 0), or unknown (it failed; it may or may not have committed). */
  readonly records: WriteRecord[];
  /** The last error lines psql printed, by count. */
  readonly errors: Record<string, number>;
}

/**
 * psql on the client host inserting ids into `table` through
 * `service=SERVICE` of its pg_service.conf, a new connection each time,
 * until stopped (at most `maxSeconds`): libpq's own failover (multi-host,
 * connect_timeout) exactly as an application would get it. The table must
 * exist (id bigint primary key, conn int).
 */
export function libpqWriter(
  stand: Stand,
  clientHost: string,
  service: string,
  table: string,
  maxSeconds: number,
): { stop: () => Promise<LibpqWriterRun> } {
  const stopFile = `/tmp/libpq-writer-${table}.stop`;
  const script = [
    `rm -f ${stopFile}; end=$(( $(date +%s) + ${maxSeconds} )); i=0`,
    `while [ ! -e ${stopFile} ] && [ "$(date +%s)" -lt "$end" ]; do`,
    `  i=$((i + 1)); t0=$(date +%s%3N)`,
    `  if out=$(psql -X -At "service=${service}" -c "insert into ${table} (id, conn) values ($i, 99)" 2>&1); then`,
    `    echo "ack $i $t0 $(date +%s%3N)"`,
    `  else`,
    `    echo "unknown $i $t0 $(date +%s%3N) $(printf '%s' "$out" | tr '\\n' ' ' | cut -c1-120)"`,
    `  fi`,
    `  sleep 0.02`,
    `done`,
    `rm -f ${stopFile}`,
  ].join("\n");
  const encoded = Buffer.from(script).toString("base64");
  const running = stand.sshAsync(clientHost, `echo ${encoded} | base64 -d | bash`, (maxSeconds + 120) * 1000);
  return {
    stop: async () => {
      await stand.sshAsync(clientHost, `touch ${stopFile}`);
      const out = await running;
      const records: WriteRecord[] = [];
      const errors: Record<string, number> = {};
      for (const line of out.split("\n")) {
        const [status, id, sent, done, ...rest] = line.split(" ");
        if (status !== "ack" && status !== "unknown") continue;
        records.push({ id: Number(id), status, sentAt: Number(sent), doneAt: Number(done) });
        if (status === "unknown") {
          const why = rest.join(" ").replace(/\d+\.\d+\.\d+\.\d+/g, "A.B.C.D");
          errors[why] = (errors[why] ?? 0) + 1;
        }
      }
      return { records, errors };
    },
  };
}

export interface TimelineEvent {
  /** Milliseconds since the epoch (the machines share the controller's clock). */
  readonly at: number;
  readonly host: string;
  readonly what: string;
}

/** The journal lines that tell where a switchover's time goes, and how each is shown. */
const TIMELINE_PATTERNS: readonly [RegExp, (m: RegExpMatchArray) => string][] = [
  [/received (switchover|failover) request/i, (m) => `Patroni: ${m[1]} requested`],
  [/INFO: (Demoting self.*)$/, (m) => `Patroni: ${m[1]}`],
  [/LOG:\s+(received (fast|smart|immediate) shutdown request)/, (m) => `PostgreSQL: ${m[1]}`],
  [/LOG:\s+(database system is shut down)/, (m) => `PostgreSQL: ${m[1]}`],
  [/INFO: (Leader key released)/, (m) => `Patroni: ${m[1]}`],
  [
    /INFO: (promoted self to leader.*|acquired session lock as a leader|Lock owner: .* I am .*, the leader with the lock$)/,
    (m) => `Patroni: ${m[1]}`,
  ],
  [/LOG:\s+(received promote request)/, (m) => `PostgreSQL: ${m[1]}`],
  [/LOG:\s+(database system is ready to accept (read-only )?connections)/, (m) => `PostgreSQL: ${m[1]}`],
  [/Server ([\w-]+)\/(\w+) is (UP|DOWN)/, (m) => `HAProxy: ${m[1]}/${m[2]} ${m[3]}`],
  [/\((.*)\) Entering (MASTER|BACKUP|FAULT) STATE/, (m) => `keepalived: ${m[2]}`],
];

/** Events of `units` on `hosts` between `since` and `until` (ms), from `journalctl -o short-unix`. */
export function journalEvents(
  stand: Stand,
  hosts: readonly string[],
  units: readonly string[],
  since: number,
  until: number,
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const host of hosts) {
    let out: string;
    try {
      out = stand.ssh(
        host,
        `journalctl ${units.map((u) => `-u ${u}`).join(" ")} -o short-unix --no-pager --since @${Math.floor(since / 1000)} --until @${Math.ceil(until / 1000)}`,
        undefined,
        30_000,
      );
    } catch {
      continue; // a host that is down has no say
    }
    for (const line of out.split("\n")) {
      const at = Math.round(Number(line.split(" ")[0]) * 1000);
      if (!(at >= since && at <= until)) continue;
      for (const [re, show] of TIMELINE_PATTERNS) {
        const m = line.match(re);
        if (m) {
          events.push({ at, host, what: show(m) });
          break;
        }
      }
    }
  }
  // HAProxy says each state change twice (its log and the master's stderr): once is enough.
  const last = new Map<string, number>();
  return events
    .sort((a, b) => a.at - b.at)
    .filter((e) => {
      const key = `${e.host} ${e.what}`;
      const before = last.get(key);
      last.set(key, e.at);
      return before === undefined || e.at - before > 100;
    });
}

/**
 * A switchover's timeline: the hosts' events and the writer's last
 * acknowledged write before the pause and first after it, in seconds from
 * the last write before the pause.
 */
export function switchoverTimeline(
  stand: Stand,
  writes: readonly WriteRecord[],
  from: number,
  until: number,
): { pauseMs: number; rows: { t: number; host: string; what: string }[] } {
  const acks = writes
    .filter((w) => w.status === "ack" && w.doneAt >= from - 2000 && w.doneAt <= until)
    .map((w) => w.doneAt)
    .sort((a, b) => a - b);
  let gapStart = acks[0] ?? from;
  let gapEnd = gapStart;
  for (let i = 1; i < acks.length; i++) {
    if (acks[i] - acks[i - 1] > gapEnd - gapStart) [gapStart, gapEnd] = [acks[i - 1], acks[i]];
  }
  const events = journalEvents(
    stand,
    [...stand.hostsWith("postgres"), ...stand.hostsWith("haproxy")],
    ["patroni", "haproxy", "keepalived"],
    gapStart - 3000,
    gapEnd + 3000,
  ).filter((e) => !e.what.startsWith("Patroni: Lock owner"));
  const rows = [
    ...events,
    { at: gapStart, host: "client", what: "last write acknowledged before the pause" },
    { at: gapEnd, host: "client", what: "first write acknowledged after it" },
  ]
    .sort((a, b) => a.at - b.at)
    .map((e) => ({ t: (e.at - gapStart) / 1000, host: e.host, what: e.what }));
  return { pauseMs: gapEnd - gapStart, rows };
}

/** A timeline as a markdown table. */
export const timelineTable = (rows: readonly { t: number; host: string; what: string }[]): string =>
  [
    "| t (s) | host | event |",
    "|---:|---|---|",
    ...rows.map((r) => `| ${r.t.toFixed(2)} | ${r.host} | ${r.what} |`),
  ].join("\n");

export interface SwitchoverMeasure {
  readonly pauseMs: number;
  readonly acknowledged: number;
  readonly lost: number;
  /** Rounds in which the HAProxies together routed writes to two primaries (must be 0). */
  readonly dualProxyRounds: number;
  readonly from: string;
  readonly to: string;
  readonly rows: { t: number; host: string; what: string }[];
}

/**
 * One planned switchover through `npm run ctl -- switchover` while the
 * harness writes through the entry's primary port (the VIP): the longest
 * write pause, every acknowledged write checked on every node, and where
 * the pause went, from the hosts' journals.
 */
export async function measureSwitchover(stand: Stand, clusterName: string): Promise<SwitchoverMeasure> {
  const t = standTargets(stand, clusterName);
  await waitWhole(t.whole, 120_000);
  const from = leaderOf(await patroniCluster(t.whole.restUrls))!;
  const table = `switchover_${Date.now()}`;
  await createWriteTable(t.primary, t.creds, table);
  const writer = new Writer(t.primary, t.creds, table);
  const prober = new Prober(t.nodes, t.creds, t.proxies);
  writer.start();
  prober.start();
  let at: number;
  try {
    await new Promise((r) => setTimeout(r, 2000));
    at = Date.now();
    const r = await ctl(stand, "switchover");
    if (r.code !== 0) throw new Error(`npm run ctl -- switchover failed: ${r.out}`);
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await writer.stop();
    await prober.stop();
  }
  const durability = checkDurability(writer.records, await readIdsEverywhere(t.nodes, t.creds, table));
  const timeline = switchoverTimeline(stand, writer.records, at, Date.now());
  return {
    pauseMs: writeUnavailabilityMs(writer.records, at),
    acknowledged: durability.acknowledged,
    lost: lostCount(durability),
    dualProxyRounds: dualProxyRounds(prober.rounds).length,
    from,
    to: leaderOf(await patroniCluster(t.whole.restUrls)) ?? "none",
    rows: timeline.rows,
  };
}
