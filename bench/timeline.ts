// Where a `pulumi up` goes, from the step log ShellCommand writes when
// PULUMI_PATRONI_STEP_LOG is set (one JSON line per script run): each phase
// of the deploy as the span from its first step's start to its last step's
// end, in seconds since the up began, and the time no step was running at all
// (the program, the engine, the state). Pure: the benchmark feeds it the lines.

export interface StepRun {
  /** "pg01: install packages" (host: what). */
  readonly step: string;
  readonly phase: string;
  /** ms since the epoch. */
  readonly start: number;
  readonly end: number;
  readonly code: number;
}

export interface Phase {
  readonly name: string;
  /** Which steps belong to it (matched against "host: what"). */
  readonly match: RegExp;
}

export interface PhaseSpan {
  readonly name: string;
  readonly steps: number;
  /** Seconds since the up began. */
  readonly from: number;
  readonly to: number;
}

export interface TimelineSummary {
  readonly phases: PhaseSpan[];
  /** Seconds of the up during which no step ran (program, engine, state writes, waits between steps). */
  readonly idle: number;
  readonly total: number;
}

/** The phases of a fresh deploy, in the runbook's order; `databaseHosts` are the hosts with the postgres role. */
export function deployPhases(databaseHosts: readonly string[]): Phase[] {
  const db = `^(${databaseHosts.map((h) => h.replace(/[^a-z0-9-]/g, "")).join("|")}): `;
  return [
    { name: "machines (create, boot, SSH)", match: /local (stand|machine)|: reachable over SSH$/ },
    { name: "platform read (apt-get update)", match: /: read the platform$/ },
    { name: "packages, database hosts", match: new RegExp(`${db}install (etcd's )?packages$`) },
    { name: "packages, other hosts", match: /: install packages$/ },
    { name: "etcd started, healthy", match: /\/etcd|: run etcd$|etcd-cluster$|restart the etcd member/ },
    { name: "Patroni files", match: /\/patroni|pgpass_patroni|Patroni's roles/ },
    { name: "first member bootstraps and leads", match: /: run patroni$|a running Patroni leader$/ },
    { name: "replicas streaming", match: /patroni-cluster$|switchover away/ },
    {
      name: "roles, databases, PgBouncer",
      match: /roles and databases|dynamic configuration|rolling restart|pgbouncer/,
    },
    { name: "HAProxy", match: /haproxy/ },
    { name: "client host", match: /\.pgpass$|pg_service|wait for client$/ },
  ];
}

/** The spans of `phases` within an up that ran from `upStart` to `upEnd` (ms since the epoch). */
export function summarizeTimeline(
  runs: readonly StepRun[],
  phases: readonly Phase[],
  upStart: number,
  upEnd: number,
): TimelineSummary {
  const s = (ms: number) => (ms - upStart) / 1000;
  const spans: PhaseSpan[] = [];
  for (const phase of phases) {
    // A step belongs to the first phase that matches it.
    const mine = runs.filter((r) => phases.find((p) => p.match.test(r.step)) === phase);
    if (mine.length === 0) continue;
    spans.push({
      name: phase.name,
      steps: mine.length,
      from: s(Math.min(...mine.map((r) => r.start))),
      to: s(Math.max(...mine.map((r) => r.end))),
    });
  }
  // Time covered by at least one step: merge the intervals.
  const intervals = runs
    .map((r) => [Math.max(r.start, upStart), Math.min(r.end, upEnd)] as const)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let [curStart, curEnd] = [Number.NaN, Number.NaN];
  for (const [a, b] of intervals) {
    if (b <= a) continue;
    if (Number.isNaN(curStart) || a > curEnd) {
      if (!Number.isNaN(curStart)) covered += curEnd - curStart;
      [curStart, curEnd] = [a, b];
    } else curEnd = Math.max(curEnd, b);
  }
  if (!Number.isNaN(curStart)) covered += curEnd - curStart;
  return { phases: spans, idle: (upEnd - upStart - covered) / 1000, total: (upEnd - upStart) / 1000 };
}

/** Parses the step log (one JSON object per line; blank lines ignored). */
export function parseStepLog(text: string): StepRun[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as StepRun);
}
