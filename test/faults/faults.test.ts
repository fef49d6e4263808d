// npm run faults: every fault of test/faults/scenarios.ts on its own stand,
// with a client writing through HAProxy 5000 and a prober asking every node
// whether it is a writable primary the whole time; first with asynchronous
// replication (the default), then the faults that move the leader again with
// synchronous_mode on (a day-2 change of the same stand), then the unplanned
// failovers again with shorter DCS timings. Each fault must
// keep the invariants (expectFaultInvariants); the figures go to
// bench/results/faults-<date>.{json,md}.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as os from "os";
import { Stand } from "../helpers/stand";
import { patroniCluster } from "../harness/clusterState";
import { runFault, standTargets } from "../harness/scenario";
import { expectFaultInvariants, FAULTS, FaultRow, writeFaultReport } from "./scenarios";

const STACK = "faults";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "faults-stand-passphrase" });
const rows: FaultRow[] = [];

beforeAll(async () => {
  await stand.select();
  const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
  if (leftover.code !== 0)
    throw new Error(`could not destroy a leftover faults stand:\n${leftover.stdout}${leftover.stderr}`);
  await stand.up("pulumi up (fresh machines to healthy cluster)");
});

afterAll(async () => {
  if (rows.length > 0) {
    const file = writeFaultReport(rows, {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      dcs: "ttl 30, loop_wait 10, retry_timeout 10 unless the profile says otherwise",
      command: "npm run faults",
    });
    console.log(`[faults] report: ${file}`);
  }
  await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
});

/** checkAlerts: the faults' alerts are checked once, in the first profile (they do not depend on the replication mode). */
function suite(profile: string, names: string[], checkAlerts = false) {
  describe(`faults, ${profile}`, () => {
    for (const name of names) {
      const fault = FAULTS[name];
      it(`${name}: ${fault.what}`, async () => {
        const report = await runFault(stand, STACK, fault, { checkAlerts });
        rows.push({ ...report, profile, what: fault.what });
        expectFaultInvariants(fault, report);
      });
    }
  });
}

suite("asynchronous replication", Object.keys(FAULTS), true);

describe("synchronous_mode on, as a day-2 change", () => {
  it("pulumi up applies it live", async () => {
    stand.editConfig((c) => {
      c["pulumi-patroni:cluster"].dcs.synchronousMode = true;
    });
    await stand.up("synchronousMode: true");
    // In force when the up ends: Patroni has named a synchronous standby.
    const members = await patroniCluster(standTargets(stand, STACK).whole.restUrls);
    expect(members?.filter((m) => m.role === "sync_standby").length).toBe(1);
  });
});

suite("synchronous_mode", ["switchover-ctl", "kill9-postgres-leader", "power-loss-leader", "link-down-leader"]);

describe("shorter DCS timings (ttl 20, loop_wait 5, retry_timeout 5), synchronous_mode still on", () => {
  it("pulumi up applies them live", async () => {
    stand.editConfig((c) => {
      Object.assign(c["pulumi-patroni:cluster"].dcs, { ttl: 20, loopWait: 5, retryTimeout: 5 });
    });
    await stand.up("ttl 20, loop_wait 5, retry_timeout 5");
  });
});

suite("synchronous_mode, ttl 20 / loop_wait 5 / retry_timeout 5", ["power-loss-leader", "link-down-leader"]);
