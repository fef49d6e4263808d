// How the controller reaches a deployed stack's hosts after `pulumi up`: its
// outputs (read once through scripts/pulumi.sh) and SSH with the stack's key
// and the host keys the stack recorded. Used by `npm run ctl` and the tests;
// `npm run ssh` does the same in bash.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { knownHostsLine, sshOptions } from "../providers/ssh";
import { shellQuote } from "../render/shellQuote";

export interface StackOutputs {
  readonly hosts: Record<string, { address: string; roles: string[] }>;
  readonly ssh?: {
    user: string;
    port: number;
    addresses?: Record<string, string>;
    ports?: Record<string, number>;
  };
  readonly hostKeys?: Record<string, string>;
  readonly sshPrivateKey: string;
  readonly [key: string]: unknown;
}

export interface RemoteResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const REPO = path.resolve(__dirname, "..", "..");

/** The stack's outputs, secrets included (they stay in this process and a 0600 key file). */
export function readStackOutputs(stack: string): StackOutputs {
  const r = childProcess.spawnSync(
    path.join(REPO, "scripts", "pulumi.sh"),
    ["stack", "output", "--stack", stack, "--json", "--show-secrets"],
    {
      encoding: "utf8",
      cwd: REPO,
    },
  );
  if (r.status !== 0) throw new Error(`cannot read the outputs of stack ${stack}: ${(r.stderr || r.stdout).trim()}`);
  const outputs = JSON.parse(r.stdout) as StackOutputs;
  if (!outputs.hosts || Object.keys(outputs.hosts).length === 0) {
    throw new Error(
      `stack ${stack} has no hosts in its outputs: deploy it first (npm run pulumi -- up --stack ${stack})`,
    );
  }
  return outputs;
}

/** Where the controller logs in to `host`: the user, the address and the port the stack exported. */
export function sshTargetOf(outputs: StackOutputs, host: string): { user: string; address: string; port: number } {
  const h = outputs.hosts[host];
  if (!h) throw new Error(`no host ${host} in the stack's outputs; hosts: ${Object.keys(outputs.hosts).join(", ")}`);
  const ssh = outputs.ssh ?? { user: "root", port: 22 };
  return { user: ssh.user, address: ssh.addresses?.[host] ?? h.address, port: ssh.ports?.[host] ?? ssh.port };
}

export class StackAccess {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-ssh-"));

  constructor(readonly outputs: StackOutputs) {
    fs.chmodSync(this.dir, 0o700);
    const key = outputs.sshPrivateKey.endsWith("\n") ? outputs.sshPrivateKey : `${outputs.sshPrivateKey}\n`;
    fs.writeFileSync(path.join(this.dir, "key"), key, { mode: 0o600 });
  }

  hostsWith(role: string): string[] {
    return Object.entries(this.outputs.hosts)
      .filter(([, h]) => h.roles.includes(role))
      .map(([name]) => name);
  }

  /** Runs argv (each argument quoted) on `host`; never throws for a non-zero exit. */
  run(host: string, argv: readonly string[], timeoutMs = 120_000): RemoteResult {
    return this.runScript(host, argv.map(shellQuote).join(" "), timeoutMs);
  }

  /** Runs a shell script of ours (not user input) on `host`. */
  runScript(host: string, script: string, timeoutMs = 120_000): RemoteResult {
    const { user, address, port } = sshTargetOf(this.outputs, host);
    const hostKey = this.outputs.hostKeys?.[host];
    if (!hostKey) throw new Error(`the stack has no recorded host key for ${host}: run pulumi up first`);
    const knownHosts = path.join(this.dir, `known_hosts-${host}`);
    fs.writeFileSync(knownHosts, knownHostsLine(address, port, hostKey), { mode: 0o600 });
    const args = [
      ...sshOptions({
        keyFile: path.join(this.dir, "key"),
        port,
        knownHostsFile: knownHosts,
        connectTimeout: 5,
      }),
      `${user}@${address}`,
      script,
    ];
    const r = childProcess.spawnSync("ssh", args, { encoding: "utf8", timeout: timeoutMs });
    if (r.error) return { code: 255, stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${r.error.message}` };
    return { code: r.status ?? 255, stdout: r.stdout, stderr: r.stderr };
  }

  close(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
