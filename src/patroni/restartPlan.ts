// The order of a rolling restart, as a pure function of the cluster's state
// (Patroni's GET /cluster): called again after each action, so an interrupted
// run resumes where it stopped. Never two members down at once; the primary
// is never restarted in place, except for the one case PostgreSQL forces:
// lowering a setting a standby may not have below its primary.
import { ClusterMember, isLeaderRole, MemberSelf } from "./rest";

/** The members as the plan reads them. */
export type MemberState = ClusterMember;

/**
 * The members the DCS lists (with the leader it names), each with its state,
 * timeline and pending restart as the member says now. The DCS holds them as
 * of the member's last HA loop: up to loop_wait old, and a changed parameter
 * is applied just after a loop, so its pending flag reaches the DCS a whole
 * loop later. A member that does not answer is "unreachable": not healthy.
 */
export function withLiveState(
  members: readonly MemberState[],
  live: Readonly<Record<string, MemberSelf | null | undefined>>,
): MemberState[] {
  return members.map((m) => {
    const own = live[m.name];
    if (!own) return { ...m, state: "unreachable" };
    const replicaState = own.replication_state === "streaming" ? "streaming" : (own.state ?? "unknown");
    return {
      ...m,
      state: isLeader(m) ? (own.state ?? "unknown") : replicaState,
      timeline: own.timeline ?? m.timeline,
      pending_restart: own.pending_restart === true,
      pending_restart_reason: own.pending_restart ? own.pending_restart_reason : undefined,
    };
  });
}

/**
 * Settings a hot standby may not have lower than its primary
 * (https://www.postgresql.org/docs/current/hot-standby.html#HOT-STANDBY-ADMIN):
 * an increase goes to the replicas first; a decrease to the primary first,
 * because a replica restarted with the lower value while its primary runs the
 * higher one keeps the higher (Patroni takes it from pg_controldata).
 */
export const STANDBY_FLOOR_SETTINGS = [
  "max_connections",
  "max_worker_processes",
  "max_wal_senders",
  "max_prepared_transactions",
  "max_locks_per_transaction",
];

export type RestartAction =
  | { readonly kind: "done" }
  | { readonly kind: "wait"; readonly why: string }
  | { readonly kind: "restart"; readonly member: string; readonly why: string }
  | { readonly kind: "switchover"; readonly from: string; readonly to: string; readonly why: string }
  | { readonly kind: "blocked"; readonly why: string };

const isLeader = (m: MemberState) => isLeaderRole(m.role);
const healthy = (m: MemberState) => (isLeader(m) ? m.state === "running" : m.state === "streaming");
const lag = (m: MemberState) => (typeof m.lag === "number" ? m.lag : Number.POSITIVE_INFINITY);

/** Whether the member's pending change lowers a standby-floor setting. */
export function lowersStandbyFloor(m: MemberState): boolean {
  return Object.entries(m.pending_restart_reason ?? {}).some(
    ([name, v]) => STANDBY_FLOOR_SETTINGS.includes(name) && Number(v.new_value) < Number(v.old_value),
  );
}

const reasonOf = (m: MemberState) =>
  Object.entries(m.pending_restart_reason ?? {})
    .map(([k, v]) => `${k} ${v.old_value} -> ${v.new_value}`)
    .join(", ") || "pending restart";

/** The next step of the rolling restart, given the cluster as it is now. */
export function nextRestartAction(members: readonly MemberState[]): RestartAction {
  // Nothing pending: nothing to wait for either (a replica that has just
  // started streaming is reported as such in the DCS only at its next HA loop).
  if (!members.some((m) => m.pending_restart)) return { kind: "done" };
  const leaders = members.filter(isLeader);
  if (leaders.length !== 1) return { kind: "wait", why: `${leaders.length} leaders` };
  const unhealthy = members.filter((m) => !healthy(m));
  if (unhealthy.length > 0)
    return { kind: "wait", why: `not yet healthy: ${unhealthy.map((m) => `${m.name} ${m.state}`).join(", ")}` };
  const leader = leaders[0];
  const replicas = members.filter((m) => m !== leader).sort((a, b) => a.name.localeCompare(b.name));
  if (leader.pending_restart && lowersStandbyFloor(leader)) {
    return {
      kind: "restart",
      member: leader.name,
      why: `${reasonOf(leader)}: lowered on the primary first, in place (a standby may not run below its primary)`,
    };
  }
  const pendingReplica = replicas.find((m) => m.pending_restart);
  if (pendingReplica)
    return {
      kind: "restart",
      member: pendingReplica.name,
      why: `${reasonOf(pendingReplica)}: replicas first, one at a time`,
    };
  if (!leader.pending_restart) return { kind: "done" };
  if (replicas.length === 0)
    return { kind: "restart", member: leader.name, why: `${reasonOf(leader)}: the only member, in place` };
  const candidates = replicas
    .filter((m) => !m.tags?.nofailover && m.timeline === leader.timeline)
    .sort((a, b) => lag(a) - lag(b));
  if (candidates.length === 0) {
    return {
      kind: "blocked",
      why: `${leader.name} needs a restart (${reasonOf(leader)}) but no healthy replica may take over; restart it by hand when a write pause is acceptable`,
    };
  }
  return {
    kind: "switchover",
    from: leader.name,
    to: candidates[0].name,
    why: `${reasonOf(leader)}: the leader last, by a switchover (it restarts as a replica)`,
  };
}
