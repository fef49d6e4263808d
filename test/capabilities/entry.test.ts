// npm run test:capabilities (test/capabilities/entry.test.ts): the entry
// without a single point of failure, on its own stand (Pulumi.entry.yaml:
// two HAProxy hosts behind a keepalived VIP, two PostgreSQL nodes). A
// leftover stand is destroyed first; this run's is destroyed at the end.
//   1. the VIP faults, a client writing through the VIP the whole time
//      (test/faults/scenarios.ts VIP_FAULTS): the holder's power loss, its
//      keepalived stopped, its link cut, the HAProxy hosts partitioned;
//   2. planned switchovers through `npm run ctl` with a client writing
//      through the VIP: the median pause under 2 s, and where it goes
//      (bench/results/entry-switchover-<date>.md);
//   3. every haproxy.vip field applied by `pulumi up`, a third HAProxy host
//      added and removed, the VIP moved, then removed (clients then list
//      every HAProxy host and survive one's power loss by themselves).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stand } from "../helpers/stand";
import { REPO } from "../helpers/pulumiCli";
import { runFault } from "../harness/scenario";
import { measureSwitchover, SwitchoverMeasure, timelineTable } from "../harness/entry";
import { DEFAULT_DCS, expectFaultInvariants, VIP_FAULTS } from "../faults/scenarios";
import { entryTests } from "./entryTests";

const STACK = "entry";
const CLUSTER = "entry";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "entry-stand-passphrase" });

beforeAll(async () => {
  await stand.select();
  const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
  if (leftover.code !== 0)
    throw new Error(`could not destroy a leftover entry stand:\n${leftover.stdout}${leftover.stderr}`);
  await stand.up("pulumi up (fresh machines to healthy cluster)");
});

afterAll(async () => {
  await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
});

describe("the VIP faults, a client writing through the VIP", () => {
  for (const fault of Object.values(VIP_FAULTS)) {
    it(`${fault.name}: ${fault.what}`, async () => {
      const report = await runFault(stand, CLUSTER, fault);
      console.log(
        `[entry] ${fault.name}: writes stopped ${report.writeUnavailableMs} ms, ${report.durability.acknowledged} acknowledged, ${report.lostAcknowledged} lost, leader drops ${report.leaderDrops}`,
      );
      expectFaultInvariants(fault, report, DEFAULT_DCS);
      await fault.verify?.({ stand, leader: report.leaderBefore, replicas: [] }, report);
    });
  }
});

describe("planned switchover through npm run ctl, a client writing through the VIP", () => {
  const runs: SwitchoverMeasure[] = [];

  it("three switchovers: 0 acknowledged writes lost, never two primaries behind the HAProxies, the median pause under 2 s", async () => {
    for (let i = 0; i < 3; i++) {
      const m = await measureSwitchover(stand, CLUSTER);
      runs.push(m);
      console.log(`[entry] switchover ${i + 1} ${m.from} -> ${m.to}: pause ${m.pauseMs} ms, ${m.lost} lost`);
      expect(m.to, "the leader moved").not.toBe(m.from);
      expect(m.lost, "acknowledged writes lost").toBe(0);
      expect(m.dualProxyRounds, "rounds with two primaries behind the HAProxies").toBe(0);
      expect(m.acknowledged).toBeGreaterThan(50);
    }
    const pauses = runs.map((m) => m.pauseMs).sort((a, b) => a - b);
    writeSwitchoverReport(runs);
    // The 2 s. Measured at load 10 to 13 on two shared cores: 2.06, 1.70 and 2.00 s. Patroni's
    // own demote and promote (last write to the new primary ready) took 1.65 to 1.87 s of it (fast
    // shutdown 0.3 to 0.5 s, then its fixed 1 s wait before releasing the leader key, then promotion);
    // HAProxy marked the new primary UP before it was ready, the client wrote 0.05 to 0.19 s after.
    // Little margin is left: at load 15 to 24 the median was 2.07 s (the report shows where it went).
    expect(pauses[1], "median write pause (ms)").toBeLessThan(2000);
    expect(pauses[2], "longest write pause (ms)").toBeLessThan(3500);
  });
});

/** The switchovers' figures and timelines: bench/results/entry-switchover-<date>.md. */
function writeSwitchoverReport(runs: readonly SwitchoverMeasure[]): void {
  const date = new Date().toISOString();
  const file = path.join(REPO, "bench", "results", `entry-switchover-${date.slice(0, 10)}.md`);
  const lines = [
    "# Planned switchover: where the write pause goes",
    "",
    `${date}; ${os.cpus().length} cores shared with other work (load average ${os.loadavg()[0].toFixed(1)}); stand Pulumi.entry.yaml; command: npm run test:capabilities.`,
    "A client writes through the VIP's port 5000 (a new insert every few ms, reconnecting on error) while `npm run ctl -- switchover` runs.",
    "t = 0 is the last write acknowledged before the pause; HAProxy and keepalived events from every HAProxy host, Patroni's",
    "and PostgreSQL's from the old and the new leader (journal times; the machines share the controller's clock).",
    "",
    "| run | from -> to | write pause (s) | acknowledged | lost | two primaries behind HAProxy (rounds) |",
    "|---|---|---:|---:|---:|---:|",
    ...runs.map(
      (m, i) =>
        `| ${i + 1} | ${m.from} -> ${m.to} | ${(m.pauseMs / 1000).toFixed(2)} | ${m.acknowledged} | ${m.lost} | ${m.dualProxyRounds} |`,
    ),
    "",
    ...runs.flatMap((m, i) => [
      `## Switchover ${i + 1}: ${m.from} -> ${m.to}, writes paused ${(m.pauseMs / 1000).toFixed(2)} s`,
      "",
      timelineTable(m.rows),
      "",
    ]),
  ];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join("\n"));
  console.log(`[entry] switchover report: ${file}`);
}

entryTests(stand, CLUSTER);
