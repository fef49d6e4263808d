// Your own servers, end to end (hostSource: existing). Two machines are
// made outside the program, as a hypervisor or a cloud makes them (the
// machine scripts alone), and prepared as a provider's image would be: user
// debian with passwordless sudo and the test's key, root login refused by
// sshd, db2's sshd on port 2222. Both come from an image with the roles'
// packages installed and nothing of theirs running, as a cloud image can be
// (localMachines.prebuiltPackages makes the same): on two shared cores the
// packages' install is most of a deploy, and the e2e stand proves it.
// Then, as a DBA would:
// - the own-servers commands of the README (its marked blocks),
//   verbatim, through `preview`;
// - db1 already runs a PostgreSQL cluster: preview and up refuse it, naming
//   it, and change no host; with hosts[].adoptExisting it is taken over
//   (stopped, its data kept);
// - host keys trusted on first use, a changed one refused with both
//   fingerprints, then pinned by a config change (the no-change up below);
// - the cluster checked as the local stand is, a switchover by npm run ctl
//   while a client writes, a second up that changes nothing;
// - destroy, and exactly what it leaves on the hosts.
// The machines, bridge and apt proxy are removed at the end, pass or fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Stand } from "../helpers/stand";
import { pulumi, REPO, scratchProject } from "../helpers/pulumiCli";
import { commandLines, extractBlock, OWN_SERVERS_MARKER, OWN_SERVERS_UP_MARKER } from "../helpers/readmeCommands";
import { standTargets, withTraffic } from "../harness/scenario";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { ctl } from "../faults/scenarios";
import { fingerprint } from "../../src/providers/hostKey";
import { MANAGED_MARKER } from "../../src/render/managedHeader";
import { passwordsInState } from "./hardening";
import { allRolePackages, parseStackConfig } from "../../src/stack/stackConfig";

const STACK = "own";
/** Where the own-servers commands are: the README's section "Deploying to your own servers". */
const OWN_SERVERS_DOC = path.join(REPO, "README.md");
// The machines' network: what a hypervisor would give them (never in the stack's config).
const NETWORK = { bridge: "pgown0", address: "10.213.13.1/24", aptProxyPort: 3153 };
const CONTROLLER = NETWORK.address.split("/")[0];
const USER = "debian";
/** The host that already runs a PostgreSQL cluster before the first deploy. */
const LEGACY_HOST = "db1";

const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "own-stand-passphrase" });
const committed = yaml.load(fs.readFileSync(path.join(REPO, `Pulumi.${STACK}.yaml`), "utf8")) as {
  config: Record<string, any>;
};
interface OwnHost {
  readonly name: string;
  readonly address: string;
  readonly sshPort?: number;
  readonly roles: string[];
}
const HOSTS: OwnHost[] = committed.config["pulumi-patroni:hosts"];
const pgHosts = HOSTS.filter((h) => h.roles.includes("postgres")).map((h) => h.name);
const clientHost = HOSTS.find((h) => h.roles.includes("client"))!.name;
const sshPortOf = (h: OwnHost) => h.sshPort ?? 22;
/** The services the deploy runs on a host. */
const unitsOf = (h: OwnHost) => [
  ...(h.roles.includes("etcd") ? ["etcd"] : []),
  "patroni",
  "pgbouncer",
  ...(h.roles.includes("haproxy") ? ["haproxy"] : []),
];
/** The provider's image: every role's packages of this stack installed, none running. */
const IMAGE_PACKAGES = allRolePackages(
  parseStackConfig(
    Object.fromEntries(Object.entries(committed.config).map(([k, v]) => [k.replace(/^pulumi-patroni:/, ""), v])),
    () => false,
    STACK,
  ),
).join(" ");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "own-servers-"));
const keyFile = path.join(work, "id_ed25519");
const startedAt = Date.now();
let destroyed = false;

const timed = async <T>(label: string, action: () => Promise<T> | T): Promise<T> => {
  const start = Date.now();
  const result = await action();
  stand.timings[label] = (Date.now() - start) / 1000;
  console.log(`[e2e] ${label}: ${stand.timings[label].toFixed(1)} s`);
  return result;
};

/** One of the machine scripts (src/local/machines), as a hypervisor's tooling would run it. */
function machines(script: string, ...args: string[]): string {
  return childProcess
    .execFileSync(path.join(REPO, "src", "local", "machines", `${script}.sh`), args, { encoding: "utf8" })
    .trim();
}
const networkArgs = ["--bridge", NETWORK.bridge, "--address", NETWORK.address];
const proxyArgs = ["--listen", CONTROLLER, "--port", String(NETWORK.aptProxyPort)];

const consoleArgv = (host: string, script: string, args: string[]) => [
  ...["exec", host, "--stand", STACK, "--", "bash", "-c", `set -euo pipefail\n${script}`, host, ...args],
];

/** A bash script run inside a machine as root, not over SSH (nsenter): the provider's console. */
function onConsole(host: string, script: string, ...args: string[]): string {
  return machines("machine", ...consoleArgv(host, script, args));
}

/** Runs a program without blocking the event loop (vitest's worker must keep answering); rejects unless it exits 0. */
function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    childProcess.execFile(
      file,
      args,
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 900_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${file} ${args[0]}: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}

/** onConsole for a script that takes a while. */
const onConsoleAsync = (host: string, script: string, ...args: string[]): Promise<string> =>
  run(path.join(REPO, "src", "local", "machines", "machine.sh"), consoleArgv(host, script, args));

/** ssh to a machine as `user`, the machine's own host key pinned; returns the exit code and output. */
function sshAs(user: string, h: OwnHost, port: number, command: string): { code: number; out: string } {
  const knownHosts = path.join(work, `known_hosts-${h.name}-${port}`);
  const key = machines("machine", "host-key", h.name, "--stand", STACK).split(" ").slice(0, 2).join(" ");
  fs.writeFileSync(knownHosts, `${port === 22 ? h.address : `[${h.address}]:${port}`} ${key}\n`);
  const r = childProcess.spawnSync(
    "ssh",
    [
      ...["-i", keyFile, "-p", String(port), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"],
      ...["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "ConnectTimeout=5"],
      `${user}@${h.address}`,
      command,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { code: r.status ?? 255, out: `${r.stdout}${r.stderr}`.trim() };
}

// As a provider's image or cloud-init leaves a server: a user with
// passwordless sudo and our key, root login refused (root keeps the key the
// machine was made with: sshd must refuse it anyway), and on one host sshd
// on another port.
const PREPARE = `
port=$1 pub=$2
id ${USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${USER}
install -d -m 700 -o ${USER} -g ${USER} /home/${USER}/.ssh
printf '%s\\n' "$pub" > /home/${USER}/.ssh/authorized_keys
chown ${USER}:${USER} /home/${USER}/.ssh/authorized_keys && chmod 600 /home/${USER}/.ssh/authorized_keys
printf '${USER} ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/90-cloud-init-users && chmod 440 /etc/sudoers.d/90-cloud-init-users
# sshd takes the first value it reads: this file comes before the image's own.
{ echo 'PermitRootLogin no'; [ "$port" = 22 ] || echo "Port $port"; } > /etc/ssh/sshd_config.d/00-provider.conf
sshd -t
systemctl restart ssh
`;

// An operator's PostgreSQL, as Debian makes one (the image has the
// package): a cluster of its own, started, holding a table.
const OPERATOR_CLUSTER = `
pg_createcluster 17 legacy --start >/dev/null
runuser -u postgres -- psql -X -q -c "create table kept(note text); insert into kept values ('written before the first deploy')"
pg_lsclusters -h
`;

/** The units running on a host (what a provider's image runs: the baseline destroy must return to). */
const RUNNING_UNITS =
  "systemctl list-units --type=service --state=running --no-legend --plain | awk '{print $1}' | sort";
const baseline: Record<string, string[]> = {};

function removeMachines(): void {
  for (const h of HOSTS) {
    try {
      machines("machine", "destroy", h.name, "--stand", STACK);
    } catch (e) {
      console.log(`[e2e] own: destroying machine ${h.name}: ${(e as Error).message}`);
    }
  }
  for (const [script, args] of [
    ["apt-proxy", proxyArgs],
    ["network", networkArgs],
  ] as const) {
    try {
      machines(script, "down", ...args);
    } catch (e) {
      console.log(`[e2e] own: ${script} down: ${(e as Error).message}`);
    }
  }
}

/** The stack's state goes with its machines (they are gone, so a destroy could not reach them); its file stays. */
async function removeStackState(): Promise<void> {
  // A killed run's up leaves its lock, which stack rm --force does not lift.
  fs.rmSync(path.join(REPO, ".pulumi-state", ".pulumi", "locks", "organization", "pulumi-patroni", STACK), {
    recursive: true,
    force: true,
  });
  await pulumi(["stack", "rm", STACK, "--yes", "--force", "--preserve-config", "--non-interactive"], {
    env: stand.env,
    allowFailure: true,
  });
}

beforeAll(async () => {
  // A run that was killed may have left its machines and its state.
  removeMachines();
  await removeStackState();
  await stand.select();
  childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "own-servers-test", "-f", keyFile]);
  await timed(
    `own: ${HOSTS.length} machines made by the machine scripts and prepared as a provider would`,
    async () => {
      machines("network", "up", ...networkArgs);
      machines("apt-proxy", "up", ...proxyArgs);
      const machineSh = path.join(REPO, "src", "local", "machines", "machine.sh");
      const pub = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
      await Promise.all(
        HOSTS.map(async (h) => {
          await run(machineSh, [
            ...["create", h.name, "--stand", STACK, "--address", `${h.address}/24`, "--gateway", CONTROLLER],
            ...["--bridge", NETWORK.bridge, "--apt-proxy", `http://${CONTROLLER}:${NETWORK.aptProxyPort}`],
            ...["--authorized-keys-file", `${keyFile}.pub`],
            ...["--image-packages", IMAGE_PACKAGES],
          ]);
          await run(machineSh, ["wait-ready", h.name, "--stand", STACK, "--timeout", "90"]);
          await onConsoleAsync(h.name, PREPARE, String(sshPortOf(h)), pub);
          baseline[h.name] = (await onConsoleAsync(h.name, RUNNING_UNITS)).split("\n");
        }),
      );
    },
  );
});

afterAll(async () => {
  try {
    if (!destroyed) await stand.run(["destroy", "--yes", "--skip-preview"], true);
  } finally {
    await removeStackState();
    removeMachines();
    stand.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`[e2e] own: the whole test: ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    console.log(`[e2e] own timings: ${JSON.stringify(stand.timings)}`);
  }
});

describe("servers as a provider hands them over", () => {
  it("user debian logs in with the key and has passwordless sudo; root is refused; db2 answers on 2222 only", () => {
    for (const h of HOSTS) {
      const port = sshPortOf(h);
      expect(sshAs(USER, h, port, "sudo -n id -un; hostname")).toEqual({ code: 0, out: `root\n${h.name}` });
      const root = sshAs("root", h, port, "true");
      expect(root.code).toBe(255);
      expect(root.out).toContain("Permission denied");
    }
    const db2 = HOSTS.find((h) => h.sshPort !== undefined)!;
    expect(db2.sshPort).toBe(2222);
    expect(sshAs(USER, db2, 22, "true").out).toMatch(/Connection refused/);
  });
});

describe("the README's own-servers commands, verbatim", () => {
  it("set up the stack and preview it against these servers: every host answers, nothing is refused", async () => {
    const doc = fs.readFileSync(OWN_SERVERS_DOC, "utf8");
    const block = extractBlock(doc, OWN_SERVERS_MARKER);
    // A scratch copy of the project and a scratch home: the commands write
    // Pulumi.prod.yaml, a passphrase under ~/.config and the state, and read
    // ~/.ssh/id_ed25519; none of that may touch the checkout or this user's.
    const project = scratchProject();
    const home = path.join(work, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
    fs.copyFileSync(keyFile, path.join(home, ".ssh", "id_ed25519"));
    fs.chmodSync(path.join(home, ".ssh", "id_ed25519"), 0o600);
    const toolchain = childProcess
      .execFileSync(path.join(REPO, "scripts", "toolchain.sh"), { encoding: "utf8" })
      .trim();
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^PULUMI_(CONFIG_PASSPHRASE|BACKEND_URL|HOME)/.test(k)),
    ) as Record<string, string>;
    try {
      const r = await timed(
        "own: the README's own-servers commands through preview",
        () =>
          new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = childProcess.spawn("bash", ["-euo", "pipefail", "-c", block], {
              cwd: project,
              // The toolchain this checkout built, found on PATH as an installed Pulumi would be.
              env: { ...env, HOME: home, PATH: `${toolchain}:${env.PATH}`, NPM_CONFIG_UPDATE_NOTIFIER: "false" },
              stdio: ["ignore", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            const timer = setTimeout(() => child.kill("SIGTERM"), 600_000);
            child.on("close", (status) => {
              clearTimeout(timer);
              resolve({ status, stdout, stderr });
            });
          }),
      );
      const out = `${r.stdout}${r.stderr}`;
      expect(r.status, out.slice(-4000)).toBe(0);
      expect(out).toMatch(/\+ \d+ to create/);
      expect(out).not.toMatch(/error:/i);
      // What the commands configured is what this test deploys (Pulumi.own.yaml), host for host.
      const written = yaml.load(fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8")) as {
        config: Record<string, any>;
      };
      for (const key of ["pulumi-patroni:hosts", "pulumi-patroni:ssh"])
        expect(written.config[key], key).toEqual(committed.config[key]);
      expect(written.config["pulumi-patroni:sshPrivateKey"]).toHaveProperty("secure");
      expect(fs.statSync(path.join(home, ".config", "pulumi-patroni", "prod.passphrase")).mode & 0o077).toBe(0);
      // The deploy that follows is the second block's up; this test runs it for its own stack.
      expect(commandLines(extractBlock(doc, OWN_SERVERS_UP_MARKER))[0]).toBe("npm run pulumi -- up --stack prod --yes");
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});

/** What a refused deploy must not have changed: the packages, our owner file, the operator's cluster running. */
const untouched = (h: OwnHost) =>
  onConsole(
    h.name,
    "dpkg-query -W -f '${Package} ${Version}\\n' | md5sum | cut -c1-12; test -e /etc/pulumi-patroni/owner && echo owned || echo free; { pg_lsclusters -h 2>/dev/null || true; } | awk '{print $2, $4}'",
  );

describe("a server that already runs PostgreSQL", () => {
  let before: Record<string, string> = {};

  it("is refused by preview and by up, naming it and adoptExisting; no host changes", async () => {
    await timed("own: an operator's PostgreSQL cluster on db1", () => onConsoleAsync(LEGACY_HOST, OPERATOR_CLUSTER));
    before = Object.fromEntries(HOSTS.map((h) => [h.name, untouched(h)]));
    expect(before[LEGACY_HOST]).toMatch(/free\nlegacy online/);
    await stand.setSecret("sshPrivateKey", fs.readFileSync(keyFile, "utf8"));
    const refusal =
      "hosts db1: already runs PostgreSQL cluster 17/legacy (online, port 5432), which this stack did not create; " +
      "deploying would stop it. Move it away, or set hosts[].adoptExisting: true for db1 to have it stopped (its data is kept, never deleted)";
    const preview = await timed("own: preview refused", () => stand.run(["preview"], true));
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toContain(refusal);
    for (const h of HOSTS.filter((h) => h.name !== LEGACY_HOST))
      expect(preview.stdout + preview.stderr).not.toContain(`hosts ${h.name}: already runs`);
    const up = await timed("own: up refused", () => stand.run(["up", "--yes", "--skip-preview"], true));
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toContain(refusal);
    for (const h of HOSTS) expect(untouched(h), h.name).toBe(before[h.name]);
    const state = JSON.parse((await stand.run(["stack", "export"])).stdout);
    const onHosts = (state.deployment.resources ?? []).filter((r: any) => /:(ShellCommand|HostKey)$/.test(r.type));
    expect(onHosts).toEqual([]);
  });

  it("is taken over once hosts[].adoptExisting says so: its cluster stopped and disabled, its data kept", async () => {
    stand.editConfig((c) => {
      c["pulumi-patroni:hosts"].find((h: OwnHost) => h.name === LEGACY_HOST).adoptExisting = true;
    });
    await stand.up(`own: pulumi up onto existing servers (${HOSTS.length} hosts, db1 adopted)`);
    expect(onConsole(LEGACY_HOST, "pg_lsclusters -h | awk '{print $2, $4}'")).toBe("legacy down");
    expect(
      onConsole(
        LEGACY_HOST,
        "cat /etc/postgresql/17/legacy/start.conf | grep -v '^#'; systemctl is-enabled postgresql@17-legacy || true; cat /var/lib/postgresql/17/legacy/PG_VERSION",
      ),
    ).toBe("manual\ndisabled\n17");
    // The state records what the first contact found there.
    const state = JSON.parse((await stand.run(["stack", "export"])).stdout);
    const survey = state.deployment.resources.find((r: any) => r.urn.endsWith("HostSurvey::host-survey-db1"));
    expect(survey.outputs.found).toEqual(["PostgreSQL cluster 17/legacy (online, port 5432)"]);
  });
});

describe("host keys: trusted on first use, then pinned", () => {
  const presented = (host: string) =>
    machines("machine", "host-key", host, "--stand", STACK).split(" ").slice(0, 2).join(" ");

  it("the first up recorded each host's own key", () => {
    for (const h of HOSTS) expect((stand.outputs.hostKeys as Record<string, string>)[h.name]).toBe(presented(h.name));
  });

  it("a host presenting another key is refused with both fingerprints; nothing is sent to it", async () => {
    const db2 = HOSTS.find((h) => h.sshPort !== undefined)!;
    const recorded = presented(db2.name);
    onConsole(
      db2.name,
      "mkdir -p /root/hostkey && cp -a /etc/ssh/ssh_host_ed25519_key* /root/hostkey/ && rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh",
    );
    try {
      const other = onConsole(db2.name, "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub");
      const r = await timed("own: preview refused (a changed host key)", () => stand.run(["preview"], true));
      const out = r.stdout + r.stderr;
      expect(r.code).not.toBe(0);
      expect(out).toContain(
        `host db2 (${db2.address}:2222) presents a host key this stack does not trust: it presents ${fingerprint(other)}; the stack recorded ${fingerprint(recorded)} at its first deploy`,
      );
      expect(out).toContain("pulumi config set --path 'ssh.hostKeys.db2'");
    } finally {
      onConsole(db2.name, "cp -a /root/hostkey/. /etc/ssh/ && rm -rf /root/hostkey && systemctl restart ssh");
    }
  });

  // Pinning them (ssh.hostKeys) is the second up's config change: see idempotence.
});

describe("the cluster, checked as on the local stand", () => {
  const ssh = (host: string, command: string, input?: string) => stand.ssh(host, command, input);
  const psql = (host: string, conn: string, sql: string) => stand.psql(host, conn, sql);

  it("patronictl list (over SSH as debian, with sudo): one Leader, every other member streaming with 0 lag", () => {
    for (const host of pgHosts) {
      const members = JSON.parse(ssh(host, "patronictl -c /etc/patroni/patroni.yml list -f json"));
      expect(members).toHaveLength(pgHosts.length);
      const leaders = members.filter((m: any) => m.Role === "Leader");
      expect(leaders).toHaveLength(1);
      for (const m of members.filter((m: any) => m.Role !== "Leader")) {
        expect(m.State).toBe("streaming");
        expect(m.TL).toBe(leaders[0].TL);
        expect(Number(m["Lag in MB"])).toBe(0);
      }
    }
  });

  it("HAProxy 5000 reaches the primary and 5001 a replica; a row written through 5000 is on every replica", async () => {
    expect(psql(clientHost, "service=primary", "select pg_is_in_recovery()")).toBe("f");
    expect(psql(clientHost, "service=replicas", "select pg_is_in_recovery()")).toBe("t");
    psql(clientHost, "service=primary", "create table seen(note text); insert into seen values ('through 5000')");
    const leader = leaderOf(await patroniCluster(standTargets(stand, STACK).whole.restUrls));
    const password = encodeURIComponent(stand.superuserPassword);
    for (const replica of pgHosts.filter((h) => h !== leader)) {
      const conn = `postgresql://postgres:${password}@${stand.address(replica)}:6432/postgres`;
      let note = "";
      for (let i = 0; i < 20 && note === ""; i++) {
        try {
          note = ssh(clientHost, `PGCONNECT_TIMEOUT=5 psql -X -At "$(cat)" -c "select note from seen"`, conn);
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      expect(note, replica).toBe("through 5000");
    }
    expect(
      psql(clientHost, "service=primary", "select count(*) from pg_stat_replication where state = 'streaming'"),
    ).toBe(String(pgHosts.length - 1));
  });

  it("the application user's URI (output userUris) logs in through HAProxy to its database", () => {
    const uri = (stand.outputs.userUris as Record<string, string>).app;
    expect(ssh(clientHost, `psql -X -At "$(cat)" -c "select current_user || '@' || current_database()"`, uri)).toBe(
      "app@app",
    );
  });

  it("npm run ctl -- --stack own switchover, while a client writes through HAProxy: nothing acknowledged is lost", async () => {
    const targets = standTargets(stand, STACK);
    await waitWhole(targets.whole, 60_000);
    const before = leaderOf(await patroniCluster(targets.whole.restUrls))!;
    const report = await withTraffic(stand, STACK, "own: ctl switchover", async () => {
      const r = await timed("own: npm run ctl -- --stack own switchover", () => ctl(stand, "switchover"));
      expect(r.code, r.out).toBe(0);
    });
    const after = leaderOf(await patroniCluster(targets.whole.restUrls));
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(report.acknowledged).toBeGreaterThan(20);
    expect(report.lostAcknowledged).toBe(0);
    expect(report.dualProxyRounds).toBe(0);
    await waitWhole(targets.whole, 60_000);
  });
});

describe("idempotence", () => {
  const activeSince = (host: string, units: string[]) =>
    stand.ssh(host, `systemctl show -p ActiveEnterTimestampMonotonic --value ${units.join(" ")}`);

  // One up for two promises (each up costs a minute or more on the shared
  // cores): its only config change is pinning the host keys the first up
  // recorded, which must change nothing either.
  it("a second pulumi up, after the switchover and with the host keys pinned (ssh.hostKeys), reports no changes and restarts nothing", async () => {
    const keys = stand.outputs.hostKeys as Record<string, string>;
    stand.editConfig((c) => {
      c["pulumi-patroni:ssh"] = { ...c["pulumi-patroni:ssh"], hostKeys: keys };
    });
    const before = HOSTS.map((h) => activeSince(h.name, unitsOf(h)));
    const out = await stand.up("own: no-change pulumi up (host keys pinned)");
    expect(out).not.toMatch(/\d+ (to update|updated|created|deleted|replaced)/);
    expect(HOSTS.map((h) => activeSince(h.name, unitsOf(h)))).toEqual(before);
    expect(stand.outputs.hostKeys).toEqual(keys);
  });
});

describe("destroy", () => {
  let passwords: string[] = [];

  it("stops and disables every service, removes our files that hold secrets, keeps packages and data", async () => {
    passwords = (await passwordsInState(stand)).filter((p) => p.length >= 12);
    expect(passwords.length).toBeGreaterThanOrEqual(6);
    await timed("own: pulumi destroy", () => stand.run(["destroy", "--yes", "--skip-preview"]));
    destroyed = true;
    const etcdDataKept: string[] = [];
    for (const h of HOSTS) {
      const units = unitsOf(h);
      // Services: stopped, disabled, no process left; the units running are the image's own again.
      expect(
        onConsole(
          h.name,
          `for u in ${units.join(" ")}; do echo "$u $(systemctl is-active $u) $(systemctl is-enabled $u)"; done`,
        ),
        h.name,
      ).toBe(units.map((u) => `${u} inactive disabled`).join("\n"));
      expect(onConsole(h.name, "pgrep -l -x 'postgres|patroni|etcd|pgbouncer|haproxy' || true"), h.name).toBe("");
      expect(onConsole(h.name, RUNNING_UNITS).split("\n"), h.name).toEqual(
        baseline[h.name].filter((u) => u !== "postgresql@17-legacy.service"),
      );
      // Our files: only these three stay (no secret in them); every file that held a secret is gone.
      expect(
        onConsole(
          h.name,
          `grep -rlF '${MANAGED_MARKER}' /etc /root /home /var/lib/postgresql /usr/local 2>/dev/null | sort || true`,
        ),
        h.name,
      ).toBe(
        [
          ...(h.roles.includes("etcd") ? ["/etc/default/etcd"] : []),
          "/etc/pgbouncer/pgbouncer.ini",
          "/etc/postgresql-common/createcluster.d/pulumi-patroni.conf",
        ].join("\n"),
      );
      expect(
        onConsole(
          h.name,
          // haproxy.cfg only where HAProxy ran: elsewhere it is the package's own (the image has it).
          `for f in /etc/patroni/config.yml /etc/patroni/patroni.yml /etc/pgbouncer/userlist.txt /etc/pgbouncer/pgbouncer_hba.conf ${h.roles.includes("haproxy") ? "/etc/haproxy/haproxy.cfg" : ""} /root/.pgpass /etc/postgresql-common/pg_service.conf /var/lib/postgresql/.pgpass_patroni /root/.config/patroni/patronictl.yaml /var/lib/postgresql/.config/patroni/patronictl.yaml; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done; true`,
        ),
        h.name,
      ).toBe("");
      const left = childProcess.spawnSync(
        path.join(REPO, "src", "local", "machines", "machine.sh"),
        [
          ...["exec", h.name, "--stand", STACK, "--", "bash", "-c"],
          'f=$(mktemp); cat > $f; grep -rlF -f $f /etc /root /home /tmp /var/lib/postgresql /var/lib/etcd /var/lib/pgbouncer /var/log 2>/dev/null | grep -v "^$f$" || true; rm -f $f',
        ],
        { input: passwords.join("\n") + "\n", encoding: "utf8" },
      );
      expect(left.stdout.trim(), `${h.name}: files holding a password`).toBe("");
      // Packages and data stay.
      const packages = [
        "patroni",
        "postgresql-17",
        ...(h.roles.includes("etcd") ? ["etcd-server"] : []),
        "pgbouncer",
        ...(h.roles.includes("haproxy") ? ["haproxy"] : []),
      ];
      expect(
        onConsole(h.name, `dpkg-query -W -f '\${db:Status-Abbrev}\\n' ${packages.join(" ")} | sort -u`),
        h.name,
      ).toBe("ii");
      expect(onConsole(h.name, "cat /var/lib/postgresql/17/own/PG_VERSION"), h.name).toBe("17");
      if (onConsole(h.name, "ls -A /var/lib/etcd/own 2>/dev/null || true") !== "") etcdDataKept.push(h.name);
      expect(onConsole(h.name, "cat /etc/pulumi-patroni/owner"), h.name).toBe(`${STACK}/${h.name}`);
    }
    // etcd members leave one at a time, each clearing its data directory; the last (here the only) one keeps its data.
    expect(etcdDataKept).toHaveLength(1);
  });

  it("the adopted cluster's data is intact: it starts again and holds what it held", () => {
    expect(
      onConsole(
        LEGACY_HOST,
        "pg_ctlcluster 17 legacy start && runuser -u postgres -- psql -X -At -c 'select note from kept'; pg_ctlcluster 17 legacy stop",
      ),
    ).toBe("written before the first deploy");
  });
});
