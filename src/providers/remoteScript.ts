// A bash script run on a host over SSH (or on the controller), bounded on
// both ends: the host stops it at the deadline (timeout) and the controller
// kills ssh 15 s later. Retries only while ssh itself fails (exit 255: the
// host is not reachable yet). Every run can be logged for the benchmarks.
import * as fs from "fs";
import { redactSecrets } from "./redaction";
import { RunResult, projectDirectory, spawnOnce } from "./spawn";
import { SshConnection, sshMultiplexing, sshOptions, sshTarget, withSshFiles } from "./ssh";
import { shellQuote } from "../render/shellQuote";

export type { RunResult };

/** Where and how a script runs. */
export interface ScriptTarget {
  /** What the step does, for messages: "pg01: install packages". */
  readonly description: string;
  /** Absent: on the controller, in the project directory. */
  readonly connection?: SshConnection;
  /** Wall-clock bound of one run (default 600 s). */
  readonly timeoutSeconds?: number;
  /** The secrets the script receives: masked, exactly, in any output shown. */
  readonly mask?: readonly string[];
}

/** A step that runs longer fails with its last output (override per step with timeoutSeconds). */
export const DEFAULT_TIMEOUT_SECONDS = 600;

/**
 * With PULUMI_PATRONI_STEP_LOG set (the benchmarks set it), each run of a
 * script appends a JSON line to that file: the step's description (never
 * secret), which script, start and end (ms since the epoch) and exit code.
 */
function logStep(t: ScriptTarget, phase: string, start: number, code: number): void {
  const file = process.env.PULUMI_PATRONI_STEP_LOG;
  if (!file) return;
  fs.appendFileSync(file, JSON.stringify({ step: t.description, phase, start, end: Date.now(), code }) + "\n", {
    mode: 0o600,
  });
}

export async function runScript(
  t: ScriptTarget,
  script: string,
  stdin: string | undefined,
  attempts: number,
  phase = "script",
): Promise<RunResult> {
  const start = Date.now();
  const result = await runScriptOnce(t, script, stdin, attempts);
  logStep(t, phase, start, result.code);
  return result;
}

async function runScriptOnce(
  t: ScriptTarget,
  script: string,
  stdin: string | undefined,
  attempts: number,
): Promise<RunResult> {
  const body = `set -euo pipefail\n${script}`;
  const timeout = t.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const c = t.connection;
  if (!c) return spawnOnce(["bash", "-c", body], stdin, timeout, projectDirectory());
  return withSshFiles(c, async ({ keyFile, knownHostsFile }) => {
    const user = c.user ?? "root";
    // The host stops the script at the deadline too (the controller gives it 15 s more to say so).
    const remote = `${user === "root" ? "" : "sudo -n "}timeout --kill-after=5 ${timeout} bash -c ${shellQuote(body)}`;
    const argv = [
      "ssh",
      ...sshOptions({ keyFile, port: c.port ?? 22, knownHostsFile }),
      ...["-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=6"],
      ...sshMultiplexing(c),
      `${user}@${c.host}`,
      remote,
    ];
    let result: RunResult = { code: 255, output: "", stdout: "" };
    for (let i = 0; i < Math.max(1, attempts); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 3000));
      result = await spawnOnce(argv, stdin, timeout + 15);
      if (result.code !== 255) break; // 255: ssh itself failed (host not reachable yet)
    }
    return result;
  });
}

/** Throws the script's failure with the tail of its output, every secret it received masked. */
export function failWith(t: ScriptTarget, phase: string, r: RunResult): never {
  const tail = redactSecrets(r.output.split("\n").slice(-40).join("\n"), t.mask);
  throw new Error(
    `${t.description}: ${phase} script failed on ${sshTarget(t.connection)} with exit code ${r.code}.\n--- last output ---\n${tail}`,
  );
}
