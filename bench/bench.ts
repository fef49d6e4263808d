// npm run bench: what the provisioner and the client path cost, measured in
// one run on the bench stand (Pulumi.bench.yaml), printed as it goes and
// written to bench/results/bench-<date>.{json,md} with the machine and the
// versions it ran:
//   1. a fresh deploy (warm apt cache): where it goes (every step's run, from
//      ShellCommand's step log), the CPU it took on each machine and on the
//      controller, and the floor it is made of, each part timed alone on the
//      idle stand: a database host's packages, initdb and a first start, one
//      replica's base backup;
//   2. no-change up, a reload-only change, a rolling-restart change, adding
//      and removing a replica;
//   3. pgbench from the client host, the paths run alternately in the same
//      session: straight to the primary, to its PgBouncer, and through
//      HAProxy 5000 and PgBouncer (each verifying the server, as the client
//      host's pg_service.conf does); then what a new pooled connection costs
//      (the superuser, whose verifier PgBouncer keeps, against an application
//      user looked up with auth_query); then what TLS costs on the client
//      path: verify-full against plain text (tls.allowPlainClients for the
//      comparison), new connections and persistent ones;
//   4. memory of each service and of the controller, the size of the state;
//   5. fresh deploys with 5 and 7 PostgreSQL nodes (skipped with --quick);
//   6. the switchover and failover figures of the last fault-suite run;
//   7. on a stand with a monitor host (`--stack NAME --only monitor`, or the
//      whole run when the bench stand has one): what monitoring costs, pgbench
//      through HAProxy with Prometheus scraping and with it frozen, runs
//      alternating, and each monitoring service's memory and CPU per host.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "../test/helpers/pulumiCli";
import { Stand } from "../test/helpers/stand";
import { leaderOf, patroniCluster, waitWhole } from "../test/harness/clusterState";
import { standTargets } from "../test/harness/scenario";
import { packagesFor } from "../src/stack/stackConfig";
import { scriptsIn } from "../src/steps/stepScript";
import { deployPhases, parseStepLog, summarizeTimeline, TimelineSummary } from "./timeline";
import { verifyFull } from "../src/tls/settings";
import { PACKAGED_EXPORTERS } from "../src/roles/monitor/exporters";
import { ALERT_RECEIVER_UNIT } from "../src/roles/monitor/monitorFiles";

/** `--stack NAME --only tls|backup|monitor [--rounds N]`: that section alone, on a deployed stand of another stack (no deploy, no destroy). */
const argValue = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const STACK = argValue("--stack") ?? "bench";
const only = argValue("--only");
const quick = process.argv.includes("--quick");
const stepLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-bench-")), "steps.jsonl");
const stand = new Stand(STACK, {
  PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "bench-stand-passphrase",
  PULUMI_PATRONI_STEP_LOG: stepLog,
});
const cores = os.cpus().length;

interface Figure {
  section: string;
  what: string;
  value: number;
  unit: string;
  note?: string;
}
const figures: Figure[] = [];
const timelines: { label: string; summary: TimelineSummary }[] = [];
const meta: Record<string, string> = {};
const record = (section: string, what: string, value: number, unit: string, note?: string) => {
  figures.push({ section, what, value, unit, note });
  console.log(
    `[bench] ${section} | ${what}: ${value.toFixed(unit === "s" ? 1 : 2)} ${unit}${note ? ` (${note})` : ""}`,
  );
};

// ---------------------------------------------------------------- CPU
const CLOCK_TICKS = Number(childProcess.execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
/** CPU seconds of this process's reaped children so far: the pulumi CLI and all it started (program, providers, ssh). */
function childrenCpu(): number {
  const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** The cgroup2 hierarchy (the machines' cgroups are pulumi-patroni/<stand>/<machine> in it). */
function cgroup2Root(): string {
  const line = fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .find((l) => l.split(" ")[2] === "cgroup2");
  if (!line) throw new Error("no cgroup2 hierarchy mounted: cannot account the machines' CPU");
  return line.split(" ")[1];
}

/** CPU seconds each machine of the stand has used since it was created. */
function machineCpu(): Record<string, number> {
  const dir = path.join(cgroup2Root(), "pulumi-patroni", STACK);
  const out: Record<string, number> = {};
  for (const name of fs.readdirSync(dir)) {
    const stat = path.join(dir, name, "cpu.stat");
    if (!fs.existsSync(stat)) continue;
    const usec = /usage_usec (\d+)/.exec(fs.readFileSync(stat, "utf8"))?.[1];
    if (usec) out[name] = Number(usec) / 1e6;
  }
  return out;
}

/**
 * A fresh `pulumi up` of the stand as configured, with where it went (the step
 * log) and the CPU it took, recorded under `label`. Returns the seconds.
 */
async function accountedDeploy(
  label: string,
  section: string,
): Promise<{ seconds: number; cpu: number; machines: number }> {
  fs.writeFileSync(stepLog, "");
  const cpu0 = childrenCpu();
  const t0 = Date.now();
  await stand.up(label);
  const t1 = Date.now();
  const controller = childrenCpu() - cpu0;
  const machines = machineCpu();
  const machineTotal = Object.values(machines).reduce((a, b) => a + b, 0);
  const seconds = stand.timings[label];
  const summary = summarizeTimeline(
    parseStepLog(fs.readFileSync(stepLog, "utf8")),
    deployPhases(stand.hostsWith("postgres")),
    t0,
    t1,
  );
  timelines.push({ label, summary });
  const byRole = (re: RegExp) =>
    Object.entries(machines)
      .filter(([h]) => re.test(h))
      .reduce((a, [, v]) => a + v, 0);
  record(
    section,
    `${label}: CPU on the machines / on the controller (pulumi, the program, its providers, ssh)`,
    machineTotal,
    "CPU s",
    `controller ${controller.toFixed(1)} CPU s; database hosts ${byRole(/^pg/).toFixed(1)}, others ${byRole(/^(?!pg)/).toFixed(1)}`,
  );
  record(
    section,
    `${label}: all that CPU spread over the ${cores} cores (the deploy cannot be faster on this machine)`,
    (machineTotal + controller) / cores,
    "s",
    `${((100 * (machineTotal + controller)) / cores / seconds).toFixed(0)} % of the cores busy on average`,
  );
  return { seconds, cpu: machineTotal + controller, machines: machineTotal };
}

// ---------------------------------------------------------------- stand helpers
const pgHosts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: `pg0${i + 1}`,
    address: `10.213.3.${11 + i}`,
    roles: i < 3 ? ["etcd", "postgres", "pgbouncer"] : ["postgres", "pgbouncer"],
  }));
const otherHosts = [
  { name: "haproxy01", address: "10.213.3.31", roles: ["haproxy"] },
  { name: "client01", address: "10.213.3.41", roles: ["client"] },
];
const setPgCount = (n: number) =>
  stand.editConfig((c) => {
    c["pulumi-patroni:hosts"] = [...pgHosts(n), ...otherHosts];
  });

async function destroy(): Promise<number> {
  const t0 = Date.now();
  const r = await stand.run(["destroy", "--yes", "--skip-preview"], true);
  if (r.code !== 0) throw new Error(`destroy failed:\n${r.stdout}${r.stderr}`);
  return (Date.now() - t0) / 1000;
}

/** Samples the controller's memory (RSS of every pulumi and node process but this one) while `action` runs; returns the peak in MiB. */
async function peakControllerMemory(action: () => Promise<unknown>): Promise<number> {
  let peak = 0;
  const sample = () => {
    const ps = childProcess.execFileSync("ps", ["-eo", "pid=,rss=,comm="], { encoding: "utf8" });
    let kb = 0;
    for (const line of ps.split("\n")) {
      const [pid, rss, comm] = line.trim().split(/\s+/);
      if (!comm || Number(pid) === process.pid) continue;
      if (/^(pulumi|node)/.test(comm)) kb += Number(rss);
    }
    peak = Math.max(peak, kb);
  };
  const timer = setInterval(sample, 500);
  try {
    await action();
  } finally {
    clearInterval(timer);
  }
  return peak / 1024;
}

/** What the machine, the controller and the hosts run: printed with every result. */
function readVersions(): void {
  meta.date = new Date().toISOString();
  meta.machine = `${cores} cores (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  meta.controller = `${fs.readFileSync("/etc/os-release", "utf8").match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? "?"}, Node.js ${process.version}`;
  meta.pulumi = childProcess
    .execFileSync(path.join(REPO, "scripts", "pulumi.sh"), ["version"], { encoding: "utf8" })
    .trim();
  const q = (host: string, pkgs: string) =>
    stand.ssh(
      host,
      `. /etc/os-release; echo "Debian $VERSION_ID"; dpkg-query -W -f='\${Package} \${Version}\\n' ${pkgs}`,
    );
  // The first host of each role (the backup stand has no client host, say).
  const hosts = stand.config()["pulumi-patroni:hosts"] as { name: string; roles: string[] }[];
  const withRole = (role: string) => hosts.find((h) => h.roles.includes(role))?.name;
  const versions: [string, string, string][] = [
    ["hosts", "postgres", "postgresql-17 patroni etcd-server"],
    ["pgbouncer", "pgbouncer", "pgbouncer"],
    ["haproxy", "haproxy", "haproxy"],
    ["client", "client", "postgresql-client-17"],
    ["backup", "backup", "pgbackrest"],
  ];
  for (const [key, role, pkgs] of versions) {
    const host = withRole(role);
    if (host) meta[key] = q(host, pkgs).replace(/\n/g, ", ");
  }
  console.log(
    `[bench] ${Object.entries(meta)
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n[bench] ")}`,
  );
}

// ---------------------------------------------------------------- sections
async function deploySection(): Promise<void> {
  let deploy = { seconds: 0, cpu: 0, machines: 0 };
  const peak = await peakControllerMemory(async () => {
    deploy = await accountedDeploy("fresh deploy, 3 PostgreSQL nodes", "deploy");
  });
  record(
    "deploy",
    "fresh local machines to a healthy cluster (warm apt cache), 3 PostgreSQL nodes",
    deploy.seconds,
    "s",
  );
  record(
    "footprint",
    "controller memory during that pulumi up (peak RSS of the pulumi and node processes)",
    peak,
    "MiB",
  );
  readVersions();
  // The floor, each part alone on the otherwise idle stand. The HAProxy host
  // has none of the database packages: install them there as a database host would.
  const t0 = Date.now();
  const install = stand.hostScript(
    "haproxy01",
    scriptsIn(path.join(REPO, "src", "roles", "host"))("install-packages", {
      PACKAGES: packagesFor(["etcd", "postgres", "pgbouncer"], stand.parsedConfig()).join(" "),
    }),
  );
  stand.ssh("haproxy01", "bash -s >/dev/null 2>&1", install, 900_000);
  const packages = (Date.now() - t0) / 1000;
  record(
    "deploy floor",
    "package installation alone on one machine (a database host's packages, warm apt cache)",
    packages,
    "s",
  );
  const t1 = Date.now();
  stand.ssh(
    "haproxy01",
    "set -e; d=$(mktemp -d); chown postgres $d; cd /; runuser -u postgres -- /usr/lib/postgresql/17/bin/initdb -D $d/data >/dev/null; runuser -u postgres -- /usr/lib/postgresql/17/bin/pg_ctl -D $d/data -o '-c listen_addresses= -k /tmp' -w start >/dev/null; runuser -u postgres -- /usr/lib/postgresql/17/bin/pg_ctl -D $d/data -w stop >/dev/null; rm -rf $d",
  );
  const bootstrap = (Date.now() - t1) / 1000;
  record(
    "deploy floor",
    "bootstrap of the first node alone (initdb and a first start, what Patroni's bootstrap runs)",
    bootstrap,
    "s",
  );
  // A replica's base backup alone, on the deployed stand.
  const targets = standTargets(stand, STACK);
  const leader = leaderOf(await patroniCluster(targets.whole.restUrls, targets.whole.tls))!;
  const replica = stand.hostsWith("postgres").find((h) => h !== leader)!;
  const t2 = Date.now();
  stand.ssh(replica, `patronictl reinit ${STACK} ${replica} --force --wait >/dev/null`);
  await waitWhole(targets.whole, 120_000);
  const reinit = (Date.now() - t2) / 1000;
  record("deploy floor", "one replica's base backup alone (patronictl reinit, until streaming)", reinit, "s");
  const floor = packages + bootstrap + reinit;
  record(
    "deploy",
    "the deploy as a ratio to its floor (packages + bootstrap + base backup, each alone)",
    deploy.seconds / floor,
    "x",
  );
  // On this machine the three database hosts install at once on the same cores.
  const dbPackages = timelines.at(-1)!.summary.phases.find((p) => p.name === "packages, database hosts");
  if (dbPackages) {
    const together = dbPackages.to - dbPackages.from;
    record(
      "deploy floor",
      "the database hosts' packages, all at once on the shared cores (inside the deploy, from its step log)",
      together,
      "s",
    );
    record(
      "deploy",
      "the deploy as a ratio to that shared-core floor (database hosts' packages at once + bootstrap + base backup)",
      deploy.seconds / (together + bootstrap + reinit),
      "x",
    );
  }
}

async function changesSection(): Promise<void> {
  await stand.up("no-change up");
  record("day-2", "no-change pulumi up", stand.timings["no-change up"], "s");
  stand.editConfig((c) => {
    c["pulumi-patroni:cluster"].parameters.work_mem = "8MB";
  });
  await stand.up("reload change");
  record("day-2", "reload-only change (work_mem)", stand.timings["reload change"], "s");
  stand.editConfig((c) => {
    c["pulumi-patroni:cluster"].parameters.max_connections = 250;
  });
  await stand.up("rolling change");
  record("day-2", "restart-needing change, rolling (max_connections 200 -> 250)", stand.timings["rolling change"], "s");
  setPgCount(4);
  await stand.up("add replica");
  record(
    "day-2",
    "adding one replica (pg04: machine, packages, base backup, HAProxy)",
    stand.timings["add replica"],
    "s",
  );
  setPgCount(3);
  await stand.up("remove replica");
  record("day-2", "removing it again", stand.timings["remove replica"], "s");
}

interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

/** pgbench from the client host; the password travels on stdin, never on a command line. */
function pgbench(target: string, args: string, password: string): PgbenchResult {
  const out = stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" pgbench -n ${args} "${target} connect_timeout=5" 2>&1`,
    password,
    120_000,
  );
  const tps = Number(out.match(/tps = ([\d.]+)/)?.[1]);
  const latency = Number(out.match(/latency average = ([\d.]+) ms/)?.[1]);
  if (!Number.isFinite(tps)) throw new Error(`pgbench ${args} against ${target}: no tps in\n${out}`);
  return { tps, latencyMs: latency };
}

const mean = (rs: PgbenchResult[], k: keyof PgbenchResult) => rs.reduce((a, r) => a + r[k], 0) / rs.length;

/** Runs each path in turn, `rounds` times, so drift on the shared cores hits them alike; records each and the ratio of the last to the first. */
function alternate(
  label: string,
  paths: Record<string, { target: string; password: string }>,
  args: string,
  rounds = 2,
): void {
  const runs: Record<string, PgbenchResult[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, p] of Object.entries(paths)) runs[name].push(pgbench(p.target, args, p.password));
  }
  for (const name of Object.keys(paths)) {
    record(
      "client path",
      `${label}: ${name} tps`,
      mean(runs[name], "tps"),
      "tps",
      `latency ${mean(runs[name], "latencyMs").toFixed(2)} ms`,
    );
  }
  const names = Object.keys(paths);
  record(
    "client path",
    `${label}: ${names.at(-1)} / ${names[0]}`,
    mean(runs[names.at(-1)!], "tps") / mean(runs[names[0]], "tps"),
    "x",
  );
}

async function clientPathSection(): Promise<void> {
  const leader = leaderOf(
    await patroniCluster(standTargets(stand, STACK).whole.restUrls, standTargets(stand, STACK).whole.tls),
  )!;
  const addr = stand.address(leader);
  const haproxy = new URL(stand.outputs.primaryUri);
  const appPassword = decodeURIComponent(new URL((stand.outputs.userUris as Record<string, string>).app).password);
  const su = stand.superuserPassword;
  // Every path verifies the server, as a client of the cluster does (pg_service.conf): the paths differ only by their hops.
  const conn = (host: string, port: number | string, user: string) =>
    `host=${host} port=${port} user=${user} dbname=app ${verified()}`;
  const paths = (user: string, password: string) => ({
    direct: { target: conn(addr, 5432, user), password },
    pgbouncer: { target: conn(addr, 6432, user), password },
    "haproxy+pgbouncer": { target: conn(haproxy.hostname, haproxy.port, user), password },
  });
  stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" pgbench -i -q -s 10 "${conn(addr, 5432, "postgres")}" >/dev/null 2>&1`,
    su,
  );
  const seconds = 8;
  for (const script of ["-S", ""]) {
    for (const connect of ["", "-C"]) {
      for (const clients of [1, 10]) {
        const args = `${script} ${connect} -c ${clients} -j ${Math.min(clients, 2)} -T ${seconds}`
          .replace(/\s+/g, " ")
          .trim();
        const label = `${script === "-S" ? "select-only" : "TPC-B-like"}, ${connect ? "new connection per transaction" : "persistent"}, ${clients} client${clients > 1 ? "s" : ""}`;
        alternate(label, paths("postgres", su), args);
      }
    }
  }
  // Where a new pooled connection goes. The superuser's login is checked by
  // PgBouncer alone (its verifier is in userlist.txt); an application user's
  // is looked up with auth_query, a query on a pooled server connection.
  stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" psql -X -q "${conn(addr, 5432, "postgres")}" -c 'grant all on all tables in schema public to app'`,
    su,
  );
  for (const clients of [1, 10]) {
    const args = `-S -C -c ${clients} -j ${Math.min(clients, 2)} -T ${seconds}`;
    alternate(
      `application user (auth_query), select-only, new connection per transaction, ${clients} client${clients > 1 ? "s" : ""}`,
      paths("app", appPassword),
      args,
    );
  }
}

/** libpq's verify-full against the cluster's CAs (the client host has them), or nothing on a stand without TLS. */
const verified = () => (stand.outputs.tlsCaCertificate ? verifyFull() : "");

/**
 * What TLS costs a client: verify-full against plain text on the same path,
 * alternately, straight to the primary and through HAProxy and PgBouncer; a
 * new connection per transaction (the handshake: ECDHE and an ECDSA
 * signature checked against the CA) and persistent sessions (the encryption
 * of each statement). Plain sessions need tls.allowPlainClients, turned on
 * for this and off again.
 */
async function tlsSection(): Promise<void> {
  if (!stand.outputs.tlsCaCertificate) throw new Error(`stack ${STACK} runs without TLS: nothing to compare`);
  const leader = leaderOf(
    await patroniCluster(standTargets(stand, STACK).whole.restUrls, standTargets(stand, STACK).whole.tls),
  )!;
  const haproxy = new URL(stand.outputs.primaryUri);
  const su = stand.superuserPassword;
  const tls = (stand.config()["pulumi-patroni:tls"] ?? {}) as Record<string, unknown>;
  stand.editConfig((c) => (c["pulumi-patroni:tls"] = { ...tls, allowPlainClients: true }));
  await stand.up("tls.allowPlainClients: true (for the comparison)");
  try {
    const seconds = 8;
    const base = (host: string, port: number | string) => `host=${host} port=${port} user=postgres dbname=postgres`;
    // The up returns once Patroni has rewritten pg_hba (patroni-reload.sh); still, time nothing
    // until a plain session is admitted straight to the leader (15 s at most).
    const started = Date.now();
    const plainProbe = `PGPASSWORD="$(cat)" psql -X -At "${base(stand.address(leader), 5432)} sslmode=disable connect_timeout=3" -c "select 1" 2>&1 || true`;
    while (stand.ssh("client01", plainProbe, su) !== "1") {
      if (Date.now() - started > 15_000)
        throw new Error("plain sessions still refused 15 s after tls.allowPlainClients");
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const [path, host, port] of [
      ["straight to the primary", stand.address(leader), 5432],
      ["through HAProxy 5000 and PgBouncer", haproxy.hostname, haproxy.port],
    ] as const) {
      const modes = {
        plain: { target: `${base(host, port)} sslmode=disable`, password: su },
        "verify-full": { target: `${base(host, port)} ${verifyFull()}`, password: su },
      };
      alternate(
        `TLS, ${path}, select-only, new connection per transaction, 1 client`,
        modes,
        `-S -C -c 1 -T ${seconds}`,
      );
      alternate(`TLS, ${path}, select-only, persistent, 1 client`, modes, `-S -c 1 -T ${seconds}`);
      alternate(
        `TLS, ${path}, select-only, new connection per transaction, 10 clients`,
        modes,
        `-S -C -c 10 -j 2 -T ${seconds}`,
      );
    }
  } finally {
    stand.editConfig((c) => (c["pulumi-patroni:tls"] = tls));
    await stand.up("tls.allowPlainClients back");
  }
}

/**
 * What backups cost (a stand with a backup host: Pulumi.bkcap.yaml, `--only backup`):
 * a database of about 1 GB (pgbench tables and random bytes), its full backup through the
 * systemd unit the timer starts, a differential one after a tenth of the rows
 * changed, the repository's size against the database's, the archive lag
 * (a WAL segment closed on the leader to its file in the repository, both
 * clocks the controller's kernel), and a restore of the newest backup into a
 * scratch directory on a replica's host (what a new replica or a restore
 * into a new stack reads).
 */
async function backupSection(): Promise<void> {
  const hosts = stand.config()["pulumi-patroni:hosts"] as { name: string; roles: string[] }[];
  const repoHost = hosts.find((h) => h.roles.includes("backup"))?.name;
  if (!repoHost) throw new Error(`stack ${STACK} has no backup host: nothing to measure`);
  const stanza = (stand.config()["pulumi-patroni:cluster"] as { name: string }).name;
  const repoPath = ((stand.config()["pulumi-patroni:backup"] ?? {}) as { path?: string }).path ?? "/var/lib/pgbackrest";
  const targets = standTargets(stand, STACK).whole;
  const leader = leaderOf(await patroniCluster(targets.restUrls, targets.tls))!;
  const replica = hosts.find((h) => h.roles.includes("postgres") && h.name !== leader)!.name;
  const asPostgres = (host: string, command: string, stdin?: string) =>
    stand.ssh(host, `cd /tmp && runuser -u postgres -- ${command}`, stdin, 3_600_000);
  const sql = (host: string, query: string, db = "postgres") =>
    asPostgres(host, `psql -XAtq -d ${db} -v ON_ERROR_STOP=1`, query);
  const timed = (what: () => unknown) => {
    const t = Date.now();
    what();
    return (Date.now() - t) / 1000;
  };
  // Half pgbench's tables (which zst shrinks twentyfold: their filler is blanks), half random
  // bytes (which nothing shrinks): real data lies between, and the figures say how each part costs.
  const scale = Number(argValue("--scale") ?? 34);
  const noiseMiB = Number(argValue("--noise-mib") ?? 512);
  sql(leader, "drop database if exists benchbk");
  sql(leader, "create database benchbk");
  record(
    "backup",
    `pgbench -i -s ${scale} on the leader`,
    timed(() => asPostgres(leader, `pgbench -i -q -s ${scale} benchbk`)),
    "s",
  );
  record(
    "backup",
    `${noiseMiB} MiB of random bytes written on the leader (8 KiB rows)`,
    timed(() =>
      sql(
        leader,
        "create extension if not exists pgcrypto; create table noise(b bytea);" +
          "alter table noise alter column b set storage external;" +
          `insert into noise select (select string_agg(gen_random_bytes(1024), ''::bytea) from generate_series(1, 8) where g > 0) from generate_series(1, ${noiseMiB * 128}) g`,
        "benchbk",
      ),
    ),
    "s",
  );
  const dbBytes = Number(sql(leader, "select pg_database_size('benchbk')"));
  const clusterBytes = Number(sql(leader, "select sum(pg_database_size(oid)) from pg_database"));
  record("backup", "database size (pgbench tables and random bytes)", dbBytes / 2 ** 30, "GiB");

  // Archive lag: five segments closed one after another, each with a row in it.
  const lags: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [segment, closed] = sql(
      leader,
      "create table if not exists archive_probe(at timestamptz); insert into archive_probe values (now());" +
        "select pg_walfile_name(pg_switch_wal()) || ' ' || extract(epoch from clock_timestamp())",
    ).split(" ");
    const stored = stand.ssh(
      repoHost,
      `for _ in $(seq 600); do f=$(ls ${repoPath}/archive/${stanza}/*/${segment.slice(0, 16)}/${segment}-* 2>/dev/null | head -1); ` +
        `[ -n "$f" ] && exec stat -c %.9Y "$f"; sleep 0.1; done; echo never`,
      undefined,
      120_000,
    );
    if (stored === "never") throw new Error(`${segment} not in the repository 60 s after it was closed`);
    lags.push(Number(stored) - Number(closed));
  }
  lags.sort((a, b) => a - b);
  record("backup", "archive lag, segment closed to stored (median of 5)", lags[2], "s", `max ${lags[4].toFixed(2)} s`);

  const info = () =>
    JSON.parse(asPostgres(repoHost, `pgbackrest --log-level-console=error --stanza=${stanza} --output=json info`))[0]
      .backup as { type: string; info: { size: number; repository: { delta: number } } }[];
  const repoBytes = () => Number(stand.ssh(repoHost, `du -sb ${repoPath}/backup/${stanza} | cut -f1`));
  const before = repoBytes();
  record(
    "backup",
    "full backup (pgbackrest-full unit, from the standby)",
    timed(() => stand.ssh(repoHost, `systemctl start pgbackrest-full@${stanza}.service`, undefined, 3_600_000)),
    "s",
    `${(clusterBytes / 2 ** 30).toFixed(2)} GiB cluster`,
  );
  const full = info().at(-1)!;
  record(
    "backup",
    "full backup in the repository (zst, encrypted)",
    full.info.repository.delta / 2 ** 20,
    "MiB",
    `${(full.info.repository.delta / full.info.size).toFixed(3)} of ${(full.info.size / 2 ** 20).toFixed(0)} MiB`,
  );
  sql(leader, "update pgbench_accounts set abalance = abalance + 1 where aid % 10 = 0", "benchbk");
  record(
    "backup",
    "differential backup after a tenth of the rows changed",
    timed(() => stand.ssh(repoHost, `systemctl start pgbackrest-diff@${stanza}.service`, undefined, 3_600_000)),
    "s",
  );
  const diff = info().at(-1)!;
  record("backup", "differential backup in the repository", diff.info.repository.delta / 2 ** 20, "MiB");
  record("backup", "repository growth (both backups)", (repoBytes() - before) / 2 ** 20, "MiB");

  const scratch = "/var/tmp/bench-restore";
  stand.ssh(replica, `rm -rf ${scratch} && install -d -o postgres -g postgres -m 0700 ${scratch}`);
  try {
    const seconds = timed(() =>
      asPostgres(
        replica,
        `pgbackrest --log-level-console=warn --stanza=${stanza} --pg1-path=${scratch} --type=immediate restore`,
      ),
    );
    const restored = Number(stand.ssh(replica, `du -sb ${scratch} | cut -f1`));
    record(
      "backup",
      "restore of the newest backup into an empty directory on a replica's host",
      seconds,
      "s",
      `${(restored / 2 ** 30).toFixed(2)} GiB written`,
    );
  } finally {
    stand.ssh(replica, `rm -rf ${scratch}`);
    sql(leader, "drop database if exists benchbk");
  }
}

/** The monitoring services, where a host runs them (src/roles/monitor: the monitor host's, and the exporters of each role). */
const MONITORING_UNITS = [
  "prometheus",
  "prometheus-alertmanager",
  ALERT_RECEIVER_UNIT.replace(/\.service$/, ""),
  ...PACKAGED_EXPORTERS.map((e) => e.unit),
];

/** One service's cost on one host at one moment: systemd's accounting where it has it, else the kernel's per process. */
interface UnitSample {
  /** Bytes: MemoryCurrent, else the PSS of the unit's processes. */
  memory: number;
  memorySource: "MemoryCurrent" | "PSS";
  /** CPU seconds so far: CPUUsageNSec, else utime+stime (with reaped children's) of the unit's processes. */
  cpu: number;
  cpuSource: "CPUUsageNSec" | "/proc/PID/stat";
}

/**
 * Every running monitoring service of `host`: systemd's MemoryCurrent and
 * CPUUsageNSec when it accounts them (not on the local stand's machines: their
 * cgroup2 hierarchy has no memory or cpu controller), else the kernel's figures
 * for the processes of the unit's cgroup.
 */
async function sampleMonitoringUnits(host: string): Promise<Record<string, UnitSample>> {
  const script = [
    `ticks=$(getconf CLK_TCK)`,
    `for u in ${MONITORING_UNITS.join(" ")}; do`,
    `  systemctl is-active -q "$u" || continue`,
    `  cg=$(systemctl show -p ControlGroup --value "$u")`,
    // "[not set]" where systemd does not account them: one word, so the line splits in six.
    `  mem=$(systemctl show -p MemoryCurrent --value "$u" | tr -d ' '); cpu=$(systemctl show -p CPUUsageNSec --value "$u" | tr -d ' ')`,
    `  t=0; pss=0`,
    // The unit's cgroup: in the unified hierarchy, or the named systemd one (a hybrid layout, as the local stand's).
    `  procs=$(cat "/sys/fs/cgroup$cg/cgroup.procs" 2>/dev/null || cat "/sys/fs/cgroup/unified$cg/cgroup.procs" 2>/dev/null || cat "/sys/fs/cgroup/systemd$cg/cgroup.procs")`,
    `  for pid in $procs; do`,
    // Fields after "pid (comm) ": utime, stime, cutime, cstime are the 12th to the 15th.
    `    s=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue`,
    `    t=$((t + $(echo "$s" | awk '{print $12 + $13 + $14 + $15}')))`,
    `    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))`,
    `  done`,
    `  echo "$u $mem $cpu $t $pss $ticks"`,
    `done`,
  ].join("\n");
  const out = await stand.sshAsync(host, script, 60_000);
  const samples: Record<string, UnitSample> = {};
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [unit, mem, cpu, ticks, pssKiB, clk] = line.split(" ");
    const accounted = (v: string) => /^\d+$/.test(v) && v !== "18446744073709551615";
    samples[unit] = {
      memory: accounted(mem) ? Number(mem) : Number(pssKiB) * 1024,
      memorySource: accounted(mem) ? "MemoryCurrent" : "PSS",
      cpu: accounted(cpu) ? Number(cpu) / 1e9 : Number(ticks) / Number(clk),
      cpuSource: accounted(cpu) ? "CPUUsageNSec" : "/proc/PID/stat",
    };
  }
  return samples;
}

/**
 * What monitoring costs (a stand with a monitor host: `--stack NAME --only monitor`):
 * pgbench through HAProxy 5000 and PgBouncer with Prometheus scraping every
 * target, and with Prometheus frozen (nothing scrapes: the exporters idle),
 * alternating A/B/A/B... so the shared cores' drift hits both alike; the
 * tps of each run and the ratio. Over the runs with scraping, each
 * monitoring service's CPU (as a share of one core) and its memory, per host.
 */
async function monitorSection(): Promise<void> {
  const monitorHost = stand.hostsWith("monitor")[0];
  if (!monitorHost) throw new Error(`stack ${STACK} has no monitor host: nothing to measure`);
  const monitor = stand.parsedConfig().monitor;
  const clusterName = stand.parsedConfig().cluster.name;
  const targets = standTargets(stand, clusterName);
  const leader = leaderOf(await patroniCluster(targets.whole.restUrls, targets.whole.tls))!;
  const haproxy = new URL(stand.outputs.primaryUri);
  const su = stand.superuserPassword;
  const conn = (host: string, port: number | string) =>
    `host=${host} port=${port} user=postgres dbname=app ${verified()}`;
  const prometheus = stand.outputs.prometheusUrl as string;
  const hosts = Object.keys(stand.outputs.hosts as Record<string, unknown>);
  const rounds = Number(argValue("--rounds") ?? 3);
  const seconds = 20;
  meta.monitor = `${monitorHost}: scrapes every ${monitor.scrapeIntervalSeconds} s, rules evaluated as often; ${hosts.length} hosts`;
  const prometheusReady = async () => {
    const started = Date.now();
    for (;;) {
      const ok = await fetch(`${prometheus}/-/ready`, { signal: AbortSignal.timeout(3000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      if (Date.now() - started > 120_000) throw new Error("Prometheus not ready 120 s after its start");
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  // Scraping paused by freezing Prometheus (SIGSTOP: no scrape, no rule evaluation, no CPU; the exporters idle)
  // rather than stopping it: a start replays its WAL and scrapes everything at once, which the next run would pay.
  const scraping = async (on: boolean) => {
    await stand.sshAsync(
      monitorHost,
      `kill -${on ? "CONT" : "STOP"} "$(systemctl show -p MainPID --value prometheus)"`,
    );
    if (on) {
      await prometheusReady();
      // The scrapes it missed are not made up: one interval and it is back to its pace.
      await new Promise((r) => setTimeout(r, monitor.scrapeIntervalSeconds * 1000 + 2000));
    }
  };
  const sampleAll = async () =>
    Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await sampleMonitoringUnits(h)] as const)));
  stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" pgbench -i -q -s 10 "${conn(stand.address(leader), 5432)}" >/dev/null 2>&1`,
    su,
  );
  const workloads: [string, string][] = [
    ["select-only, persistent, 10 clients", `-S -c 10 -j 2 -T ${seconds}`],
    ["TPC-B-like, persistent, 10 clients", `-c 10 -j 2 -T ${seconds}`],
  ];
  // CPU seconds per host and unit over the runs with scraping, their wall time, the last memory seen.
  const cpu: Record<string, Record<string, number>> = {};
  const memory: Record<string, Record<string, UnitSample>> = {};
  let scrapedWall = 0;
  const loads: number[] = [];
  try {
    for (const [label, args] of workloads) {
      const tps: Record<"scraping" | "frozen", number[]> = { scraping: [], frozen: [] };
      for (let round = 0; round < rounds; round++) {
        for (const mode of ["scraping", "frozen"] as const) {
          await scraping(mode === "scraping");
          const before = mode === "scraping" ? await sampleAll() : undefined;
          const t0 = Date.now();
          const r = pgbench(conn(haproxy.hostname, haproxy.port), args, su);
          const wall = (Date.now() - t0) / 1000;
          loads.push(os.loadavg()[0]);
          tps[mode].push(r.tps);
          console.log(
            `[bench] monitoring | ${label}, round ${round + 1}, ${mode}: ${r.tps.toFixed(0)} tps (load ${os.loadavg()[0].toFixed(1)})`,
          );
          if (before) {
            const after = await sampleAll();
            scrapedWall += wall;
            for (const [h, units] of Object.entries(after)) {
              for (const [u, a] of Object.entries(units)) {
                const b = before[h]?.[u];
                if (!b) continue;
                const spent = (cpu[h] ??= {});
                spent[u] = (spent[u] ?? 0) + a.cpu - b.cpu;
                (memory[h] ??= {})[u] = a;
              }
            }
          }
        }
      }
      const runs = (m: "scraping" | "frozen") => tps[m].map((t) => t.toFixed(0)).join(", ");
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      record(
        "monitoring",
        `${label}, through HAProxy: Prometheus scraping, tps`,
        avg(tps.scraping),
        "tps",
        `runs ${runs("scraping")}`,
      );
      record(
        "monitoring",
        `${label}, through HAProxy: Prometheus frozen (no scrapes), tps`,
        avg(tps.frozen),
        "tps",
        `runs ${runs("frozen")}`,
      );
      record(
        "monitoring",
        `${label}: scraping / frozen`,
        avg(tps.scraping) / avg(tps.frozen),
        "x",
        `${rounds} rounds alternating, ${seconds} s each`,
      );
    }
  } finally {
    await scraping(true);
    stand.ssh(
      "client01",
      `PGPASSWORD="$(cat)" pgbench -i -I d "${conn(stand.address(leader), 5432)}" >/dev/null 2>&1`,
      su,
    );
  }
  let total = 0;
  for (const h of hosts) {
    for (const [u, seconds] of Object.entries(cpu[h] ?? {})) {
      const m = memory[h][u];
      total += seconds;
      record(
        "monitoring",
        `${h}: ${u} CPU while scraping`,
        (100 * seconds) / scrapedWall,
        "% of a core",
        `${seconds.toFixed(1)} CPU s in ${scrapedWall.toFixed(0)} s (${m.cpuSource})`,
      );
      record("monitoring", `${h}: ${u} memory`, m.memory / 2 ** 20, "MiB", m.memorySource);
    }
  }
  record(
    "monitoring",
    "every monitoring service of the stand, CPU while scraping",
    (100 * total) / scrapedWall,
    "% of a core",
    `the controller has ${cores}`,
  );
  meta["monitoring load"] =
    `load average (1 min) during the runs ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)} on ${cores} cores`;
}

async function footprintSection(): Promise<void> {
  const state = (await stand.run(["stack", "export"])).stdout;
  const resources = JSON.parse(state).deployment?.resources ?? [];
  record("footprint", `state size (${resources.length} resources)`, state.length / 1e6, "MB");
  record("footprint", "state size per host", state.length / 1e6 / Object.keys(stand.outputs.hosts).length, "MB");
  // Each dynamic resource stores its provider (a loader of it: src/providers/storedProvider.ts).
  const providers = resources.reduce(
    (sum: number, r: { inputs?: { __provider?: string }; outputs?: { __provider?: string } }) =>
      sum + (r.inputs?.__provider?.length ?? 0) + (r.outputs?.__provider?.length ?? 0),
    0,
  );
  record(
    "footprint",
    "share of the state that is stored dynamic providers (inputs and outputs)",
    (100 * providers) / state.length,
    "%",
  );
  // Proportional set size (shared memory split between the processes that
  // map it), summed over a service's processes: the machines have no memory
  // accounting per unit.
  const pss = (host: string, match: string) =>
    Number(
      stand.ssh(
        host,
        `for p in $(pgrep ${match}); do awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null; done | awk '{s += $1} END {print s + 0}'`,
      ),
    ) / 1024;
  record(
    "footprint",
    "PostgreSQL, Patroni and PgBouncer on a database host (PSS of the postgres user's processes)",
    pss("pg01", "-u postgres"),
    "MiB",
  );
  record("footprint", "etcd on a database host (PSS)", pss("pg01", "-x etcd"), "MiB");
  record("footprint", "PgBouncer on a database host (PSS)", pss("pg01", "-x pgbouncer"), "MiB");
  record("footprint", "HAProxy (PSS)", pss("haproxy01", "-x haproxy"), "MiB");
}

async function scaleSection(): Promise<void> {
  const three = figures.find((f) => f.what.startsWith("fresh local machines to a healthy cluster"))!.value;
  for (const n of [5, 7]) {
    record("scale", `destroy before the ${n}-node deploy`, await destroy(), "s");
    setPgCount(n);
    const d = await accountedDeploy(`fresh deploy, ${n} PostgreSQL nodes`, "scale");
    record("scale", `fresh deploy, ${n} PostgreSQL nodes (3 etcd)`, d.seconds, "s");
    record("scale", `${n} PostgreSQL nodes against 3: deploy time`, d.seconds / three, "x");
  }
}

/** The switchover and failover figures of the last fault-suite run (npm run faults, or npm test). */
function faultFigures(): string[] {
  const dir = path.join(REPO, "bench", "results");
  const latest = fs
    .readdirSync(dir)
    .filter((f) => /^faults-\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort()
    .at(-1);
  if (!latest) return ["No fault-suite results yet: `npm run faults` writes them."];
  const { meta: m, rows } = JSON.parse(fs.readFileSync(path.join(dir, latest), "utf8")) as {
    meta: { date: string; dcs: string };
    rows: {
      scenario: string;
      profile: string;
      writeUnavailableMs: number;
      wholeAfterMs: number;
      lostAcknowledged: number;
    }[];
  };
  return [
    `From [${latest.replace(".json", ".md")}](${latest.replace(".json", ".md")}) (${m.date.slice(0, 10)}; ${m.dcs}): a client writing through HAProxy 5000 all along.`,
    "",
    "| fault | profile | writes stopped | whole after the heal | acknowledged writes lost |",
    "|---|---|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.profile} | ${(r.writeUnavailableMs / 1000).toFixed(1)} s | ${(r.wholeAfterMs / 1000).toFixed(1)} s | ${r.lostAcknowledged} |`,
    ),
  ];
}

/** A run that failed part-way writes `-incomplete` files: a complete result of the same day stays as it was. */
function writeResults(complete: boolean): string {
  const dir = path.join(REPO, "bench", "results");
  fs.mkdirSync(dir, { recursive: true });
  const stamp =
    new Date().toISOString().slice(0, 10) +
    (only ? `-${only}` : quick ? "-quick" : "") +
    (complete ? "" : "-incomplete");
  const rounds = argValue("--rounds") ? ` --rounds ${argValue("--rounds")}` : "";
  const command = `npm run bench${only ? ` -- --stack ${STACK} --only ${only}${rounds}` : quick ? " -- --quick" : ""}`;
  fs.writeFileSync(
    path.join(dir, `bench-${stamp}.json`),
    JSON.stringify({ meta: { ...meta, command }, figures, timelines }, null, 2) + "\n",
  );
  const fmt = (f: Figure) => f.value.toFixed(f.unit === "s" || f.unit === "CPU s" ? 1 : 2);
  const md = [
    `# Benchmarks, ${stamp}`,
    "",
    `\`${command}\` on the local stand (systemd-nspawn machines sharing the controller's cores).`,
    "",
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    "",
    "| section | what | value | unit | note |",
    "|---|---|---:|---|---|",
    ...figures.map((f) => `| ${f.section} | ${f.what} | ${fmt(f)} | ${f.unit} | ${f.note ?? ""} |`),
    "",
    // A section run alone (--only) deployed nothing and ran no fault.
    ...(only
      ? []
      : [
          "## Where each fresh deploy went",
          "",
          "Seconds since `pulumi up` began; each phase spans its first step's start to its last step's end (phases overlap where",
          "the graph lets them); idle is the time no step ran at all (the program, the engine, the state).",
          "",
          ...timelines.flatMap(({ label, summary }) => [
            `### ${label} (${summary.total.toFixed(1)} s, idle ${summary.idle.toFixed(1)} s)`,
            "",
            "| phase | steps | from | to | span |",
            "|---|---:|---:|---:|---:|",
            ...summary.phases.map(
              (p) =>
                `| ${p.name} | ${p.steps} | ${p.from.toFixed(1)} | ${p.to.toFixed(1)} | ${(p.to - p.from).toFixed(1)} |`,
            ),
            "",
          ]),
          "## Switchover and failover",
          "",
          ...faultFigures(),
          "",
        ]),
  ].join("\n");
  const file = path.join(dir, `bench-${stamp}.md`);
  fs.writeFileSync(file, md);
  return file;
}

async function main(): Promise<void> {
  await stand.select();
  if (only) {
    const sections: Record<string, () => Promise<void>> = {
      tls: tlsSection,
      backup: backupSection,
      monitor: monitorSection,
    };
    if (!sections[only]) throw new Error(`--only ${only}: one of ${Object.keys(sections).join(", ")}`);
    await stand.refreshOutputs();
    readVersions();
    let done = false;
    try {
      await sections[only]();
      done = true;
    } finally {
      console.log(`[bench] results: ${writeResults(done)}`);
      stand.cleanup();
    }
    return;
  }
  await destroy();
  setPgCount(3);
  let complete = false;
  try {
    await deploySection();
    await changesSection();
    await clientPathSection();
    await tlsSection();
    await footprintSection();
    if (stand.hostsWith("monitor").length > 0) await monitorSection();
    if (!quick) await scaleSection();
    complete = true;
  } finally {
    console.log(`[bench] results: ${writeResults(complete)}`);
    record("deploy", "pulumi destroy of the last stand deployed", await destroy(), "s");
    writeResults(complete);
    stand.cleanup();
    fs.rmSync(path.dirname(stepLog), { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
