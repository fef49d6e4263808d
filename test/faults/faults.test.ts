// The fault suite: the faults of test/faults/scenarios.ts on their own stand,
// with a client writing through HAProxy 5000 and a prober asking every node
// whether it is a writable primary the whole time; first with asynchronous
// replication (the default), then the faults that move the leader again with
// synchronous_mode on (a day-2 change of the same stand), then the unplanned
// failovers again with shorter DCS timings. Each fault must
// keep the invariants (expectFaultInvariants); the figures, with each
// scenario's outcome, go to bench/results/faults-<date>T<time>.{json,md}.
// `npm run faults` runs every scenario; npm test a representative few
// (PULUMI_PATRONI_FAULTS=quick, set by scripts/test.sh).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as os from "os";
import { Stand } from "../helpers/stand";
import { patroniCluster } from "../harness/clusterState";
import { httpRequest } from "../harness/https";
import { runFault, standTargets } from "../harness/scenario";
import {
  DcsTimings,
  DEFAULT_DCS,
  expectFaultInvariants,
  failedRow,
  FAULTS,
  FaultCase,
  FaultRow,
  powerLossVariant,
  writeFaultReport,
} from "./scenarios";

const QUICK = process.env.PULUMI_PATRONI_FAULTS === "quick";
/** The few npm test runs: a planned switchover, a process killed, a freeze past ttl, the leader's power lost. */
const pick = (all: string[], quick: string[]) => (QUICK ? all.filter((n) => quick.includes(n)) : all);

// Another stack (PULUMI_PATRONI_FAULTS_STACK) lets a second copy of the suite run on its own subnet.
const STACK = process.env.PULUMI_PATRONI_FAULTS_STACK ?? "faults";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "faults-stand-passphrase" });
const cluster = () => stand.parsedConfig().cluster.name;
const rows: FaultRow[] = [];
/** PULUMI_PATRONI_FAULTS_KEEP=1: bring the stand up from where it is and leave it up (while developing); else fresh, destroyed after. */
const KEEP = process.env.PULUMI_PATRONI_FAULTS_KEEP === "1";
/** The stand's own DCS settings when the suite began: the bounds follow the suite's profiles, not these (a slowed stand must fail). */
let standDcs = "";

beforeAll(async () => {
  await stand.select();
  const d = stand.parsedConfig().cluster.dcs;
  standDcs = `ttl ${d.ttl}, loop_wait ${d.loopWait}, retry_timeout ${d.retryTimeout}, synchronous_mode ${d.synchronousMode ? "on" : "off"}`;
  // npm test's few run without the monitor host (about 4 minutes of its
  // budget: its deploy, and the holds until alerts fire) and without the
  // repository host (its deploy and first full backup; only the archive's
  // fault needs it); npm run faults asserts every fault's alerts.
  if (QUICK)
    stand.editConfig((c) => {
      delete c["pulumi-patroni:monitor"];
      delete c["pulumi-patroni:backup"];
      const stripped = ["monitor", "backup"];
      for (const h of c["pulumi-patroni:hosts"]) h.roles = h.roles.filter((r: string) => !stripped.includes(r));
      c["pulumi-patroni:hosts"] = c["pulumi-patroni:hosts"].filter((h: { roles: string[] }) => h.roles.length > 0);
    });
  if (!KEEP) {
    const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
    if (leftover.code !== 0)
      throw new Error(`could not destroy a leftover faults stand:\n${leftover.stdout}${leftover.stderr}`);
  }
  await stand.up(KEEP ? "pulumi up (the stand as it is)" : "pulumi up (fresh machines to healthy cluster)");
});

afterAll(async () => {
  if (rows.length > 0) {
    const commit = childProcess.execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const file = writeFaultReport(
      rows,
      {
        date: new Date().toISOString(),
        commit,
        machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg()[0].toFixed(1)}`,
        dcs: "ttl 30, loop_wait 10, retry_timeout 10 unless the profile says otherwise",
        "stand's dcs at the start": standDcs,
        command: QUICK ? "npm test (its quick subset of the faults)" : "npm run faults",
        passed: `${rows.filter((r) => r.outcome === "passed").length} of ${rows.length}`,
      },
      QUICK ? "quick" : "",
    );
    console.log(`[faults] report: ${file}`);
  }
  if (!KEEP) await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
});

function suite(profile: string, faults: (string | FaultCase)[], timings: DcsTimings = DEFAULT_DCS) {
  describe(`faults, ${profile}`, () => {
    for (const [i, f] of faults.entries()) {
      const fault = typeof f === "string" ? FAULTS[f] : f;
      const name = typeof f === "string" ? f : `${f.name} (${i + 1} of ${faults.length})`;
      const boundMs = fault.pauseBound(timings);
      it(`${name}: ${fault.what}`, async () => {
        let report;
        try {
          report = await runFault(stand, cluster(), fault);
        } catch (e) {
          rows.push(failedRow(name, profile, fault.what, boundMs, e));
          throw e;
        }
        try {
          expectFaultInvariants(fault, report, timings);
          await fault.verify?.({ stand, leader: report.leaderBefore, replicas: [] }, report);
        } catch (e) {
          rows.push({
            ...report,
            profile,
            what: fault.what,
            boundMs,
            outcome: `failed: ${String((e as Error).message).split("\n")[0]}`,
          });
          throw e;
        }
        rows.push({ ...report, profile, what: fault.what, boundMs, outcome: "passed" });
      });
    }
  });
}

suite(
  "asynchronous replication",
  pick(
    Object.keys(FAULTS).filter((n) => !FAULTS[n].synchronousOnly),
    ["switchover-ctl", "kill9-patroni-leader", "sigstop-patroni-leader", "power-loss-leader-lagging"],
  ),
);

// Ten leader power losses in a row, both ways and with both clients: every
// one within the bound (the whole suite only).
if (!QUICK)
  suite(
    "ten leader power losses",
    Array.from({ length: 10 }, (_, i) =>
      powerLossVariant(i % 2 ? "crash" : "unplug", i % 4 < 2 ? "persistent" : "per-write"),
    ),
  );

describe("synchronous_mode on, as a day-2 change", () => {
  it("pulumi up applies it live", async () => {
    stand.editConfig((c) => {
      c["pulumi-patroni:cluster"].dcs.synchronousMode = true;
    });
    await stand.up("synchronousMode: true");
    // In force when the up ends: Patroni has named a synchronous standby.
    const members = await patroniCluster(
      standTargets(stand, cluster()).whole.restUrls,
      standTargets(stand, cluster()).whole.tls,
    );
    expect(members?.filter((m) => m.role === "sync_standby").length).toBe(1);
  });
});

const SYNC_DCS: DcsTimings = { ...DEFAULT_DCS, synchronousMode: true };
suite(
  "synchronous_mode",
  pick(
    [
      "switchover-ctl",
      "kill9-postgres-leader",
      "sigstop-patroni-leader",
      "power-loss-leader",
      "power-loss-leader-lagging",
      "power-loss-sync-standby",
      "link-down-leader",
    ],
    ["power-loss-leader-lagging"],
  ),
  SYNC_DCS,
);

// The fast profile only in the whole suite (not registered at all in the quick subset).
if (!QUICK)
  describe("shorter DCS timings (ttl 20, loop_wait 5, retry_timeout 5), synchronous_mode still on", () => {
    it("pulumi up applies them live", async () => {
      stand.editConfig((c) => {
        Object.assign(c["pulumi-patroni:cluster"].dcs, { ttl: 20, loopWait: 5, retryTimeout: 5 });
      });
      await stand.up("ttl 20, loop_wait 5, retry_timeout 5");
    });
  });

if (!QUICK)
  suite(
    "synchronous_mode, ttl 20 / loop_wait 5 / retry_timeout 5",
    pick(["power-loss-leader", "link-down-leader"], []),
    { ...SYNC_DCS, ttl: 20, loopWait: 5, retryTimeout: 5 },
  );

// Off again at the end: a field set back to false must be applied too
// (apply-dynamic-config.sh once skipped keys whose value is false).
describe("synchronous_mode off again, as a day-2 change", () => {
  it("pulumi up applies it live: Patroni's configuration says off, no synchronous standby within two loops", async () => {
    stand.editConfig((c) => {
      c["pulumi-patroni:cluster"].dcs.synchronousMode = false;
    });
    await stand.up("synchronousMode: false");
    const t = standTargets(stand, cluster());
    const config = JSON.parse((await httpRequest(`${t.whole.restUrls[0]}/config`, { tls: t.whole.tls })).text) as {
      synchronous_mode?: boolean;
    };
    expect(config.synchronous_mode ?? false, "synchronous_mode in Patroni's dynamic configuration").toBe(false);
    const deadline = Date.now() + 2 * DEFAULT_DCS.loopWait * 1000;
    let members = await patroniCluster(t.whole.restUrls, t.whole.tls);
    while (members?.some((m) => m.role === "sync_standby") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      members = await patroniCluster(t.whole.restUrls, t.whole.tls);
    }
    expect(members?.filter((m) => m.role === "sync_standby").map((m) => m.name)).toEqual([]);
  });
});
