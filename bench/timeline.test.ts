import { describe, expect, it } from "vitest";
import { deployPhases, parseStepLog, summarizeTimeline } from "./timeline";

const run = (step: string, start: number, end: number) => ({
  step,
  phase: "create",
  start: 1000 * start,
  end: 1000 * end,
  code: 0,
});

describe("where a deploy goes, from the step log", () => {
  const phases = deployPhases(["pg01", "pg02"]);

  it("puts each step in the first phase that names it, with the span from its first start to its last end", () => {
    const summary = summarizeTimeline(
      [
        run("local machine pg01 (10.0.0.11)", 1, 3),
        run("pg01: reachable over SSH", 3, 4),
        run("pg01: install etcd's packages", 5, 8),
        run("pg02: install packages", 8, 30),
        run("haproxy01: install packages", 30, 33),
        run("pg01: write /etc/default/etcd", 8, 9),
        run("pg01: run etcd", 9, 10),
        run("pg01: write /etc/patroni/config.yml", 30, 31),
        run("pg01: run patroni", 31, 32),
        run("pg01: wait for a running Patroni leader", 32, 35),
        run("haproxy01: run haproxy", 40, 41),
      ],
      phases,
      0,
      45_000,
    );
    const byName = Object.fromEntries(summary.phases.map((p) => [p.name, p]));
    expect(byName["packages, database hosts"]).toMatchObject({ steps: 2, from: 5, to: 30 });
    // haproxy01's packages are not a database host's, and not "HAProxy" either.
    expect(byName["packages, other hosts"]).toMatchObject({ steps: 1, from: 30, to: 33 });
    expect(byName["etcd started, healthy"]).toMatchObject({ steps: 2, from: 8, to: 10 });
    expect(byName["Patroni files"]).toMatchObject({ steps: 1, from: 30, to: 31 });
    expect(byName["first member bootstraps and leads"]).toMatchObject({ steps: 2, from: 31, to: 35 });
    expect(byName["HAProxy"]).toMatchObject({ steps: 1, from: 40, to: 41 });
    expect(byName["machines (create, boot, SSH)"]).toMatchObject({ steps: 2, from: 1, to: 4 });
    // No step ran in 0-1, 4-5, 35-40 and 41-45.
    expect(summary.idle).toBeCloseTo(1 + 1 + 5 + 4, 5);
    expect(summary.total).toBe(45);
  });

  it("reads the log ShellCommand writes, one JSON object a line", () => {
    const text = `${JSON.stringify(run("pg01: run etcd", 1, 2))}\n\n${JSON.stringify(run("pg02: run etcd", 2, 3))}\n`;
    expect(parseStepLog(text).map((r) => r.step)).toEqual(["pg01: run etcd", "pg02: run etcd"]);
  });
});
