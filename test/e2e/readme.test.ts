// The README as a new user reads it: its first command brings up the local
// stack, then every command of the README's block of things to try, and
// every hint the stand printed, runs verbatim and must work. Editing the
// README changes what this test runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../helpers/pulumiCli";
import { extractStandHints, extractTryCommands, runProblem } from "../helpers/readmeCommands";

function sh(command: string, timeoutMs = 15 * 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // Not a TTY, like CI: the interactive bits of the commands must not be needed.
    const child = childProcess.spawn("bash", ["-c", command], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Whether the local stack already had a stand (then it is left up afterwards). */
let standExisted = false;
let standOutput = "";

beforeAll(async () => {
  const exported = await sh("scripts/pulumi.sh stack export --stack local 2>/dev/null");
  standExisted = exported.code === 0 && (JSON.parse(exported.output || "{}").deployment?.resources ?? []).length > 1;
  const r = await sh("scripts/stand-up.sh");
  standOutput = r.output;
  expect(r.code, r.output.slice(-4000)).toBe(0);
});

afterAll(async () => {
  if (!standExisted) await sh("npm run pulumi -- destroy --stack local --yes --skip-preview");
});

describe("the README's commands, verbatim, against the local stand", () => {
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");

  it.each(extractTryCommands(readme))("%s", async (command) => {
    const r = await sh(command);
    expect(runProblem(r.code, r.output), `${command}\n${r.output.slice(-3000)}`).toBeUndefined();
  });

  it("the hints the stand printed work too", async () => {
    const hints = extractStandHints(standOutput);
    expect(hints.length).toBeGreaterThanOrEqual(4);
    for (const hint of hints) {
      const r = await sh(hint);
      expect(runProblem(r.code, r.output), `${hint}\n${r.output.slice(-3000)}`).toBeUndefined();
    }
    // On the VIP of stacks/local.yaml, in front of haproxy01 and haproxy02.
    expect(standOutput).toMatch(/HAProxy's stats page is https:\/\/10\.213\.0\.30:7000\/ \(user admin/);
  });

  it("the first command answers as the README promises: the primary is not in recovery", async () => {
    const r = await sh(extractTryCommands(readme)[0]);
    expect(r.output).toMatch(/^\s*f\s*$/m);
  });
});
