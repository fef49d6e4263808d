import { describe, expect, it } from "vitest";
import { MemberState, nextRestartAction } from "../../src/cluster/restartPlan";

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
    expect(nextRestartAction([leader("a"), replica("b", { state: "running" }), replica("c")])).toEqual({ kind: "done" });
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
