// The last line of `npm test`: "N passed, N failed" over the vitest JSON
// reports of each project. A test file whose setup failed has no failed test
// of its own, and a run can fail with no report at all: both count as
// failures, so a broken suite never prints "0 failed".
//   node scripts/test-summary.mjs DIR   (DIR holds PROJECT.json and PROJECT.code)
import * as fs from "fs";
import process from "process";
import console from "console";

/** @param {{ code: number, report?: any }[]} runs */
export function summarize(runs) {
  let passed = 0;
  let failed = 0;
  for (const { code, report = {} } of runs) {
    const testsFailed = (report.numFailedTests || 0) + (report.numRuntimeErrorTests || 0);
    const suitesFailed = (report.testResults || []).filter(
      (f) => f.status === "failed" && !(f.assertionResults || []).some((a) => a.status === "failed"),
    ).length;
    passed += report.numPassedTests || 0;
    failed += testsFailed + suitesFailed + (code !== 0 && testsFailed + suitesFailed === 0 ? 1 : 0);
  }
  return { passed, failed };
}

if (process.argv[1]?.endsWith("test-summary.mjs")) {
  const dir = process.argv[2];
  const runs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".code"))
    .map((f) => {
      const project = f.slice(0, -".code".length);
      let report;
      try {
        report = JSON.parse(fs.readFileSync(`${dir}/${project}.json`, "utf8"));
      } catch {
        report = undefined;
      }
      return { code: Number(fs.readFileSync(`${dir}/${f}`, "utf8")), report };
    });
  const { passed, failed } = summarize(runs);
  console.log(`${passed} passed, ${failed} failed`);
}
