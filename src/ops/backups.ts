// `npm run ctl -- backups | backup | check`: the pure part. What pgBackRest's
// `info --output=json` says of a stanza, what each database host's archive
// monitor says (pp-archive-metrics: WAL dropped because the archive queue
// was full, pushes failing) and what the primary's pg_stat_archiver says,
// put in one listing, and the verdict `check` gives on it. pgBackRest's
// info exits 0 whatever the stanza's status: the status code decides.
// https://pgbackrest.org/command.html#command-info

/** One element of `pgbackrest info --output=json` (the fields used here). */
export interface StanzaInfo {
  readonly name: string;
  readonly status: { readonly code: number; readonly message: string; readonly lock?: unknown };
  readonly archive?: readonly { readonly id: string; readonly min: string | null; readonly max: string | null }[];
  readonly backup?: readonly BackupInfo[];
  readonly repo?: readonly { readonly status: { readonly code: number; readonly message: string } }[];
}

export interface BackupInfo {
  readonly label: string;
  readonly type: "full" | "diff" | "incr";
  readonly prior: string | null;
  readonly error?: boolean;
  readonly timestamp: { readonly start: number; readonly stop: number };
  readonly archive: { readonly start: string; readonly stop: string };
  readonly info: {
    readonly size: number;
    readonly delta: number;
    readonly repository: { readonly size: number; readonly delta: number };
  };
}

/** What one database host's archive monitor and PostgreSQL say. */
export interface HostArchive {
  readonly host: string;
  readonly primary: boolean;
  /** WAL segments pgBackRest dropped (queue full) since the monitor began, and when the last was. */
  readonly dropped: number;
  readonly lastDrop: number;
  /** Pushes fail now (the spool's global.error), with its text. */
  readonly failing: boolean;
  readonly error: string;
  /** pg_stat_archiver, on the primary. */
  readonly archiver?: {
    readonly archivedCount: number;
    readonly lastArchivedWal: string;
    readonly lastArchivedTime: number;
    readonly failedCount: number;
    readonly lastFailedWal: string;
    readonly lastFailedTime: number;
  };
  /** Why the host could not be read, if it could not. */
  readonly unreachable?: string;
}

export function parseInfo(json: string, stanza: string): StanzaInfo {
  const all = JSON.parse(json) as StanzaInfo[];
  const s = all.find((x) => x.name === stanza);
  if (!s) throw new Error(`pgbackrest info has no stanza ${stanza}`);
  return s;
}

/**
 * One host's report: the archive monitor's line (dropped=N last_drop=T
 * failing=0|1 error=...), then PostgreSQL's line (in_recovery|archived_count|
 * last_archived_wal|last_archived_time|failed_count|last_failed_wal|last_failed_time).
 */
export function parseHostArchive(host: string, stdout: string): HostArchive {
  const lines = stdout.trim().split("\n");
  const monitor = lines.find((l) => l.startsWith("dropped=")) ?? "";
  const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(monitor)?.[1] ?? "";
  const error = /error=(.*)$/.exec(monitor)?.[1]?.trim() ?? "";
  const pg = lines.find((l) => /^[tf]\|/.test(l));
  const cols = pg?.split("|") ?? [];
  const num = (v: string | undefined) => (v ? Number(v) : 0);
  return {
    host,
    primary: cols[0] === "f",
    dropped: num(field("dropped")),
    lastDrop: num(field("last_drop")),
    failing: field("failing") === "1",
    error,
    archiver:
      cols[0] === "f"
        ? {
            archivedCount: num(cols[1]),
            lastArchivedWal: cols[2] ?? "",
            lastArchivedTime: num(cols[3]),
            failedCount: num(cols[4]),
            lastFailedWal: cols[5] ?? "",
            lastFailedTime: num(cols[6]),
          }
        : undefined,
  };
}

const utc = (epoch: number) =>
  epoch > 0 ? new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z" : "-";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The newest backup (by stop time), if any. */
export const newestBackup = (s: StanzaInfo): BackupInfo | undefined =>
  [...(s.backup ?? [])].sort((a, b) => a.timestamp.stop - b.timestamp.stop).at(-1);

/**
 * What is wrong with the stanza's backups and archive, for `check` (empty
 * when all is well): a status that is not ok, no backup, pushes failing,
 * WAL dropped since the newest backup began (recovery cannot cross that gap:
 * a new backup is needed), a host that could not be asked.
 */
export function backupProblems(s: StanzaInfo, hosts: readonly HostArchive[]): string[] {
  const problems: string[] = [];
  if (s.status.code !== 0) {
    const repo = (s.repo ?? []).map((r) => r.status.message).join("; ");
    problems.push(
      `stanza ${s.name}: status ${s.status.code} (${s.status.message}${repo && repo !== s.status.message ? `: ${repo}` : ""})`,
    );
  }
  const newest = newestBackup(s);
  for (const h of hosts) {
    if (h.unreachable) {
      problems.push(`${h.host}: could not read its archive state (${h.unreachable})`);
      continue;
    }
    if (h.failing) problems.push(`${h.host}: pushing WAL to the repository fails now: ${h.error}`);
    if (h.dropped > 0 && (!newest || h.lastDrop >= newest.timestamp.start))
      problems.push(
        `${h.host}: pgBackRest dropped WAL (archive queue full, backup.archivePushQueueMax) at ${utc(h.lastDrop)}, ` +
          `after the newest backup began${newest ? ` (${newest.label})` : ""}: the archive has a gap that no recovery crosses; ` +
          `take a new backup now (npm run ctl -- backup)`,
      );
    if (h.archiver && h.archiver.failedCount > 0 && h.archiver.lastFailedTime > h.archiver.lastArchivedTime)
      problems.push(
        `${h.host}: PostgreSQL's last archive attempt failed (${h.archiver.lastFailedWal} at ${utc(h.archiver.lastFailedTime)})`,
      );
  }
  return problems;
}

/** `npm run ctl -- backups`: the backups, the WAL range, the archive's state. */
export function formatBackups(s: StanzaInfo, hosts: readonly HostArchive[], repository: string): string {
  const lines = [
    `stanza ${s.name} in ${repository}: ${s.status.code === 0 ? "ok" : `status ${s.status.code} (${s.status.message})`}`,
  ];
  const backups = [...(s.backup ?? [])].sort((a, b) => a.timestamp.start - b.timestamp.start);
  if (backups.length === 0) lines.push("no backups");
  else {
    lines.push(
      "",
      ["label", "type", "started (UTC)", "took", "database", "in repository", "WAL start..stop"].join(" | "),
      ...backups.map((b) =>
        [
          b.label,
          b.type + (b.prior ? ` of ${b.prior}` : ""),
          utc(b.timestamp.start),
          `${b.timestamp.stop - b.timestamp.start} s`,
          formatBytes(b.info.size),
          b.type === "full" ? formatBytes(b.info.repository.size) : `${formatBytes(b.info.repository.delta)} (delta)`,
          `${b.archive.start}..${b.archive.stop}`,
        ].join(" | "),
      ),
    );
  }
  lines.push("");
  for (const a of s.archive ?? []) lines.push(`WAL archive ${a.id}: ${a.min ?? "-"} .. ${a.max ?? "-"}`);
  for (const h of hosts) {
    if (h.unreachable) {
      lines.push(`${h.host}: not reachable (${h.unreachable})`);
      continue;
    }
    const parts = [`${h.host} (${h.primary ? "primary" : "replica"})`];
    if (h.archiver)
      parts.push(
        `last archived ${h.archiver.lastArchivedWal || "-"} at ${utc(h.archiver.lastArchivedTime)}, ${h.archiver.archivedCount} archived, ${h.archiver.failedCount} failed` +
          (h.archiver.failedCount > 0
            ? ` (last ${h.archiver.lastFailedWal} at ${utc(h.archiver.lastFailedTime)})`
            : ""),
      );
    parts.push(h.failing ? `pushes failing: ${h.error}` : "pushes ok");
    parts.push(h.dropped > 0 ? `${h.dropped} WAL segment(s) dropped, last at ${utc(h.lastDrop)}` : "no WAL dropped");
    lines.push(parts.join("; "));
  }
  const problems = backupProblems(s, hosts);
  if (problems.length > 0) lines.push("", ...problems.map((p) => `WARNING: ${p}`));
  return lines.join("\n");
}
