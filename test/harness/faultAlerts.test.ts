// The alerts the fault suite asserts, against the faults stand's monitor
// settings (Pulumi.faults.yaml): each names a rule the monitor renders, the
// member the fault hit, and bounds that keep the wait for "resolved" under a
// minute per scenario.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { FAULTS } from "../faults/scenarios";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";
import { parseStackConfig } from "../../src/stack/stackConfig";
import { alertRules } from "../../src/roles/monitor/alertRules";
import { FaultContext } from "./scenario";

const config = () => {
  const doc = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.faults.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  const values = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^pulumi-patroni:/, ""), v]));
  return parseStackConfig(values, () => true, "faults");
};

describe("the fault suite's alerts on the faults stand", () => {
  const c = config();
  const hosts = (role: string) =>
    c.hosts.filter((h) => (h.roles as readonly string[]).includes(role)).map((h) => h.name);
  const ctx: FaultContext = {
    stand: { hostsWith: hosts } as unknown as Stand,
    leader: "pg01",
    replicas: ["pg02", "pg03"],
  };
  const withAlerts = Object.values(FAULTS).filter((f) => f.alerts);

  it("the stand has a monitor host with short timings and the local receiver", () => {
    expect(hosts("monitor")).toEqual(["client01"]);
    expect(c.monitor).toMatchObject({ scrapeIntervalSeconds: 5, alertForSeconds: 20 });
    expect(c.monitor.alertmanager.localReceiver).toBe(true);
  });

  it("the faults the issue lists state their alerts, each a rule the monitor renders, about the member hit", () => {
    expect(withAlerts.map((f) => f.name).sort()).toEqual([
      "archive-failing-repository",
      "etcd-stop-member",
      "power-loss-leader",
      "power-loss-replica",
      "replication-lag-replica",
    ]);
    const rules = new Set(
      alertRules({ thresholds: c.monitor.thresholds, forSeconds: c.monitor.alertForSeconds }).map((r) => r.alert),
    );
    for (const f of withAlerts)
      for (const a of f.alerts!(ctx, c.monitor)) {
        expect(rules, `${f.name}: ${a.labels.alertname}`).toContain(a.labels.alertname);
        expect(a.labels.member, `${f.name}: ${a.labels.alertname}'s member`).toBe(
          ["power-loss-leader", "archive-failing-repository"].includes(f.name) ? "pg01" : "pg02",
        );
      }
  });

  it("waiting for resolved stays under a minute per scenario, firing under the fault's hold plus a minute", () => {
    for (const f of withAlerts.filter((f) => f.name !== "archive-failing-repository"))
      for (const a of f.alerts!(ctx, c.monitor)) {
        expect(a.resolvesWithinMs, `${f.name}: ${a.labels.alertname}`).toBeLessThanOrEqual(60_000);
        expect(a.firesWithinMs, `${f.name}: ${a.labels.alertname}`).toBeLessThanOrEqual(f.holdMs + 60_000);
      }
  });

  it("the archive's fault: a repository host, bounds from the rule's own for (5 minutes) and the archiver's retry", () => {
    expect(hosts("backup")).toEqual(["backup01"]);
    const [a] = FAULTS["archive-failing-repository"].alerts!(ctx, c.monitor);
    // 70 (archive-push's timeout) + 5 (scrape) + 5 (timeout) + 300 (for) + 5 (evaluation) + 5 (groupWait) + 15 (margin).
    expect(a.firesWithinMs).toBe(405_000);
    // 70 (the archiver's retry) + 10 (scrape, evaluation) + 5 (timeout) + 10 (groupInterval) + 15 (margin).
    expect(a.resolvesWithinMs).toBe(110_000);
    expect(a.why).toContain("300 (for)");
  });
});
