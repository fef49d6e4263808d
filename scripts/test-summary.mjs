// The last lines of `npm test`: what failed, each with the start of its
// error (CI keeps only the output's tail, so a failure from an early project
// must be named here), then "N passed, N failed" over the vitest JSON
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

/** @param {{ project?: string, report?: any }[]} runs @returns {string[]} a line or a few per failure */
export function failures(runs) {
  const lines = [];
  // The first lines say what failed; a message carrying a command's output has its cause at the end.
  const head = (text) => {
    const all = String(text ?? "")
      .split("\n")
      .filter((l) => l.trim());
    const kept = all.length > 10 ? [...all.slice(0, 3), "...", ...all.slice(-6)] : all;
    return kept.map((l) => `    ${l.slice(0, 300)}`);
  };
  for (const { project = "?", report = {} } of runs) {
    for (const file of report.testResults || []) {
      const failedTests = (file.assertionResults || []).filter((a) => a.status === "failed");
      if (file.status === "failed" && failedTests.length === 0)
        lines.push(`FAILED ${project} ${file.name} (outside its tests):`, ...head(file.message));
      for (const t of failedTests)
        lines.push(`FAILED ${project} ${file.name} > ${t.fullName}:`, ...head((t.failureMessages || [])[0]));
    }
  }
  return lines;
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
      return { project, code: Number(fs.readFileSync(`${dir}/${f}`, "utf8")), report };
    });
  for (const line of failures(runs)) console.log(line);
  const { passed, failed } = summarize(runs);
  console.log(`${passed} passed, ${failed} failed`);
}
