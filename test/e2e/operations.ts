// npm run ctl against the e2e stand, as a DBA runs it from the controller:
// the commands work, and the checks in front of patronictl give clear
// errors (unknown member, a paused cluster) instead of patronictl's.
import { describe, expect, it } from "vitest";
import { Stand } from "../helpers/stand";
import { patroniCluster, leaderOf, waitWhole } from "../harness/clusterState";
import { standTargets, withTraffic } from "../harness/scenario";
import { ctl } from "../faults/scenarios";

export function operationsTests(stand: Stand, clusterName: string): void {
  describe("npm run ctl", () => {
    const members = async () =>
      patroniCluster(standTargets(stand, clusterName).whole.restUrls, standTargets(stand, clusterName).whole.tls);

    it("list shows every member; an unknown member is refused with the members there are (exit 2)", async () => {
      const list = await ctl(stand, "list");
      expect(list.code, list.out).toBe(0);
      for (const host of stand.hostsWith("postgres")) expect(list.out).toContain(host);
      expect(list.out).toContain("Leader");
      const unknown = await ctl(stand, "restart", "pg09");
      expect(unknown.code).toBe(2);
      expect(unknown.out).toContain(`no member pg09 in cluster ${clusterName}; members: pg01, pg02, pg03`);
    });

    it("pause: switchover without a target is refused while paused; pause again says so; resume", async () => {
      try {
        const pause = await ctl(stand, "pause");
        expect(pause.code, pause.out).toBe(0);
        expect((await ctl(stand, "list")).out).toMatch(/Maintenance mode: on/);
        const again = await ctl(stand, "pause");
        expect(again.out).toContain("already paused");
        const refused = await ctl(stand, "switchover");
        expect(refused.code).toBe(2);
        expect(refused.out).toMatch(/paused \(maintenance mode\)/);
      } finally {
        const resume = await ctl(stand, "resume");
        expect(resume.code, resume.out).toBe(0);
      }
      expect((await ctl(stand, "list")).out).not.toMatch(/Maintenance mode: on/);
    });

    it("failover --to a replica while a client writes: nothing acknowledged is lost; history records it", async () => {
      const before = leaderOf(await members())!;
      const target = stand.hostsWith("postgres").find((h) => h !== before)!;
      const report = await withTraffic(stand, clusterName, "ctl failover", async () => {
        const r = await ctl(stand, "failover", "--to", target);
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(/done in [\d.]+ s/);
      });
      expect(leaderOf(await members())).toBe(target);
      expect(report.acknowledged).toBeGreaterThan(50);
      expect(report.lostAcknowledged).toBe(0);
      expect(report.dualProxyRounds).toBe(0);
      const history = await ctl(stand, "history");
      expect(history.code, history.out).toBe(0);
      expect(history.out).toContain(target);
      await waitWhole(standTargets(stand, clusterName).whole, 120_000);
    });

    it("restart and reinit of a replica bring it back streaming", async () => {
      const leader = leaderOf(await members())!;
      const replica = stand.hostsWith("postgres").find((h) => h !== leader)!;
      const restart = await ctl(stand, "restart", replica);
      expect(restart.code, restart.out).toBe(0);
      const reinit = await ctl(stand, "reinit", replica);
      expect(reinit.code, reinit.out).toBe(0);
      expect((await members())!.find((m) => m.name === replica)?.state).toBe("streaming");
      const refused = await ctl(stand, "reinit", leader);
      expect(refused.code).toBe(2);
      expect(refused.out).toContain("only a replica can be rebuilt");
    });
  });
}
