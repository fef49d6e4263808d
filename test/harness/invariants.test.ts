// The fault harness's checker must fail when an invariant breaks.
import { describe, expect, it } from "vitest";
import {
  acksBetween,
  checkDurability,
  lostWrites,
  lostByWriter,
  dualPrimaryRounds,
  dualProxyRounds,
  lostCount,
  ProbeRound,
  proxyDrops,
  staleProxyRounds,
  WriteRecord,
  writeUnavailabilityMs,
} from "./invariants";

const w = (id: number, status: WriteRecord["status"], doneAt = id * 100): WriteRecord => ({
  id,
  status,
  sentAt: doneAt - 5,
  doneAt,
});
const round = (at: number, writable: string[], proxyPrimaries?: string[], unreachable: string[] = []): ProbeRound => ({
  at,
  writable,
  unreachable,
  proxyPrimaries,
});

describe("durability", () => {
  const writes = [w(1, "ack"), w(2, "ack"), w(3, "unknown"), w(4, "failed"), w(5, "ack")];

  it("passes when every acknowledged id is on every node (unknown ones may or may not be)", () => {
    const r = checkDurability(writes, { pg01: [1, 2, 3, 5], pg02: [1, 2, 5] });
    expect(lostCount(r)).toBe(0);
    expect(r).toMatchObject({ acknowledged: 3, unknown: 1, failed: 1, phantom: {} });
  });

  it("fails on an acknowledged write missing from one node", () => {
    const r = checkDurability(writes, { pg01: [1, 2, 5], pg02: [1, 5] });
    expect(lostCount(r)).toBe(1);
    expect(r.lost).toEqual({ pg02: [2] });
  });

  it("fails on a row that was never written", () => {
    expect(checkDurability(writes, { pg01: [1, 2, 5, 99] }).phantom).toEqual({ pg01: [99] });
  });

  it("fails on a write the server refused that is there anyway (a ghost)", () => {
    expect(checkDurability(writes, { pg01: [1, 2, 4, 5], pg02: [1, 2, 4, 5] }).ghost).toEqual({
      pg01: [4],
      pg02: [4],
    });
  });

  it("names nodes whose ids differ, unknown ones included", () => {
    expect(checkDurability(writes, { pg01: [1, 2, 3, 5], pg02: [1, 2, 3, 5] }).divergent).toEqual([]);
    expect(checkDurability(writes, { pg01: [1, 2, 3, 5], pg02: [1, 2, 5] }).divergent).toEqual([
      "pg02 (1 ids differ from pg01)",
    ]);
  });

  it("lists the lost writes oldest first, and counts acknowledgements in a window", () => {
    const r = checkDurability(writes, { pg01: [1, 3], pg02: [1, 3] });
    expect(lostWrites(writes, r).map((x) => x.id)).toEqual([2, 5]);
    expect(acksBetween(writes, 100, 500)).toBe(2);
    expect(acksBetween(writes, 0, 100)).toBe(1);
  });
});

describe("two primaries", () => {
  it("finds rounds with two writable primaries at the database", () => {
    const rounds = [round(1, ["pg01"]), round(2, ["pg01", "pg02"]), round(3, ["pg02"])];
    expect(dualPrimaryRounds(rounds).map((r) => r.at)).toEqual([2]);
  });

  it("finds rounds where HAProxy would send writes to two nodes that take them (or may: not answering)", () => {
    const rounds = [
      round(1, ["pg01"], ["pg01"]),
      round(2, ["pg01", "pg02"], ["pg01", "pg02"]),
      round(3, ["pg02"], ["pg01", "pg02"], ["pg01"]),
      // Stale: pg01 is still marked up but no longer takes writes.
      round(4, ["pg02"], ["pg01", "pg02"]),
    ];
    expect(dualProxyRounds(rounds).map((r) => r.at)).toEqual([2, 3]);
    expect(staleProxyRounds(rounds).map((r) => r.at)).toEqual([2, 3, 4]);
  });
});

describe("write unavailability", () => {
  it("is the longest stretch without an acknowledged write after the fault", () => {
    const writes = [w(1, "ack", 1000), w(2, "ack", 1100), w(3, "failed", 1200), w(4, "ack", 4100), w(5, "ack", 4200)];
    expect(writeUnavailabilityMs(writes, 1150)).toBe(3000);
    expect(writeUnavailabilityMs(writes.slice(0, 3), 1150)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("proxyDrops", () => {
  const round = (at: number, proxies: Record<string, string[] | undefined>) => ({
    at,
    writable: [],
    unreachable: [],
    proxies,
  });
  it("counts each HAProxy that stopped routing to the member, not one that stopped answering", () => {
    const rounds = [
      round(1, { a: ["pg1"], b: ["pg1"] }),
      round(2, { a: [], b: undefined }),
      round(3, { a: ["pg1"], b: ["pg1"] }),
      round(4, { a: ["pg1"], b: ["pg2"] }),
    ];
    expect(proxyDrops(rounds, "pg1")).toBe(2);
    expect(proxyDrops(rounds.slice(0, 1), "pg1")).toBe(0);
  });
});

describe("lost writes by writer", () => {
  it("counts each lost acknowledgement under the port that gave it (entry for HAProxy)", () => {
    const writes: WriteRecord[] = [
      w(1, "ack"),
      w(2, "ack"),
      { ...w(100, "ack"), via: "pg01:5432" },
      { ...w(101, "ack"), via: "pg01:6432" },
      { ...w(102, "failed"), via: "pg02:5432" },
    ];
    const r = checkDurability(writes, { pg01: [1], pg02: [1] });
    expect(lostByWriter(writes, r)).toEqual({ entry: 1, "pg01:5432": 1, "pg01:6432": 1 });
  });
});
