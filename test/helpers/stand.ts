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
import { hostFactsOf } from "../../src/stack/hostFacts";
import { parseStackConfig, StackConfig } from "../../src/stack/stackConfig";
import { HostScript, renderHostScript } from "../../src/steps/stepScript";

export interface StandOutputs {
  readonly primaryUri: string;
  readonly replicasUri: string;
  readonly haproxyStatsUrl: string;
  readonly haproxyStatsUser: string;
  readonly haproxyStatsPassword: string;
  readonly etcdEndpoints: string[];
  readonly hosts: Record<string, { address: string; roles: string[] }>;
  readonly sshPrivateKey: string;
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

  run(args: string[], allowFailure = false): Promise<CliResult> {
    const withConfig =
      this.configFile && ["up", "preview", "refresh", "destroy"].includes(args[0])
        ? ["--config-file", this.configFile]
        : [];
    return pulumi([...args, ...withConfig, "--stack", this.stack, "--non-interactive"], {
      env: this.env,
      allowFailure,
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

  /** Sets a secret of the stack's configuration for every later up, as `pulumi config set --secret` would (the value on stdin). */
  async setSecret(key: string, value: string): Promise<void> {
    this.editConfig(() => {});
    await pulumi(
      ["config", "set", "--secret", `${PROJECT}:${key}`, "--config-file", this.configFile!, "--stack", this.stack],
      { env: this.env, input: value },
    );
  }

  async select(): Promise<void> {
    await pulumi(["stack", "select", "--create", this.stack, "--non-interactive"], { env: this.env });
  }

  /** `pulumi up`, timed under `label`; refreshes the outputs. */
  async up(label: string, extra: string[] = []): Promise<string> {
    const start = Date.now();
    const r = await this.run(["up", "--yes", "--skip-preview", ...extra]);
    this.upLog += r.stdout + r.stderr;
    this.timings[label] = (Date.now() - start) / 1000;
    console.log(`[e2e] ${label}: ${this.timings[label].toFixed(1)} s`);
    await this.refreshOutputs();
    return r.stdout;
  }

  async refreshOutputs(): Promise<void> {
    this.outputs = JSON.parse((await this.run(["stack", "output", "--json", "--show-secrets"])).stdout);
    if (!this.keyDir) this.keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-key-"));
    fs.writeFileSync(path.join(this.keyDir, "key"), this.outputs.sshPrivateKey, { mode: 0o600 });
  }

  get superuserPassword(): string {
    return decodeURIComponent(new URL(this.outputs.primaryUri).password);
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

  private sshArgs(host: string): string[] {
    const knownHosts = path.join(this.keyDir, `known_hosts-${host}`);
    fs.writeFileSync(knownHosts, this.machine("host-key", host, "--known-hosts") + "\n");
    return [
      ...this.sshBase(),
      ...[
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
      ],
      ...["-o", "ConnectTimeout=10", `root@${this.address(host)}`],
    ];
  }

  /** Runs `command` on `host`; throws with its output unless it exits 0. */
  ssh(host: string, command: string, input?: string, timeoutMs = 300_000): string {
    const r = childProcess.spawnSync("ssh", [...this.sshArgs(host), command], {
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
        [...this.sshArgs(host), command],
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

  cleanup(): void {
    if (this.keyDir) fs.rmSync(this.keyDir, { recursive: true, force: true });
  }
}
