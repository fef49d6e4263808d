// The alert rules as Prometheus loads them: promtool checks the rendered file
// and runs its unit tests (pg-cluster.rules.test.yml: every alert fires in one
// case and stays quiet in another), on the controller's promtool
// (scripts/prepare.sh installs Debian's prometheus for it).
import { describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { alertRules, renderAlertRules, renderAlertTable } from "./alertRules";
import { thresholdsSchema } from "./slice";

const ctx = { stack: "test" };
const TEST_FILE = path.join(__dirname, "pg-cluster.rules.test.yml");
const defaults = { thresholds: thresholdsSchema.parse({}), forSeconds: 60 };

function promtool(args: string[], cwd: string) {
  const r = childProcess.spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 300_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (scripts/prepare.sh installs Debian's prometheus)`);
  return { code: r.status, out: r.stdout + r.stderr };
}

/** The rules rendered into a fresh directory next to a copy of the unit tests; the directory. */
function rendered(options = defaults, synchronousMode = true): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-cluster-rules-"));
  fs.writeFileSync(
    path.join(dir, "pg-cluster.rules.yml"),
    renderAlertRules(ctx, alertRules(options), { synchronousMode }),
  );
  fs.copyFileSync(TEST_FILE, path.join(dir, "pg-cluster.rules.test.yml"));
  return dir;
}

interface RuleTest {
  alertname: string;
  exp_alerts: unknown[];
}

describe("alert rules", () => {
  it("promtool check rules and promtool test rules pass with the default thresholds", () => {
    const dir = rendered();
    try {
      const check = promtool(["check", "rules", "pg-cluster.rules.yml"], dir);
      expect(check.out).toContain(`SUCCESS: ${alertRules(defaults).length} rules found`);
      const test = promtool(["test", "rules", "pg-cluster.rules.test.yml"], dir);
      expect(test.code, test.out).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("every alert has a case where it fires and one where it does not", () => {
    const doc = yaml.load(fs.readFileSync(TEST_FILE, "utf8")) as { tests: { alert_rule_test: RuleTest[] }[] };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test);
    for (const rule of alertRules(defaults)) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} fires`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} stays quiet`,
      ).toBe(true);
    }
  });

  it("the unit tests bite: other thresholds and durations fail them", () => {
    const dir = rendered({
      thresholds: { ...defaults.thresholds, replicationLagBytes: 256 * 2 ** 20, certificateExpiryDays: 7 },
      forSeconds: 180,
    });
    try {
      const test = promtool(["test", "rules", "pg-cluster.rules.test.yml"], dir);
      expect(test.code).not.toBe(0);
      for (const alert of ["PatroniReplicationLagBytes", "CertificateExpiresSoon", "PatroniMemberMissing"])
        expect(test.out).toContain(`alertname: ${alert}`);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("carry the configured thresholds and durations", () => {
    const rules = alertRules({
      thresholds: { ...defaults.thresholds, replicationLagBytes: 16 * 2 ** 20, replicationLagSeconds: 10 },
      forSeconds: 20,
    });
    const lag = rules.find((r) => r.alert === "PatroniReplicationLagBytes")!;
    expect(lag.expr).toMatch(/> 16777216$/);
    expect(lag.description).toContain("more than 16 MiB ahead");
    expect(lag.description).toContain("for 20 s");
    const text = renderAlertRules(ctx, rules, { synchronousMode: false });
    const doc = yaml.load(text) as { groups: { rules: { alert: string; for?: string; expr: string }[] }[] };
    const all = doc.groups.flatMap((g) => g.rules);
    expect(all.find((r) => r.alert === "PatroniMemberMissing")!.for).toBe("20s");
    expect(all.find((r) => r.alert === "PostgresReplicationLagSeconds")!.expr).toContain("> 10 and");
    expect(text.startsWith("# Managed by pulumi-patroni")).toBe(true);
  });

  it("the synchronous standby alert exists only with synchronous_mode (it would always fire without)", () => {
    const names = (sync: boolean) =>
      (
        yaml.load(renderAlertRules(ctx, alertRules(defaults), { synchronousMode: sync })) as {
          groups: { rules: { alert: string }[] }[];
        }
      ).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(names(true)).toContain("PatroniSyncStandbyMissing");
    expect(names(false)).not.toContain("PatroniSyncStandbyMissing");
    expect(names(false)).toHaveLength(names(true).length - 1);
  });
});

it("docs/monitoring.md's table of alerts is the rendered one (UPDATE_CONFIG_DOCS=1 to update)", () => {
  const file = path.join(__dirname, "..", "..", "..", "docs", "monitoring.md");
  const current = fs.readFileSync(file, "utf8");
  const begin = "<!-- alert-table:begin (generated from src/roles/monitor/alertRules.ts) -->";
  const end = current.indexOf("<!-- alert-table:end -->");
  expect(current.indexOf(begin), "the markers").toBeGreaterThan(0);
  const wanted =
    current.slice(0, current.indexOf(begin) + begin.length) +
    "\n" +
    renderAlertTable(alertRules(defaults)) +
    "\n" +
    current.slice(end);
  if (process.env.UPDATE_CONFIG_DOCS === "1") fs.writeFileSync(file, wanted);
  else expect(current).toBe(wanted);
});
