// The fault suite's checker can fail: a scenario past its write-pause bound,
// or a dual primary that outlives the heal by more than a loop, is a failure.
import { describe, expect, it } from "vitest";
import { DEFAULT_DCS, expectFaultInvariants, FAULTS } from "../faults/scenarios";
import { FaultReport } from "./scenario";

const report = (over: Partial<FaultReport>): FaultReport => ({
  scenario: "power-loss-leader",
  leaderBefore: "pg01",
  leaderAfter: "pg02",
  writeUnavailableMs: 30_000,
  lostAcknowledged: 0,
  lostByWriter: {},
  direct: {},
  durability: {
    acknowledged: 2000,
    unknown: 4,
    failed: 0,
    lost: {},
    phantom: {},
    ghost: {},
    divergent: [],
  } as unknown as FaultReport["durability"],
  dualPrimaryRounds: 0,
  dualProxyRounds: 0,
  staleProxyRounds: 0,
  probeRateHz: 4,
  leaderDrops: 0,
  wholeAfterMs: 4000,
  writes: 2004,
  acks: { beforeFault: 100, duringFault: 0, afterWhole: 100 },
  ackRatePerS: 100,
  ackRateDuringFaultPerS: 0,
  marks: {},
  ...over,
});

describe("fault bounds", () => {
  it("a leader power loss passes at 30 s and fails at 44 s with ttl 30 (bound ttl + loop_wait)", () => {
    const fault = FAULTS["power-loss-leader"];
    expect(fault.pauseBound(DEFAULT_DCS)).toBe(40_000);
    expect(() => expectFaultInvariants(fault, report({}), DEFAULT_DCS)).not.toThrow();
    expect(() => expectFaultInvariants(fault, report({ writeUnavailableMs: 44_300 }), DEFAULT_DCS)).toThrow(
      /writes stopped longer than 40000 ms/,
    );
    // ttl raised to 90 on the stand: a pause of 95 s passes only against the bound of those timings.
    expect(() =>
      expectFaultInvariants(fault, report({ writeUnavailableMs: 95_000 }), { ...DEFAULT_DCS, ttl: 90 }),
    ).not.toThrow();
    expect(() => expectFaultInvariants(fault, report({ writeUnavailableMs: 95_000 }), DEFAULT_DCS)).toThrow();
  });

  it("every scenario has a bound; a dual primary must end within a loop of the heal", () => {
    for (const f of Object.values(FAULTS)) expect(f.pauseBound(DEFAULT_DCS)).toBeGreaterThan(0);
    const frozen = FAULTS["sigstop-patroni-leader"];
    const dual = { writeUnavailableMs: 15_000, dualPrimaryRounds: 80 };
    expect(() =>
      expectFaultInvariants(frozen, report({ ...dual, lastDualPrimaryAfterHealMs: 3000 }), DEFAULT_DCS),
    ).not.toThrow();
    expect(() =>
      expectFaultInvariants(frozen, report({ ...dual, lastDualPrimaryAfterHealMs: 20_000 }), DEFAULT_DCS),
    ).toThrow(/one loop_wait after the heal/);
  });

  it("the prober must sample at 2 Hz; the writer must be writing before the fault and after the heal", () => {
    const fault = FAULTS["power-loss-leader"];
    expect(() => expectFaultInvariants(fault, report({ probeRateHz: 1.5 }), DEFAULT_DCS)).toThrow(/probe rounds/);
    const idle = { acks: { beforeFault: 0, duringFault: 0, afterWhole: 100 } };
    expect(() => expectFaultInvariants(fault, report(idle), DEFAULT_DCS)).toThrow(/last second before the fault/);
    // etcd stopped: failsafe keeps the primary, so writes must go on during the fault.
    expect(() =>
      expectFaultInvariants(
        FAULTS["etcd-all-stopped"],
        report({ leaderAfter: "pg01", writeUnavailableMs: 1000 }),
        DEFAULT_DCS,
      ),
    ).toThrow(/while the fault lasted/);
  });

  it("held-back replicas: asynchronous must lose only what came after the hold, synchronous nothing", () => {
    const fault = FAULTS["power-loss-leader-lagging"];
    const stalled = 1_000_000;
    const lost = (n: number, oldest: number) =>
      report({
        lostAcknowledged: n,
        oldestLostAckAt: oldest,
        marks: { stalled, primaryLost: stalled + 1500, lagBytes: 300_000 },
        durability: { ...report({}).durability, lost: n ? { pg02: [7] } : {} },
      });
    const sync = { ...DEFAULT_DCS, synchronousMode: true };
    expect(() => expectFaultInvariants(fault, lost(40, stalled + 200), DEFAULT_DCS)).not.toThrow();
    expect(() => expectFaultInvariants(fault, lost(0, NaN), DEFAULT_DCS)).toThrow(/writes lost/);
    expect(() => expectFaultInvariants(fault, lost(40, stalled - 5000), DEFAULT_DCS)).toThrow(
      /only writes acknowledged after/,
    );
    expect(() => expectFaultInvariants(fault, lost(40, stalled + 200), sync)).toThrow(/acknowledged writes lost/);
    expect(() => expectFaultInvariants(fault, lost(0, NaN), sync)).not.toThrow();
    // Any other fault loses nothing, asynchronous or not.
    expect(() => expectFaultInvariants(FAULTS["power-loss-leader"], lost(40, stalled + 200), DEFAULT_DCS)).toThrow(
      /acknowledged writes lost/,
    );
  });

  it("a zombie primary: under async only the old leader's own direct acknowledgements may be lost, under sync none", () => {
    const frozen = FAULTS["sigstop-patroni-leader"];
    const fault = 1_000_000;
    const zombie = (lostByWriter: Record<string, number>, oldest = fault + 20_000) =>
      report({
        writeUnavailableMs: 15_000,
        lostAcknowledged: Object.values(lostByWriter).reduce((a, b) => a + b, 0),
        lostByWriter,
        oldestLostAckAt: oldest,
        marks: { fault },
      });
    expect(() =>
      expectFaultInvariants(frozen, zombie({ "pg01:5432": 30, "pg01:6432": 28 }), DEFAULT_DCS),
    ).not.toThrow();
    expect(() => expectFaultInvariants(frozen, zombie({ "pg01:5432": 30, entry: 1 }), DEFAULT_DCS)).toThrow(
      /acknowledged writes lost/,
    );
    expect(() => expectFaultInvariants(frozen, zombie({ "pg02:5432": 3 }), DEFAULT_DCS)).toThrow(
      /acknowledged writes lost/,
    );
    expect(() => expectFaultInvariants(frozen, zombie({ "pg01:5432": 30 }, fault - 5000), DEFAULT_DCS)).toThrow(
      /after the fault/,
    );
    expect(() =>
      expectFaultInvariants(frozen, zombie({ "pg01:5432": 30 }), { ...DEFAULT_DCS, synchronousMode: true }),
    ).toThrow(/acknowledged writes lost/);
    // A fault with no unfenced node: the old leader's direct acknowledgements count like any.
    expect(() => expectFaultInvariants(FAULTS["power-loss-leader"], zombie({ "pg01:5432": 2 }), DEFAULT_DCS)).toThrow(
      /acknowledged writes lost/,
    );
  });

  it("link down: the cut-off leader must demote itself within ttl and before another node takes writes", () => {
    const fault = FAULTS["link-down-leader"];
    const cut = 1_000_000;
    const seen = (isolatedDemoted: number | undefined, newPrimary: number) =>
      report({ marks: { cut, newPrimary, ...(isolatedDemoted === undefined ? {} : { isolatedDemoted }) } });
    expect(() => expectFaultInvariants(fault, seen(cut + 12_000, cut + 31_000), DEFAULT_DCS)).not.toThrow();
    expect(() => expectFaultInvariants(fault, seen(undefined, cut + 31_000), DEFAULT_DCS)).toThrow(/demoted itself/);
    expect(() => expectFaultInvariants(fault, seen(cut + 35_000, cut + 40_000), DEFAULT_DCS)).toThrow(/within ttl/);
    expect(() => expectFaultInvariants(fault, seen(cut + 25_000, cut + 20_000), DEFAULT_DCS)).toThrow(
      /before another node took writes/,
    );
  });
});
