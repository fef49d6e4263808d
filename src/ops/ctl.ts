// `npm run ctl`: operations on a deployed cluster from the controller. This
// file is the pure part: the arguments, and the checks a DBA would make
// before running patronictl (unknown member, no healthy candidate, a paused
// cluster), against the cluster as Patroni's REST API reports it. The
// patronictl command it returns runs on a PostgreSQL host over SSH
// (scripts/ctl.ts).

import { ClusterMember } from "../patroni/rest";

export type { ClusterMember };

/** Patroni's GET /cluster, with the cluster's scope. */
export interface ClusterView {
  readonly scope: string;
  readonly members: readonly ClusterMember[];
  readonly paused: boolean;
  /**
   * synchronous_mode on (not quorum): Patroni switches over only to the
   * synchronous standby (GET /config; absent when it was not read).
   */
  readonly synchronousMode?: boolean;
}

export type CtlCommand =
  | { readonly kind: "list" }
  | { readonly kind: "status" }
  | { readonly kind: "history" }
  | { readonly kind: "switchover"; readonly to?: string }
  | { readonly kind: "failover"; readonly to: string }
  | { readonly kind: "restart"; readonly member: string }
  | { readonly kind: "reinit"; readonly member: string }
  | { readonly kind: "pause" }
  | { readonly kind: "resume" }
  | { readonly kind: "backups" }
  | { readonly kind: "backup"; readonly type: BackupType }
  | { readonly kind: "check" };

export const BACKUP_TYPES = ["full", "diff", "incr"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/** The commands about backups (src/ops/backups.ts); the others are Patroni's. */
export const isBackupCommand = (c: CtlCommand): c is Extract<CtlCommand, { kind: "backups" | "backup" | "check" }> =>
  c.kind === "backups" || c.kind === "backup" || c.kind === "check";

/** What a command is done waiting for, checked on the cluster view after patronictl returns. */
export type CtlWait =
  /** `member` leads, and `replicas` (the members that streamed before) stream from it on its timeline. */
  | { readonly kind: "leader"; readonly member: string; readonly replicas: readonly string[] }
  | { readonly kind: "member-up"; readonly member: string; readonly streaming: boolean };

export interface CtlPlan {
  /** patronictl's arguments; empty when there is nothing to do. */
  readonly argv: readonly string[];
  /** One line for the DBA: what is about to happen (or why nothing does). */
  readonly summary: string;
  readonly wait?: CtlWait;
}

export class CtlError extends Error {}

export const CTL_USAGE = `usage: npm run ctl -- [--stack STACK] COMMAND
  list                     members, roles, states, lag (patronictl list)
  status                   members, TLS certificates and CAs (days left), watchdogs, the alerts firing now
  history                  timeline history (patronictl history)
  switchover [--to MEMBER] planned: the leader hands over to MEMBER (default: a healthy replica)
  failover --to MEMBER     MEMBER is promoted whatever the leader's state
  restart MEMBER           restart MEMBER's PostgreSQL (a pending restart, say)
  reinit MEMBER            rebuild replica MEMBER from the leader (new base backup)
  pause                    maintenance mode: Patroni stops acting on failures
  resume                   leave maintenance mode
  backups                  pgBackRest's backups (sizes, times, WAL range) and the archive's state
  backup [--type T]        a backup now: full, diff or incr (default incr, full when there is none)
  check                    pgbackrest check, and no WAL dropped since the newest backup
STACK defaults to local (or $STACK).`;

/** `[--stack S] command [args]` → the stack and the command; throws CtlError with the usage. */
export function parseCtlArgs(argv: readonly string[], defaultStack: string): { stack: string; command: CtlCommand } {
  const args = [...argv];
  let stack = defaultStack;
  let to: string | undefined;
  let type: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (!v || v.startsWith("-")) throw new CtlError(`${a} needs a value\n${CTL_USAGE}`);
      return v;
    };
    if (a === "--stack" || a === "-s") stack = value();
    else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
    else if (a === "--to" || a === "--candidate") to = value();
    else if (a.startsWith("--to=")) to = a.slice("--to=".length);
    else if (a === "--type") type = value();
    else if (a.startsWith("--type=")) type = a.slice("--type=".length);
    else if (a === "-h" || a === "--help") throw new CtlError(CTL_USAGE);
    else if (a.startsWith("-")) throw new CtlError(`unknown option ${a}\n${CTL_USAGE}`);
    else positional.push(a);
  }
  const [kind, member, ...extra] = positional;
  const none = (k: CtlCommand["kind"]) => {
    if (member !== undefined || to !== undefined || (type !== undefined && k !== "backup"))
      throw new CtlError(`${k} takes no arguments\n${CTL_USAGE}`);
  };
  const one = (k: string): string => {
    if (!member || extra.length > 0 || to !== undefined)
      throw new CtlError(`${k} needs exactly one MEMBER\n${CTL_USAGE}`);
    return member;
  };
  switch (kind) {
    case "list":
    case "status":
    case "history":
    case "pause":
    case "resume":
      none(kind);
      return { stack, command: { kind } };
    case "backups":
    case "check":
      none(kind);
      return { stack, command: { kind } };
    case "backup":
      none(kind);
      if (type !== undefined && !(BACKUP_TYPES as readonly string[]).includes(type))
        throw new CtlError(`backup --type must be one of ${BACKUP_TYPES.join(", ")}, not ${type}\n${CTL_USAGE}`);
      return { stack, command: { kind, type: (type as BackupType | undefined) ?? "incr" } };
    case "switchover":
      if (member !== undefined) throw new CtlError(`switchover names its target with --to MEMBER\n${CTL_USAGE}`);
      return { stack, command: { kind, to } };
    case "failover":
      if (!to || member !== undefined)
        throw new CtlError(`failover needs --to MEMBER (the member to promote)\n${CTL_USAGE}`);
      return { stack, command: { kind, to } };
    case "restart":
    case "reinit":
      return { stack, command: { kind, member: one(kind) } };
    case undefined:
      throw new CtlError(CTL_USAGE);
    default:
      throw new CtlError(`unknown command ${kind}\n${CTL_USAGE}`);
  }
}

const LEADER_ROLES = new Set(["leader", "master", "primary", "standby_leader"]);

export const isLeader = (m: ClusterMember): boolean => LEADER_ROLES.has(m.role);
export const leaderOf = (view: ClusterView): ClusterMember | undefined => view.members.find(isLeader);

/** A replica Patroni would promote: streaming (or running, as older Patroni reports it) and not tagged nofailover. */
function whyNotCandidate(m: ClusterMember): string | undefined {
  if (isLeader(m)) return `${m.name} is the leader`;
  if (m.tags?.nofailover) return `${m.name} is tagged nofailover`;
  if (m.state !== "streaming" && m.state !== "running") return `${m.name} is ${m.state}`;
  return undefined;
}

function member(view: ClusterView, name: string): ClusterMember {
  const m = view.members.find((x) => x.name === name);
  if (!m)
    throw new CtlError(
      `no member ${name} in cluster ${view.scope}; members: ${view.members.map((x) => x.name).join(", ") || "none"}`,
    );
  return m;
}

/** The patronictl command for `command` on the cluster as it is, or a CtlError saying why not. */
export function planCtl(command: CtlCommand, view: ClusterView): CtlPlan {
  const scope = view.scope;
  const leader = leaderOf(view);
  switch (command.kind) {
    case "backups":
    case "backup":
    case "check":
      throw new CtlError(`${command.kind} is not a Patroni command`);
    case "list":
      return { argv: ["list", scope], summary: "" };
    case "status":
      return { argv: [], summary: "" };
    case "history":
      return { argv: ["history", scope], summary: "" };
    case "pause":
      if (view.paused) return { argv: [], summary: `cluster ${scope} is already paused (maintenance mode)` };
      return {
        argv: ["pause", scope, "--wait"],
        summary: `pausing ${scope}: Patroni stops acting on failures until resume`,
      };
    case "resume":
      if (!view.paused) return { argv: [], summary: `cluster ${scope} is not paused` };
      return { argv: ["resume", scope, "--wait"], summary: `resuming ${scope}` };
    case "switchover": {
      if (!leader) {
        throw new CtlError(
          `cluster ${scope} has no leader to switch over from; promote a member with: npm run ctl -- failover --to MEMBER`,
        );
      }
      if (view.paused && !command.to) {
        throw new CtlError(
          `cluster ${scope} is paused (maintenance mode): Patroni switches over only to a named member; name one with --to MEMBER, or resume first (npm run ctl -- resume)`,
        );
      }
      let target: ClusterMember;
      // Patroni's own rule: in synchronous_mode a switchover goes to the synchronous standby only.
      const whyNot = (m: ClusterMember) =>
        whyNotCandidate(m) ??
        (view.synchronousMode && m.role !== "sync_standby"
          ? `${m.name} is not the synchronous standby (synchronous_mode is on: Patroni switches over only to ${
              view.members.find((x) => x.role === "sync_standby")?.name ??
              "one, and has not named one yet; try again after a loop_wait"
            })`
          : undefined);
      if (command.to) {
        target = member(view, command.to);
        const why = whyNot(target);
        if (why) throw new CtlError(`cannot switch over to ${target.name}: ${why}`);
      } else {
        const candidates = view.members.filter((m) => !whyNot(m));
        if (candidates.length === 0) {
          const reasons = view.members.filter((m) => !isLeader(m)).map((m) => whyNot(m));
          throw new CtlError(
            `no healthy candidate to switch over to in ${scope}: ${reasons.join("; ") || "the leader is the only member"}`,
          );
        }
        // The least lagging replica, as Patroni itself would prefer.
        target = [...candidates].sort((a, b) => lagBytes(a) - lagBytes(b))[0];
      }
      return {
        argv: ["switchover", scope, "--leader", leader.name, "--candidate", target.name, "--force"],
        summary: `switchover of ${scope}: ${leader.name} → ${target.name}`,
        wait: { kind: "leader", member: target.name, replicas: streamingExcept(view, target.name) },
      };
    }
    case "failover": {
      const target = member(view, command.to);
      const why = whyNotCandidate(target);
      if (why) throw new CtlError(`cannot fail over to ${target.name}: ${why}`);
      return {
        argv: ["failover", scope, "--candidate", target.name, "--force"],
        summary: `failover of ${scope} to ${target.name}${leader ? ` (leader now: ${leader.name}, ${leader.state})` : " (no leader now)"}`,
        wait: { kind: "leader", member: target.name, replicas: streamingExcept(view, target.name) },
      };
    }
    case "restart": {
      const m = member(view, command.member);
      return {
        argv: ["restart", scope, m.name, "--force"],
        summary: `restarting PostgreSQL on ${m.name} (${m.role})`,
        wait: { kind: "member-up", member: m.name, streaming: !isLeader(m) },
      };
    }
    case "reinit": {
      const m = member(view, command.member);
      if (isLeader(m))
        throw new CtlError(`${m.name} is the leader of ${scope}: only a replica can be rebuilt; switch over first`);
      if (!leader) throw new CtlError(`cluster ${scope} has no leader to rebuild ${m.name} from`);
      return {
        argv: ["reinit", scope, m.name, "--force", "--wait"],
        summary: `rebuilding ${m.name} from ${leader.name} (its data directory is replaced by a new base backup)`,
        wait: { kind: "member-up", member: m.name, streaming: true },
      };
    }
  }
}

/** Members healthy now (the leader and streaming replicas) other than `except`: they must stream again afterwards. */
function streamingExcept(view: ClusterView, except: string): string[] {
  return view.members
    .filter((m) => m.name !== except && (isLeader(m) ? m.state === "running" : m.state === "streaming"))
    .map((m) => m.name);
}

function lagBytes(m: ClusterMember): number {
  return typeof m.lag === "number" ? m.lag : Number.MAX_SAFE_INTEGER;
}

/** Whether `wait` holds on `view`. */
export function waitDone(wait: CtlWait, view: ClusterView): boolean {
  const m = view.members.find((x) => x.name === wait.member);
  if (!m) return false;
  if (wait.kind === "leader") {
    if (!isLeader(m) || m.state !== "running") return false;
    return wait.replicas.every((r) =>
      view.members.some((x) => x.name === r && x.state === "streaming" && x.timeline === m.timeline),
    );
  }
  if (m.pending_restart) return false;
  return wait.streaming ? m.state === "streaming" : m.state === "running";
}

/** Patroni's GET /cluster JSON (and the scope, and GET /config's synchronous_mode when read) as a ClusterView. */
export function parseClusterView(scope: string, json: string, synchronousMode?: string): ClusterView {
  const raw = JSON.parse(json) as { members?: ClusterMember[]; pause?: boolean };
  return { scope, members: raw.members ?? [], paused: raw.pause === true, synchronousMode: synchronousMode === "true" };
}

/** An alert as Alertmanager's API lists it (GET /api/v2/alerts). */
export interface ActiveAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly status?: { readonly state?: string };
}

const SEVERITY_ORDER = ["critical", "warning"];

/** The firing alerts for `npm run ctl -- status`: most severe first, then oldest first. */
export function formatAlerts(alerts: readonly ActiveAlert[], now: Date, where: string): string {
  const firing = alerts.filter((a) => (a.status?.state ?? "active") === "active");
  if (firing.length === 0) return `No alert firing (Alertmanager on ${where}).`;
  const rank = (a: ActiveAlert) => {
    const i = SEVERITY_ORDER.indexOf(a.labels.severity ?? "");
    return i < 0 ? SEVERITY_ORDER.length : i;
  };
  const sorted = [...firing].sort((a, b) => rank(a) - rank(b) || a.startsAt.localeCompare(b.startsAt));
  const age = (since: string) => {
    const s = Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));
    return s >= 3600
      ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
      : s >= 60
        ? `${Math.floor(s / 60)}m${s % 60}s`
        : `${s}s`;
  };
  const rows = sorted.map((a) => [
    a.labels.severity ?? "-",
    a.labels.alertname ?? "?",
    a.labels.member ?? a.labels.instance ?? a.labels.cluster ?? "-",
    `for ${age(a.startsAt)}`,
    a.annotations?.summary ?? "",
  ]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return [
    `Firing alerts (${firing.length}, Alertmanager on ${where}):`,
    ...rows.map(
      (r) =>
        "  " +
        r
          .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c))
          .join("  ")
          .trimEnd(),
    ),
  ].join("\n");
}

/** What a host's TLS files say (src/ops/tls-status.sh): its certificate and the CAs it trusts, or nothing without TLS. */
export interface HostTlsStatus {
  readonly certificate?: { readonly notAfter: string; readonly serial: string };
  readonly cas: readonly { readonly notAfter: string; readonly subject: string }[];
}

/** What a PostgreSQL host's watchdog is (src/ops/watchdog-status.sh). */
export interface HostWatchdog {
  readonly mode: string;
  readonly device: string | null;
  readonly owner?: string;
  /** Patroni holds the device open: it leads, and the machine resets if its loop stops. */
  readonly armed?: boolean;
}

const DAY_MS = 86_400_000;
const daysTo = (date: string, now: number) => Math.floor((Date.parse(date) - now) / DAY_MS);

/** npm run ctl -- status: the members as Patroni reports them, then each host's certificate and CAs with the days left. */
export function formatStatus(
  view: ClusterView,
  tls: Readonly<Record<string, HostTlsStatus | string>>,
  watchdogs: Readonly<Record<string, HostWatchdog | string>> = {},
  now = Date.now(),
): string {
  const leader = leaderOf(view);
  const streaming = view.members.filter((m) => !isLeader(m) && m.state === "streaming").length;
  const pad = (cells: readonly (string | number)[], widths: readonly number[]) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const lines = [
    `cluster ${view.scope}: ${leader ? `leader ${leader.name} on timeline ${leader.timeline ?? "?"}` : "no leader"}, ` +
      `${streaming} of ${view.members.length - (leader ? 1 : 0)} replicas streaming${view.paused ? ", paused (maintenance mode)" : ""}`,
    pad(["member", "role", "state", "timeline", "lag"], [8, 12, 10, 8, 6]),
    ...view.members.map((m) =>
      pad([m.name, m.role, m.state, m.timeline ?? "", isLeader(m) ? "" : (m.lag ?? "")], [8, 12, 10, 8, 6]),
    ),
    "",
    "TLS (days left):",
    pad(["host", "certificate ends", "days", "CAs trusted (days)"], [10, 16, 5, 0]),
  ];
  for (const [host, s] of Object.entries(tls)) {
    if (typeof s === "string") lines.push(pad([host, `unknown: ${s}`], [10, 0]));
    else if (!s.certificate) lines.push(pad([host, "no TLS"], [10, 0]));
    else
      lines.push(
        pad(
          [
            host,
            s.certificate.notAfter.slice(0, 10),
            daysTo(s.certificate.notAfter, now),
            s.cas.map((c) => daysTo(c.notAfter, now)).join(", "),
          ],
          [10, 16, 5, 0],
        ),
      );
  }
  if (Object.keys(watchdogs).length > 0) lines.push("", "Watchdog:", pad(["member", "mode", "device"], [8, 10, 0]));
  for (const [host, w] of Object.entries(watchdogs)) {
    if (typeof w === "string") lines.push(pad([host, "unknown", w], [8, 10, 0]));
    else if (w.mode === "off") lines.push(pad([host, "off", "not used"], [8, 10, 0]));
    else if (!w.device)
      lines.push(pad([host, w.mode, "none on this host (a container?): a hung leader is not reset"], [8, 10, 0]));
    else
      lines.push(
        pad(
          [
            host,
            w.mode,
            `${w.device} (${w.owner}${w.owner === "postgres" ? "" : ": Patroni cannot open it"}), ${w.armed ? "armed by Patroni" : "not armed (armed on the leader)"}`,
          ],
          [8, 10, 0],
        ),
      );
  }
  return lines.join("\n");
}
