// npm run ctl as a DBA runs it, against a test stand.
import * as childProcess from "child_process";
import { REPO } from "../helpers/pulumiCli";
import { Stand } from "../helpers/stand";

/** npm run ctl against the stand, as a DBA runs it. */
export function ctl(stand: Stand, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    childProcess.execFile(
      "npm",
      ["run", "--silent", "ctl", "--", "--stack", stand.stack, ...args],
      { cwd: REPO, env: { ...process.env, ...stand.env }, encoding: "utf8", timeout: 300_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}
