// What a fault run must prove, as pure functions over what the writer, the
// prober and the final read recorded, so they are unit-tested on their own
// (invariants.test.ts): a checker that cannot fail proves nothing.

/** One write as the client saw it. */
export interface WriteRecord {
  readonly id: number;
  /** ack: COMMIT confirmed; failed: the server refused it; unknown: the connection broke before an answer. */
  readonly status: "ack" | "failed" | "unknown";
  readonly sentAt: number;
  readonly doneAt: number;
  /** Where the write went: undefined for the entry (HAProxy), else a node's port ("pg01:5432"): a zombie primary is offered writes too. */
  readonly via?: string;
}

/** One probe round: which nodes answered as a writable primary, and which HAProxy primary-backend servers were up. */
export interface ProbeRound {
  readonly at: number;
  readonly writable: readonly string[];
  /** Nodes that did not answer in time (frozen, cut off): they may still take writes. */
  readonly unreachable: readonly string[];
  /** HAProxy servers UP in the primary backend (of every HAProxy that answered); undefined when none answered. */
  readonly proxyPrimaries?: readonly string[];
  /** Each HAProxy's own answer, by host (undefined: its stats page did not answer). */
  readonly proxies?: Readonly<Record<string, readonly string[] | undefined>>;
}

export interface DurabilityReport {
  /** Acknowledged ids missing from a node, by node. */
  readonly lost: Readonly<Record<string, number[]>>;
  /** Ids present on a node that were never sent, by node. */
  readonly phantom: Readonly<Record<string, number[]>>;
  /** Ids the server refused (failed) yet present on a node, by node: a "no" that happened anyway. */
  readonly ghost: Readonly<Record<string, number[]>>;
  /** Nodes whose set of ids differs from the first node's, e.g. "pg02 (3 ids differ from pg01)". */
  readonly divergent: readonly string[];
  readonly acknowledged: number;
  readonly unknown: number;
  readonly failed: number;
}

/**
 * Every acknowledged id must be on every node (the primary and each
 * replica); no node may hold an id that was never sent or that the server
 * refused; every node holds the same ids. Ids whose outcome is unknown may
 * be present or not, but alike everywhere.
 */
export function checkDurability(
  writes: readonly WriteRecord[],
  rowsByNode: Readonly<Record<string, readonly number[]>>,
): DurabilityReport {
  const sent = new Set(writes.map((w) => w.id));
  const acked = writes.filter((w) => w.status === "ack").map((w) => w.id);
  const refused = new Set(writes.filter((w) => w.status === "failed").map((w) => w.id));
  const lost: Record<string, number[]> = {};
  const phantom: Record<string, number[]> = {};
  const ghost: Record<string, number[]> = {};
  const divergent: string[] = [];
  const [first, reference] = Object.entries(rowsByNode)[0] ?? ["", []];
  const referenceSet = new Set(reference);
  for (const [node, rows] of Object.entries(rowsByNode)) {
    const present = new Set(rows);
    const missing = acked.filter((id) => !present.has(id));
    if (missing.length) lost[node] = missing;
    const extra = rows.filter((id) => !sent.has(id));
    if (extra.length) phantom[node] = extra;
    const said = rows.filter((id) => refused.has(id));
    if (said.length) ghost[node] = said;
    const differ =
      rows.filter((id) => !referenceSet.has(id)).length + reference.filter((id) => !present.has(id)).length;
    if (differ) divergent.push(`${node} (${differ} ids differ from ${first})`);
  }
  return {
    lost,
    phantom,
    ghost,
    divergent,
    acknowledged: acked.length,
    unknown: writes.filter((w) => w.status === "unknown").length,
    failed: writes.filter((w) => w.status === "failed").length,
  };
}

export const lostCount = (r: DurabilityReport): number => new Set(Object.values(r.lost).flat()).size;

/** Rounds in which two or more nodes answered as writable primaries (split brain at the database). */
export const dualPrimaryRounds = (rounds: readonly ProbeRound[]): ProbeRound[] =>
  rounds.filter((r) => r.writable.length >= 2);

/**
 * Rounds in which HAProxy's primary port would send writes to two nodes that
 * may take them: two servers up there, each a writable primary or not
 * answering (a frozen primary takes writes again when it thaws). A server
 * still marked up for a moment after it refused connections or became a
 * replica is stale, not a second primary: see staleProxyRounds.
 */
export const dualProxyRounds = (rounds: readonly ProbeRound[]): ProbeRound[] =>
  rounds.filter(
    (r) => (r.proxyPrimaries ?? []).filter((s) => r.writable.includes(s) || r.unreachable.includes(s)).length >= 2,
  );

/** Rounds in which HAProxy's primary backend had two servers up at all (its checks lag a role change). */
export const staleProxyRounds = (rounds: readonly ProbeRound[]): ProbeRound[] =>
  rounds.filter((r) => (r.proxyPrimaries?.length ?? 0) >= 2);

/**
 * The longest stretch without an acknowledged write after `from`: from the
 * last ack at or before the fault to the first ack after it. Returns
 * milliseconds, or Infinity when no write was acknowledged after the fault.
 */
export function writeUnavailabilityMs(
  writes: readonly WriteRecord[],
  from: number,
  until = Number.POSITIVE_INFINITY,
): number {
  const acks = writes
    .filter((w) => w.status === "ack")
    .map((w) => w.doneAt)
    .sort((a, b) => a - b);
  let before = acks.filter((t) => t <= from).pop() ?? from;
  let worst = 0;
  for (const t of acks.filter((t) => t > from && t <= until)) {
    worst = Math.max(worst, t - before);
    before = t;
  }
  if (!acks.some((t) => t > from)) return Number.POSITIVE_INFINITY;
  return worst;
}

/**
 * How many times an HAProxy that answered stopped routing writes to
 * `member` (it was up in its primary backend, then not): a flap when
 * nothing on that member's path failed.
 */
export function proxyDrops(rounds: readonly ProbeRound[], member: string): number {
  const last = new Map<string, boolean>();
  let drops = 0;
  for (const r of rounds) {
    for (const [proxy, up] of Object.entries(r.proxies ?? {})) {
      // Not answering (down, cut off, restarting): what it says when it is back starts afresh.
      if (up === undefined) {
        last.delete(proxy);
        continue;
      }
      const routed = up.includes(member);
      if (last.get(proxy) === true && !routed) drops++;
      last.set(proxy, routed);
    }
  }
  return drops;
}

/** The acknowledged writes missing from some node, oldest acknowledgement first. */
export function lostWrites(writes: readonly WriteRecord[], r: DurabilityReport): WriteRecord[] {
  const lost = new Set(Object.values(r.lost).flat());
  return writes.filter((w) => w.status === "ack" && lost.has(w.id)).sort((a, b) => a.doneAt - b.doneAt);
}

/**
 * The acknowledged writes missing from some node, counted by where they
 * were acknowledged ("entry", or a node's port): a zombie primary's
 * acknowledgements, rewound away when it rejoined, show under its name.
 */
export function lostByWriter(writes: readonly WriteRecord[], r: DurabilityReport): Record<string, number> {
  const by: Record<string, number> = {};
  for (const w of lostWrites(writes, r)) by[w.via ?? "entry"] = (by[w.via ?? "entry"] ?? 0) + 1;
  return by;
}

/** Acknowledgements whose answer came in (from, to]. */
export const acksBetween = (writes: readonly WriteRecord[], from: number, to: number): number =>
  writes.filter((w) => w.status === "ack" && w.doneAt > from && w.doneAt <= to).length;
