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
import * as crypto from "crypto";
import * as fs from "fs";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { tellTheUser } from "./engineLog";
import { failWith, runScript } from "./remoteScript";
import { SshConnection } from "./ssh";
import { storedProvider } from "./storedProvider";

export type { SshConnection };

/** The fields of @pulumi/command's remote.Command we share. */
type CommandContract = Pick<command.remote.CommandArgs, "create" | "update" | "delete" | "stdin" | "triggers">;

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
  /**
   * Run `update` only when `triggers` or `stdin` change (or the host is a new
   * machine), not when a script's text changes: for an update that disrupts
   * (a restart), so that a new version of the script is stored without
   * running it.
   */
  readonly runOnlyOnTriggers?: boolean;
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
  /** pulumi destroy shows what the delete script printed (what it kept or removed, say). */
  readonly announceDelete?: boolean;
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
  runOnlyOnTriggers?: boolean;
  check?: string;
  connectAttempts?: number;
  captureStdout?: boolean;
  timeoutSeconds?: number;
  announceDelete?: boolean;
  mask?: string[];
}

interface ShellCommandOutputs extends ShellCommandState {
  fingerprint: string;
  stdout?: string;
}

const DEFAULT_CONNECT_ATTEMPTS = 10;

// The engine's placeholder for a value not known yet (preview).
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function fingerprintOf(s: ShellCommandState): string {
  return crypto
    .createHash("sha256")
    .update(JSON.stringify([s.create, s.update ?? null, s.stdin ?? null, s.triggers ?? null, s.delete ?? null]))
    .digest("hex");
}

// A new host key means a new machine at the same address: every step must run again.
const hostKeyOf = (c?: SshConnection) => c?.hostKey ?? "";

/** The step's scripts (unless runOnlyOnTriggers), stdin or triggers changed, or its host is a new machine. */
function mustRun(olds: ShellCommandOutputs, news: ShellCommandState): boolean {
  if (hostKeyOf(olds.connection) !== hostKeyOf(news.connection)) return true;
  if (news.runOnlyOnTriggers) {
    return (
      JSON.stringify([olds.triggers ?? null, olds.stdin ?? null]) !==
      JSON.stringify([news.triggers ?? null, news.stdin ?? null])
    );
  }
  return fingerprintOf(news) !== olds.fingerprint;
}

/** How the controller reaches the host (the key compared by hash, never stored in clear here). */
function reachedAs(c?: SshConnection): unknown {
  if (!c || typeof c !== "object") return c ?? null;
  return [
    c.host,
    c.port ?? 22,
    c.user ?? "root",
    crypto.createHash("sha256").update(String(c.privateKey)).digest("hex"),
  ];
}

async function drifted(s: ShellCommandState): Promise<boolean> {
  return (await runScript(s, s.check!, undefined, 1, "check")).code !== 0;
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
    // A new connection, or a new version of a runOnlyOnTriggers step's script, is stored without running.
    let changes =
      mustRun(olds, news) ||
      fingerprintOf(news) !== olds.fingerprint ||
      JSON.stringify(reachedAs(olds.connection)) !== JSON.stringify(reachedAs(news.connection)) ||
      // Stored without running, like a new connection: only the delete reads it.
      Boolean(olds.announceDelete) !== Boolean(news.announceDelete);
    // During preview an input may still be unknown; only probe a fully known host.
    // (Only our own fields: the serialized provider itself contains the marker.)
    const known = !JSON.stringify([news.connection ?? null, news.check]).includes(UNKNOWN);
    if (!changes && news.check && known) changes = await drifted(news);
    return { changes, replaces: [], deleteBeforeReplace: true };
  },

  async create(inputs: ShellCommandState) {
    const result = await runScript(
      inputs,
      inputs.create,
      inputs.stdin,
      inputs.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS,
      "create",
    );
    if (result.code !== 0) failWith(inputs, "create", result);
    return {
      id: crypto.randomUUID(),
      outs: { ...inputs, fingerprint: fingerprintOf(inputs), stdout: inputs.captureStdout ? result.stdout.trim() : "" },
    };
  },

  async update(_id: string, olds: ShellCommandOutputs, news: ShellCommandState) {
    if (!mustRun(olds, news) && !(news.check && (await drifted(news)))) {
      return { outs: { ...news, fingerprint: fingerprintOf(news), stdout: olds.stdout ?? "" } };
    }
    const result = await runScript(
      news,
      news.update ?? news.create,
      news.stdin,
      news.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS,
      "update",
    );
    if (result.code !== 0) failWith(news, "update", result);
    return {
      outs: { ...news, fingerprint: fingerprintOf(news), stdout: news.captureStdout ? result.stdout.trim() : "" },
    };
  },

  async delete(_id: string, olds: ShellCommandOutputs) {
    if (!olds.delete) return;
    const marker = olds.connection?.disposable ? olds.connection.tornDownMarker : undefined;
    if (marker && fs.existsSync(marker)) return;
    const result = await runScript(olds, olds.delete, undefined, 3, "delete");
    if (result.code === 255 && olds.connection?.disposable) return;
    if (result.code !== 0) failWith(olds, "delete", result);
    if (olds.announceDelete && result.stdout.trim()) await tellTheUser(`${olds.description}: ${result.stdout.trim()}`);
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
