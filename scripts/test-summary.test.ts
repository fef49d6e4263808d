// npm test's last line must count a suite that failed outside its tests.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without type declarations
import { failures, summarize } from "./test-summary.mjs";

describe("the N passed, N failed line", () => {
  it("adds failed tests across projects", () => {
    expect(
      summarize([
        { code: 0, report: { numPassedTests: 10 } },
        { code: 1, report: { numPassedTests: 3, numFailedTests: 2 } },
      ]),
    ).toEqual({
      passed: 13,
      failed: 2,
    });
  });

  it("counts a file whose setup failed (no test of its own failed)", () => {
    const report = {
      numPassedTests: 0,
      numFailedTests: 0,
      testResults: [{ status: "failed", assertionResults: [{ status: "skipped" }] }],
    };
    expect(summarize([{ code: 1, report }])).toEqual({ passed: 0, failed: 1 });
  });

  it("counts a run that failed without any report", () => {
    expect(summarize([{ code: 1 }])).toEqual({ passed: 0, failed: 1 });
  });

  it("names each failure with the start of its error, a setup failure included", () => {
    const report = {
      testResults: [
        { name: "/r/test/e2e/a.test.ts", status: "failed", message: "Hook timed out\n\nat x", assertionResults: [] },
        {
          name: "/r/test/e2e/b.test.ts",
          status: "failed",
          assertionResults: [
            { status: "passed", fullName: "ok" },
            { status: "failed", fullName: "d > broke", failureMessages: ["AssertionError: 1 != 2\nat y"] },
          ],
        },
      ],
    };
    expect(failures([{ project: "e2e", report }])).toEqual([
      "FAILED e2e /r/test/e2e/a.test.ts (outside its tests):",
      "    Hook timed out",
      "    at x",
      "FAILED e2e /r/test/e2e/b.test.ts > d > broke:",
      "    AssertionError: 1 != 2",
      "    at y",
    ]);
  });
});
