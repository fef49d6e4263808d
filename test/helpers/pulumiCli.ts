// Runs the pinned Pulumi CLI for tests, with output captured and a clear
// error (command, exit code, tail of output) on failure. In the repository it
// goes through scripts/pulumi.sh; elsewhere (a scratch copy of the project or
// a fixture program) it runs the toolchain's binary with the same settings.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let toolchainBin: string | undefined;
function pulumiBinary(): string {
  toolchainBin ??= childProcess.execFileSync(path.join(REPO, "scripts", "toolchain.sh"), { encoding: "utf8" }).trim();
  return path.join(toolchainBin, "pulumi");
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  allowFailure?: boolean;
  timeoutMs?: number;
  input?: string;
}

/**
 * Runs the CLI without blocking the event loop: a synchronous `pulumi up` of
 * several minutes starves vitest's worker RPC ("Timeout calling onTaskUpdate").
 */
export function pulumi(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const cwd = opts.cwd ?? REPO;
  const [command, env] =
    cwd === REPO
      ? [path.join(REPO, "scripts", "pulumi.sh"), {}]
      : [
          pulumiBinary(),
          {
            PULUMI_HOME: path.join(REPO, ".pulumi-home"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            PATH: `${path.dirname(pulumiBinary())}:${process.env.PATH}`,
          },
        ];
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(command, args, {
      cwd,
      env: { ...process.env, ...env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGINT"), opts.timeoutMs ?? 30 * 60 * 1000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const out: CliResult = { code: code ?? -1, stdout, stderr };
      if (out.code !== 0 && !opts.allowFailure) {
        // The diagnostics come before the outputs: show them, then the tail.
        const lines = (stdout + stderr).split("\n");
        const errors = lines
          .filter((l) => /error|failed/i.test(l))
          .slice(0, 40)
          .join("\n");
        const tail = lines.slice(-30).join("\n");
        reject(new Error(`pulumi ${args.join(" ")} exited ${out.code}:\n${errors}\n--- tail ---\n${tail}`));
      } else resolve(out);
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A scratch copy of the project (symlinks to its code) where stack files can be written freely. */
export function scratchProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-project-"));
  for (const entry of ["Pulumi.yaml", "package.json", "tsconfig.json", "node_modules", "src", "scripts"]) {
    fs.symlinkSync(path.join(REPO, entry), path.join(dir, entry));
  }
  return dir;
}
