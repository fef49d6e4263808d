import { describe, expect, it } from "vitest";
import { MemberState, nextRestartAction, withLiveState } from "./restartPlan";

const leader = (name: string, extra: Partial<MemberState> = {}): MemberState => ({
  name,
  role: "leader",
  state: "running",
  timeline: 1,
  ...extra,
});
const replica = (name: string, extra: Partial<MemberState> = {}): MemberState => ({
  name,
  role: "replica",
  state: "streaming",
  timeline: 1,
  lag: 0,
  ...extra,
});
const pending = (name: string, old: string, now: string) => ({
  pending_restart: true,
  pending_restart_reason: { [name]: { old_value: old, new_value: now } },
});

describe("the order of a rolling restart", () => {
  it("has nothing to do, and waits for nothing, when no member is pending (a new replica may still show 'running')", () => {
    expect(nextRestartAction([leader("a"), replica("b", { state: "running" }), replica("c")])).toEqual({
      kind: "done",
    });
  });

  it("waits for every member to be healthy before restarting anything", () => {
    const action = nextRestartAction([
      leader("a"),
      replica("b", { state: "starting", ...pending("shared_buffers", "128MB", "256MB") }),
      replica("c"),
    ]);
    expect(action.kind).toBe("wait");
  });

  it("restarts replicas first, one at a time, then switches the leader over to the least lagging replica", () => {
    const raise = pending("shared_buffers", "128MB", "256MB");
    expect(nextRestartAction([leader("a", raise), replica("c", raise), replica("b", raise)])).toMatchObject({
      kind: "restart",
      member: "b",
    });
    expect(nextRestartAction([leader("a", raise), replica("b"), replica("c", { ...raise, lag: 5 })])).toMatchObject({
      kind: "restart",
      member: "c",
    });
    expect(nextRestartAction([leader("a", raise), replica("b", { lag: 7 }), replica("c", { lag: 1 })])).toMatchObject({
      kind: "switchover",
      from: "a",
      to: "c",
    });
  });

  it("restarts the primary first, in place, when a standby-floor setting is lowered", () => {
    const lower = pending("max_connections", "200", "100");
    expect(nextRestartAction([leader("a", lower), replica("b", lower), replica("c", lower)])).toMatchObject({
      kind: "restart",
      member: "a",
    });
  });

  it("is blocked when the leader needs a restart and no replica may take over", () => {
    const raise = pending("shared_buffers", "128MB", "256MB");
    expect(nextRestartAction([leader("a", raise), replica("b", { tags: { nofailover: true } })]).kind).toBe("blocked");
  });
});

describe("the members' state as they say it themselves", () => {
  const dcs = [leader("a"), replica("b"), replica("c")];

  it("sees a pending restart the DCS does not show yet (it lags one HA loop behind a changed parameter)", () => {
    const reason = { shared_buffers: { old_value: "128MB", new_value: "256MB" } };
    const live = {
      a: { state: "running", role: "primary", timeline: 1, pending_restart: true, pending_restart_reason: reason },
      b: {
        state: "running",
        role: "replica",
        replication_state: "streaming",
        timeline: 1,
        pending_restart: true,
        pending_restart_reason: reason,
      },
      c: { state: "running", role: "replica", replication_state: "streaming", timeline: 1 },
    };
    const members = withLiveState(dcs, live);
    expect(members.map((m) => m.pending_restart)).toEqual([true, true, false]);
    expect(nextRestartAction(members)).toMatchObject({ kind: "restart", member: "b" });
  });

  it("a replica not streaming, or a member that does not answer, is not healthy: nothing restarts meanwhile", () => {
    const pendingLeader = { state: "running", role: "primary", timeline: 1, pending_restart: true };
    const notStreaming = withLiveState(dcs, {
      a: pendingLeader,
      b: { state: "running", role: "replica", timeline: 1 },
      c: { state: "running", role: "replica", replication_state: "streaming", timeline: 1 },
    });
    expect(notStreaming[1].state).toBe("running");
    expect(nextRestartAction(notStreaming).kind).toBe("wait");
    const silent = withLiveState(dcs, {
      a: pendingLeader,
      b: null,
      c: { state: "running", role: "replica", replication_state: "streaming", timeline: 1 },
    });
    expect(silent[1].state).toBe("unreachable");
    expect(nextRestartAction(silent).kind).toBe("wait");
  });
});
