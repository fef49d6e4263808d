// Runs the pinned Pulumi CLI (scripts/pulumi.sh) for tests, with output
// captured and a clear error (command, exit code, tail of output) on failure.
import * as childProcess from "child_process";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function pulumi(args: string[], opts: { cwd?: string; env?: Record<string, string>; allowFailure?: boolean; timeoutMs?: number } = {}): CliResult {
  const result = childProcess.spawnSync(path.join(REPO, "scripts", "pulumi.sh"), args, {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 30 * 60 * 1000,
  });
  const out: CliResult = { code: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
  if (out.code !== 0 && !opts.allowFailure) {
    const tail = (out.stdout + out.stderr).split("\n").slice(-60).join("\n");
    throw new Error(`pulumi ${args.join(" ")} exited ${out.code}:\n${tail}`);
  }
  return out;
}
