// Running a program from a provider: bounded by a wall-clock timeout (the
// whole process group is killed), output kept (the tail of it), stdin fed.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";

export type RunResult = { code: number; output: string; stdout: string };

/** Runs argv; after `timeoutSeconds` it is killed and the result is exit code 124 with the output so far. */
export function spawnOnce(
  argv: string[],
  stdin: string | undefined,
  timeoutSeconds: number,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = childProcess.spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], cwd, detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // The whole process group: bash and whatever it started.
      const kill = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          /* already gone */
        }
      };
      kill("SIGTERM");
      setTimeout(() => kill("SIGKILL"), 5000).unref();
    }, timeoutSeconds * 1000);
    let output = "";
    let stdout = "";
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      keep(chunk);
      if (stdout.length < 64 * 1024) stdout += chunk.toString();
    });
    child.stderr.on("data", keep);
    child.on("error", (e: Error) => {
      clearTimeout(timer);
      resolve({ code: 127, output: output + String(e), stdout });
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, output: `${output}\n[timed out after ${timeoutSeconds} s]`, stdout });
      else resolve({ code: code ?? 128, output, stdout });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin ?? "");
  });
}

/**
 * The project directory (where Pulumi.yaml is): controller-side scripts run
 * there, so their commands name scripts relative to it. Pulumi starts the
 * provider in the program's directory (src/), below it.
 */
export function projectDirectory(from = process.cwd()): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}
