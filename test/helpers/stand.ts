// A deployed local stand as the e2e tests and the fault suite see it: its
// stack outputs, SSH to its machines with the stack's key (host keys pinned
// to the ones the stand recorded), its machines' power, and `pulumi up`.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { CliResult, pulumi, REPO } from "./pulumiCli";
import { PROJECT } from "../../src/config/validate";
import { sshTargetOf } from "../../src/ops/stackAccess";
import { knownHostsLine } from "../../src/providers/ssh";
import { shellQuote } from "../../src/render/shellQuote";
import { hostFactsOf } from "../../src/stack/hostFacts";
import { parseStackConfig, StackConfig } from "../../src/stack/stackConfig";
import { HostScript, renderHostScript } from "../../src/steps/stepScript";
import { parseLibpqUri } from "../harness/traffic";
import { TLS_PATHS } from "../../src/tls/settings";

/** etcdctl on a host as the host's scripts run it: with the host's certificate (etcd wants one). */
export const ETCDCTL = `ETCDCTL_CACERT=${TLS_PATHS.ca} ETCDCTL_CERT=${TLS_PATHS.cert} ETCDCTL_KEY=${TLS_PATHS.key} etcdctl`;

export interface StandOutputs {
  readonly primaryUri: string;
  readonly replicasUri: string;
  readonly haproxyStatsUrl: string;
  readonly haproxyStatsUser: string;
  readonly haproxyStatsPassword: string;
  readonly etcdEndpoints: string[];
  readonly hosts: Record<string, { address: string; roles: string[] }>;
  readonly sshPrivateKey: string;
  /** With TLS: the CAs to verify with, and the controller's certificate (REST API, etcd). */
  readonly tlsCaCertificate?: string;
  readonly tlsClientCertificate?: string;
  readonly tlsClientKey?: string;
  readonly [key: string]: unknown;
}

export class Stand {
  outputs!: StandOutputs;
  /** Everything `pulumi up` printed, to search for leaked secrets. */
  upLog = "";
  readonly timings: Record<string, number> = {};
  private keyDir = "";

  constructor(
    readonly stack: string,
    readonly env: Record<string, string>,
  ) {}

  /** The stack's configuration as the tests changed it (a copy of Pulumi.<stack>.yaml), once they do. */
  private configFile?: string;

  /** `pulumi <args>` on this stack; `extra.env` adds to the stand's environment, `extra.input` is stdin. */
  run(
    args: string[],
    allowFailure = false,
    extra: { env?: Record<string, string>; input?: string } = {},
  ): Promise<CliResult> {
    const withConfig =
      this.configFile && ["up", "preview", "refresh", "destroy", "config"].includes(args[0])
        ? ["--config-file", this.configFile]
        : [];
    return pulumi([...args, ...withConfig, "--stack", this.stack, "--non-interactive"], {
      env: { ...this.env, ...extra.env },
      allowFailure,
      input: extra.input,
    });
  }

  /** The stack's config (the `config` map of Pulumi.<stack>.yaml, or the tests' current copy). */
  config(): Record<string, any> {
    const file = this.configFile ?? path.join(REPO, `Pulumi.${this.stack}.yaml`);
    return (yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, any> }).config;
  }

  /** The stack's configuration, validated as the program validates it. */
  parsedConfig(): StackConfig {
    const values = Object.fromEntries(
      Object.entries(this.config())
        .filter(([k]) => k.startsWith(`${PROJECT}:`))
        .map(([k, v]) => [k.slice(PROJECT.length + 1), v]),
    );
    return parseStackConfig(values, () => true, this.stack);
  }

  /** A host script as the program would run it on `host` (the stand's host facts). */
  hostScript(host: string, script: HostScript): string {
    return renderHostScript(script, {
      ...hostFactsOf(this.parsedConfig(), this.stack),
      HOST_OWNER: `${this.stack}/${host}`,
    });
  }

  /**
   * Changes the stack's configuration for every later up and preview, as an
   * edit of Pulumi.<stack>.yaml would, without touching the committed file.
   */
  editConfig(edit: (config: Record<string, any>) => void): void {
    const doc = yaml.load(fs.readFileSync(path.join(REPO, `Pulumi.${this.stack}.yaml`), "utf8")) as {
      config: Record<string, any>;
    };
    doc.config = JSON.parse(JSON.stringify(this.config()));
    edit(doc.config);
    if (!this.keyDir) this.keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-key-"));
    this.configFile = path.join(this.keyDir, `Pulumi.${this.stack}.yaml`);
    fs.writeFileSync(this.configFile, yaml.dump(doc));
  }

  /**
   * Sets a secret in the tests' copy of the stack's configuration, as
   * `pulumi config set --secret` would in Pulumi.<stack>.yaml (the value on
   * stdin, never on a command line).
   */
  async setSecret(key: string, value: string): Promise<void> {
    if (!this.configFile) this.editConfig(() => undefined);
    await pulumi(
      ["config", "set", "--secret", key, "--stack", this.stack, "--config-file", this.configFile!, "--non-interactive"],
      { env: this.env, input: value },
    );
  }

  /** The file every up and preview reads: the tests' copy once they changed it, else Pulumi.<stack>.yaml. */
  get configPath(): string {
    return this.configFile ?? path.join(REPO, `Pulumi.${this.stack}.yaml`);
  }

  async select(): Promise<void> {
    await pulumi(["stack", "select", "--create", this.stack, "--non-interactive"], { env: this.env });
  }

  /** `pulumi up`, timed under `label`; refreshes the outputs. `env` adds to the stand's environment. */
  async up(label: string, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
    const start = Date.now();
    const r = await this.run(["up", "--yes", "--skip-preview", ...extra], false, { env });
    this.upLog += r.stdout + r.stderr;
    this.timings[label] = (Date.now() - start) / 1000;
    console.log(`[e2e] ${label}: ${this.timings[label].toFixed(1)} s`);
    await this.refreshOutputs();
    return r.stdout;
  }

  async refreshOutputs(): Promise<void> {
    this.outputs = JSON.parse((await this.run(["stack", "output", "--json", "--show-secrets"])).stdout);
    if (!this.keyDir) this.keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-key-"));
    // `pulumi config set --secret` strips the key file's last newline, without which ssh cannot read the key.
    const key = this.outputs.sshPrivateKey.endsWith("\n")
      ? this.outputs.sshPrivateKey
      : `${this.outputs.sshPrivateKey}\n`;
    fs.writeFileSync(path.join(this.keyDir, "key"), key, { mode: 0o600 });
  }

  get superuserPassword(): string {
    return parseLibpqUri(this.outputs.primaryUri).password;
  }

  address(host: string): string {
    const h = this.outputs.hosts[host];
    if (!h) throw new Error(`no host ${host} in the stack outputs (${Object.keys(this.outputs.hosts).join(", ")})`);
    return h.address;
  }

  hostsWith(role: string): string[] {
    return Object.entries(this.outputs.hosts)
      .filter(([, h]) => h.roles.includes(role))
      .map(([name]) => name);
  }

  /** The stand's key, no agent, no prompts: what every ssh of the tests shares. */
  private sshBase(): string[] {
    return [
      "-i",
      path.join(this.keyDir, "key"),
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "LogLevel=ERROR",
    ];
  }

  /** Whether the stack deploys onto existing servers (its hosts are reached as its outputs say, not as root). */
  private get existingHosts(): boolean {
    return this.parsedConfig().hostSource === "existing";
  }

  /**
   * Where the tests log in to `host`: a local machine as root, with the key
   * it was made with; an existing server as the stack does (its user, address
   * and port, and the host key the stack recorded or was given).
   */
  private sshTarget(host: string): { args: string[]; destination: string } {
    if (!this.existingHosts) {
      const knownHosts = path.join(this.keyDir, `known_hosts-${host}`);
      fs.writeFileSync(knownHosts, this.machine("host-key", host, "--known-hosts") + "\n");
      return { args: ["-o", `UserKnownHostsFile=${knownHosts}`], destination: `root@${this.address(host)}` };
    }
    const { user, address, port } = sshTargetOf(this.outputs, host);
    const hostKey = (this.outputs.hostKeys as Record<string, string> | undefined)?.[host];
    if (!hostKey) throw new Error(`the stack recorded no host key for ${host}`);
    const knownHosts = path.join(this.keyDir, `known_hosts-${host}`);
    fs.writeFileSync(knownHosts, knownHostsLine(address, port, hostKey));
    return { args: ["-p", String(port), "-o", `UserKnownHostsFile=${knownHosts}`], destination: `${user}@${address}` };
  }

  private sshArgs(host: string): string[] {
    const target = this.sshTarget(host);
    return [
      ...this.sshBase(),
      ...target.args,
      ...["-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null"],
      ...["-o", "ConnectTimeout=10", target.destination],
    ];
  }

  /** The command as root: through sudo when the stack logs in as another user. */
  private asRoot(command: string): string {
    return ((this.outputs.ssh as { user?: string } | undefined)?.user ?? "root") === "root"
      ? command
      : `sudo -n -H bash -c ${shellQuote(command)}`;
  }

  /** Runs `command` on `host` as root; throws with its output unless it exits 0. */
  ssh(host: string, command: string, input?: string, timeoutMs = 300_000): string {
    const r = childProcess.spawnSync("ssh", [...this.sshArgs(host), this.asRoot(command)], {
      encoding: "utf8",
      input: input ?? "",
      timeout: timeoutMs,
    });
    if (r.status !== 0) throw new Error(`ssh ${host} '${command}' exited ${r.status}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  }

  /** ssh without checking the host key: only to put a machine's own key back after a test replaced it. */
  sshUnpinned(host: string, command: string): void {
    const args = [
      ...this.sshBase(),
      ...[
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        `root@${this.address(host)}`,
        command,
      ],
    ];
    const r = childProcess.spawnSync("ssh", args, { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`ssh ${host} '${command}' exited ${r.status}: ${r.stdout}${r.stderr}`);
  }

  /** Like ssh, without blocking the event loop (the harness's writer keeps running meanwhile). */
  sshAsync(host: string, command: string, timeoutMs = 300_000): Promise<string> {
    return new Promise((resolve, reject) => {
      childProcess.execFile(
        "ssh",
        [...this.sshArgs(host), this.asRoot(command)],
        { encoding: "utf8", timeout: timeoutMs },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`ssh ${host} '${command}' failed: ${err.message} ${stdout}${stderr}`));
          else resolve(stdout.trim());
        },
      );
    });
  }

  psql(host: string, conn: string, sql: string): string {
    return this.ssh(host, `psql -X -At "${conn}" -c "${sql.replace(/"/g, '\\"')}"`);
  }

  /** The local machines' machine.sh for this stand's machines. */
  machine(...args: string[]): string {
    return childProcess
      .execFileSync(path.join(REPO, "src", "local", "machines", "machine.sh"), [...args, "--stand", this.stack], {
        encoding: "utf8",
      })
      .trim();
  }

  /** machine.sh without blocking the event loop: a fault injected while the harness's writer keeps writing. */
  machineAsync(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) =>
      childProcess.execFile(
        path.join(REPO, "src", "local", "machines", "machine.sh"),
        [...args, "--stand", this.stack],
        { encoding: "utf8" },
        (err, stdout, stderr) =>
          err ? reject(new Error(`machine.sh ${args.join(" ")}: ${stderr}`)) : resolve(stdout.trim()),
      ),
    );
  }

  cleanup(): void {
    if (this.keyDir) fs.rmSync(this.keyDir, { recursive: true, force: true });
  }
}
