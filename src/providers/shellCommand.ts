// ShellCommand: run a bash script on a host over SSH (or on the controller)
// when it is created, when its inputs change, and when it is destroyed.
//
// Why not @pulumi/command: its provider plugin is a Go binary that is neither
// downloadable here nor buildable from the Go module proxy (its `provider`
// module has no published version). This dynamic provider keeps the same
// contract (create/update/delete scripts, triggers, stdin, SSH connection),
// which the compiler checks against @pulumi/command's own input types (a
// type-only import: no plugin is loaded), and runs inside Pulumi's own
// Node.js dynamic-provider plugin.
//
// Secrets: the script text is never secret (it is shown on failure); secret
// data travels on stdin, and the private key goes to a 0600 file in a 0700
// temporary directory that is removed after each run.
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";

/** The fields of @pulumi/command's remote connection we use, resolved. */
type CommandConnection = pulumi.Unwrap<
  Pick<command.types.input.remote.ConnectionArgs, "host" | "port" | "user" | "privateKey" | "hostKey">
>;
/** The fields of @pulumi/command's remote.Command we share. */
type CommandContract = Pick<command.remote.CommandArgs, "create" | "update" | "delete" | "stdin" | "triggers">;

export interface SshConnection extends CommandConnection {
  readonly host: string;
  readonly privateKey: string;
  /** Pinned host key ("ssh-ed25519 AAAA..."); unpinned hosts are not verified. */
  readonly hostKey?: string;
  /**
   * The host is destroyed with the stack (a local machine): cleanup scripts
   * are skipped when it cannot be reached, instead of blocking `destroy`.
   */
  readonly disposable?: boolean;
}

export interface ShellCommandArgs extends CommandContract {
  /** What the step does, for messages: "pg01: install packages". */
  readonly description: pulumi.Input<string>;
  /** Where to run; absent means on the controller. */
  readonly connection?: pulumi.Input<SshConnection>;
  /** Script run on create (and on update when `update` is absent). */
  readonly create: pulumi.Input<string>;
  /** Script run when inputs change; defaults to `create`. */
  readonly update?: pulumi.Input<string>;
  /** Script run on destroy. */
  readonly delete?: pulumi.Input<string>;
  /** Data piped to the script (may be secret, e.g. a rendered config file). */
  readonly stdin?: pulumi.Input<string>;
  /** Any change re-runs the script (update). */
  readonly triggers?: pulumi.Input<unknown[]>;
  /** Script run at diff time; a non-zero exit means the host drifted and `update` must run. */
  readonly check?: pulumi.Input<string>;
  /**
   * Attempts while SSH itself fails (exit 255), 3 s apart. Default 10: a host
   * that just rebooted (or a local machine powered on again) may not answer yet.
   */
  readonly connectAttempts?: pulumi.Input<number>;
  /** Keep the script's stdout as the `stdout` output (never for output that may hold a secret). */
  readonly captureStdout?: boolean;
  /** Wall-clock bound of one run of a script (default 600 s); then it fails with its last output. */
  readonly timeoutSeconds?: number;
  /** The secrets the step receives (on stdin): masked, exactly, in any output shown. */
  readonly mask?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * What a secret stdin holds with its secrets masked (a rendered file), kept
   * in clear so `pulumi preview --diff` shows what will change.
   */
  readonly shown?: pulumi.Input<string>;
}

export interface ShellCommandState {
  description: string;
  connection?: SshConnection;
  create: string;
  update?: string;
  delete?: string;
  stdin?: string;
  triggers?: unknown[];
  check?: string;
  connectAttempts?: number;
  captureStdout?: boolean;
  timeoutSeconds?: number;
  mask?: string[];
}

interface ShellCommandOutputs extends ShellCommandState {
  fingerprint: string;
  stdout?: string;
}

export type RunResult = { code: number; output: string; stdout: string };

const DEFAULT_CONNECT_ATTEMPTS = 10;
/** A step that runs longer fails with its last output (override per step with timeoutSeconds). */
const DEFAULT_TIMEOUT_SECONDS = 600;

// The engine's placeholder for a value not known yet (preview).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function fingerprintOf(s: ShellCommandState): string {
  return crypto
    .createHash("sha256")
    .update(JSON.stringify([s.create, s.update ?? null, s.stdin ?? null, s.triggers ?? null, s.delete ?? null]))
    .digest("hex");
}

function sshTarget(c?: SshConnection): string {
  return c ? `${c.user ?? "root"}@${c.host}:${c.port ?? 22}` : "the controller";
}

// A new host key means a new machine at the same address: every step must run again.
const hostKeyOf = (c?: SshConnection) => c?.hostKey ?? "";

/** The step's scripts, stdin or triggers changed, or its host is a new machine. */
function mustRun(olds: ShellCommandOutputs, news: ShellCommandState): boolean {
  return fingerprintOf(news) !== olds.fingerprint || hostKeyOf(olds.connection) !== hostKeyOf(news.connection);
}

/** How the controller reaches the host (the key compared by hash, never stored in clear here). */
function reachedAs(c?: SshConnection): unknown {
  if (!c || typeof c !== "object") return c ?? null;
  return [c.host, c.port ?? 22, c.user ?? "root", crypto.createHash("sha256").update(String(c.privateKey)).digest("hex")];
}

async function drifted(s: ShellCommandState): Promise<boolean> {
  return (await runScript(s, s.check!, undefined, 1, "check")).code !== 0;
}

/**
 * The error text reaches Pulumi's log, and a validator may echo a rejected
 * line of the file it checked: every secret the step received (`mask`) is
 * masked, as given and in the encodings the files use, longest first.
 */
export function redactSecrets(output: string, secrets: readonly string[] | undefined): string {
  const forms = new Set<string>();
  for (const secret of secrets ?? []) {
    if (!secret) continue;
    for (const form of [
      secret,
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
      secret.replace(/"/g, '""'),
      secret.replace(/([\\:])/g, "\\$1"),
    ])
      forms.add(form);
  }
  let text = output;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) text = text.split(form).join("[secret]");
  return text;
}

export function failWith(s: ShellCommandState, phase: string, r: RunResult): never {
  const tail = redactSecrets(r.output.split("\n").slice(-40).join("\n"), s.mask);
  throw new Error(
    `${s.description}: ${phase} script failed on ${sshTarget(s.connection)} with exit code ${r.code}.\n--- last output ---\n${tail}`,
  );
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

/** Runs argv; after `timeoutSeconds` it is killed and the result is exit code 124 with the output so far. */
function spawnOnce(argv: string[], stdin: string | undefined, timeoutSeconds: number, cwd?: string): Promise<RunResult> {
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
 * One SSH connection per host, shared by consecutive steps for 30 s
 * (ControlMaster): a step then costs a round trip instead of a handshake.
 * The socket lives in a 0700 directory of ours and its name hashes the
 * target, host key and private key, so a recreated host or another key never
 * reuses it.
 */
function sshMultiplexing(c: SshConnection): string[] {
  const dir = path.join(os.tmpdir(), `pulumi-patroni-mux-${process.getuid?.() ?? 0}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0) || (st.mode & 0o077) !== 0) return [];
  const id = crypto
    .createHash("sha256")
    .update(JSON.stringify([c.user ?? "root", c.host, c.port ?? 22, c.hostKey ?? "", c.privateKey]))
    .digest("hex")
    .slice(0, 20);
  return ["-o", "ControlMaster=auto", "-o", `ControlPath=${path.join(dir, id)}`, "-o", "ControlPersist=30"];
}

/**
 * With PULUMI_PATRONI_STEP_LOG set (the benchmarks set it), each run of a
 * script appends a JSON line to that file: the step's description (never
 * secret), which script, start and end (ms since the epoch) and exit code.
 */
function logStep(s: ShellCommandState, phase: string, start: number, code: number): void {
  const file = process.env.PULUMI_PATRONI_STEP_LOG;
  if (!file) return;
  fs.appendFileSync(file, JSON.stringify({ step: s.description, phase, start, end: Date.now(), code }) + "\n", { mode: 0o600 });
}

export async function runScript(
  s: ShellCommandState,
  script: string,
  stdin: string | undefined,
  attempts: number,
  phase = "script",
): Promise<RunResult> {
  const start = Date.now();
  const result = await runScriptOnce(s, script, stdin, attempts);
  logStep(s, phase, start, result.code);
  return result;
}

async function runScriptOnce(s: ShellCommandState, script: string, stdin: string | undefined, attempts: number): Promise<RunResult> {
  const body = `set -euo pipefail\n${script}`;
  const timeout = s.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!s.connection) return spawnOnce(["bash", "-c", body], stdin, timeout, projectDirectory());
  const c = s.connection;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-ssh-"));
  try {
    fs.chmodSync(dir, 0o700);
    const keyFile = path.join(dir, "id");
    fs.writeFileSync(keyFile, c.privateKey.endsWith("\n") ? c.privateKey : `${c.privateKey}\n`, { mode: 0o600 });
    const port = c.port ?? 22;
    let hostCheck = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
    if (c.hostKey) {
      const knownHosts = path.join(dir, "known_hosts");
      fs.writeFileSync(knownHosts, `${port === 22 ? c.host : `[${c.host}]:${port}`} ${c.hostKey}\n`);
      hostCheck = ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`];
    }
    const user = c.user ?? "root";
    const quoted = `'${body.replace(/'/g, `'\\''`)}'`;
    // The host stops the script at the deadline too (the controller gives it 15 s more to say so).
    const remote = `${user === "root" ? "" : "sudo -n "}timeout --kill-after=5 ${timeout} bash -c ${quoted}`;
    const argv = [
      "ssh",
      "-i",
      keyFile,
      "-p",
      String(port),
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "ServerAliveInterval=10",
      "-o",
      "ServerAliveCountMax=6",
      "-o",
      "LogLevel=ERROR",
      ...hostCheck,
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
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const shellCommandProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ShellCommandOutputs, news: ShellCommandState) {
    const failures = [];
    if (typeof news.create !== "string" || news.create.length === 0)
      failures.push({ property: "create", reason: "a create script is required" });
    return { inputs: news, failures };
  },

  // How a host is reached (address, port, user, key) is not part of a step's
  // identity: a change updates the stored connection and runs nothing, so the
  // next step (or delete) uses it. A new host key is a new machine: every
  // step runs again.
  async diff(_id: string, olds: ShellCommandOutputs, news: ShellCommandState) {
    let changes = mustRun(olds, news) || JSON.stringify(reachedAs(olds.connection)) !== JSON.stringify(reachedAs(news.connection));
    // During preview an input may still be unknown; only probe a fully known host.
    // (Only our own fields: the serialized provider itself contains the marker.)
    const known = !JSON.stringify([news.connection ?? null, news.check]).includes(UNKNOWN);
    if (!changes && news.check && known) changes = await drifted(news);
    return { changes, replaces: [], deleteBeforeReplace: true };
  },

  async create(inputs: ShellCommandState) {
    const result = await runScript(inputs, inputs.create, inputs.stdin, inputs.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS, "create");
    if (result.code !== 0) failWith(inputs, "create", result);
    return {
      id: crypto.randomUUID(),
      outs: { ...inputs, fingerprint: fingerprintOf(inputs), stdout: inputs.captureStdout ? result.stdout.trim() : "" },
    };
  },

  async update(_id: string, olds: ShellCommandOutputs, news: ShellCommandState) {
    if (!mustRun(olds, news) && !(news.check && (await drifted(news)))) {
      return { outs: { ...news, fingerprint: olds.fingerprint, stdout: olds.stdout ?? "" } };
    }
    const result = await runScript(
      news,
      news.update ?? news.create,
      news.stdin,
      news.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS,
      "update",
    );
    if (result.code !== 0) failWith(news, "update", result);
    return { outs: { ...news, fingerprint: fingerprintOf(news), stdout: news.captureStdout ? result.stdout.trim() : "" } };
  },

  async delete(_id: string, olds: ShellCommandOutputs) {
    if (!olds.delete) return;
    const result = await runScript(olds, olds.delete, undefined, 3, "delete");
    if (result.code === 255 && olds.connection?.disposable) return;
    if (result.code !== 0) failWith(olds, "delete", result);
  },
};

/** A bash script run on a host; see the module comment. */
export class ShellCommand extends pulumi.dynamic.Resource {
  declare readonly fingerprint: pulumi.Output<string>;
  /** The last run's stdout when captureStdout is set, else "". */
  declare readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: ShellCommandArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("shellCommand", "shellCommandProvider", shellCommandProvider),
      name,
      { ...args, fingerprint: undefined, stdout: undefined },
      {
        ...opts,
        // The connection carries the private key and stdin may carry passwords;
        // the fingerprint hashes stdin. All stay encrypted in the state.
        additionalSecretOutputs: ["connection", "stdin", "fingerprint", "mask"],
        deleteBeforeReplace: true,
      },
      "patroni",
      "ShellCommand",
    );
  }
}
