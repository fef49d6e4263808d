// How the controller reaches a host over SSH: the connection's shape, the
// options every ssh of the project uses (key only, no agent, no prompts, the
// host key pinned when one is known), and one shared connection per host.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** The fields of @pulumi/command's remote connection we use, resolved. */
type CommandConnection = pulumi.Unwrap<
  Pick<command.types.input.remote.ConnectionArgs, "host" | "port" | "user" | "privateKey" | "hostKey">
>;

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
  /**
   * A disposable host's stand is being destroyed as a whole once this file
   * exists (its machines are already off): delete scripts are skipped, there
   * is nothing left to hand over or clean.
   */
  readonly tornDownMarker?: string;
}

/** "root@10.0.0.11:22", or "the controller", for messages. */
export const sshTarget = (c?: SshConnection): string =>
  c ? `${c.user ?? "root"}@${c.host}:${c.port ?? 22}` : "the controller";

/** A known_hosts line for the host as ssh names it (with the port when it is not 22). */
export const knownHostsLine = (host: string, port: number, hostKey: string): string =>
  `${port === 22 ? host : `[${host}]:${port}`} ${hostKey}\n`;

/**
 * The options of every ssh the project runs: the given key only, no agent,
 * no prompts; strict checking against `knownHostsFile` when there is one.
 */
export function sshOptions(o: {
  keyFile: string;
  port: number;
  knownHostsFile?: string;
  connectTimeout?: number;
}): string[] {
  const hostCheck = o.knownHostsFile
    ? [
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${o.knownHostsFile}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
      ]
    : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
  return [
    ...["-i", o.keyFile, "-p", String(o.port)],
    ...[
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `ConnectTimeout=${o.connectTimeout ?? 10}`,
      "-o",
      "LogLevel=ERROR",
    ],
    ...hostCheck,
  ];
}

/**
 * One SSH connection per host, shared by consecutive steps for 30 s
 * (ControlMaster): a step then costs a round trip instead of a handshake.
 * The socket lives in a 0700 directory of ours and its name hashes the
 * target, host key and private key, so a recreated host or another key never
 * reuses it.
 */
export function sshMultiplexing(c: SshConnection): string[] {
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
 * Runs `fn` with the connection's private key (and its host key, when
 * pinned) in 0600 files of a 0700 temporary directory, removed afterwards:
 * the key never appears on a command line.
 */
export async function withSshFiles<T>(
  c: SshConnection,
  fn: (files: { keyFile: string; knownHostsFile?: string }) => Promise<T>,
): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-ssh-"));
  try {
    fs.chmodSync(dir, 0o700);
    const keyFile = path.join(dir, "id");
    fs.writeFileSync(keyFile, c.privateKey.endsWith("\n") ? c.privateKey : `${c.privateKey}\n`, { mode: 0o600 });
    let knownHostsFile: string | undefined;
    if (c.hostKey) {
      knownHostsFile = path.join(dir, "known_hosts");
      fs.writeFileSync(knownHostsFile, knownHostsLine(c.host, c.port ?? 22, c.hostKey));
    }
    return await fn({ keyFile, knownHostsFile });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
