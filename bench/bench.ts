// npm run bench: what the provisioner and the client path cost, measured in
// one run on the bench stand (Pulumi.bench.yaml), printed as it goes and
// written to bench/results/bench-<date>.{json,md}:
//   1. a fresh deploy (warm apt cache) and the floor it is made of, each
//      part timed alone on the idle stand: a database host's package
//      installation, initdb and a first start, one replica's base backup;
//   2. no-change up, a reload-only change, a rolling-restart change, adding
//      and removing a replica;
//   3. fresh deploys with 5 and 7 PostgreSQL nodes (skipped with --quick);
//   4. pgbench from the client host, the paths run alternately in the same
//      session: straight to the primary, to its PgBouncer, and through
//      HAProxy 5000 and PgBouncer;
//   5. memory of each service and the size of the state.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "../test/helpers/pulumiCli";
import { Stand } from "../test/helpers/stand";
import { leaderOf, patroniCluster, waitWhole } from "../test/harness/clusterState";
import { standTargets } from "../test/harness/scenario";
import { packagesFor } from "../src/platform/platform";
import { renderStepScript } from "../src/steps/stepScript";

const STACK = "bench";
const quick = process.argv.includes("--quick");
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "bench-stand-passphrase" });
const figures: { section: string; what: string; value: number; unit: string; note?: string }[] = [];
const record = (section: string, what: string, value: number, unit: string, note?: string) => {
  figures.push({ section, what, value, unit, note });
  console.log(`[bench] ${section} | ${what}: ${value.toFixed(unit === "s" ? 1 : 2)} ${unit}${note ? ` (${note})` : ""}`);
};

async function timedUp(label: string): Promise<number> {
  await stand.up(label);
  return stand.timings[label];
}

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

async function deploySection(): Promise<void> {
  let seconds = 0;
  const peak = await peakControllerMemory(async () => {
    seconds = await timedUp("fresh deploy, 3 PostgreSQL nodes");
  });
  record("deploy", "fresh local machines to a healthy cluster (warm apt cache), 3 PostgreSQL nodes", seconds, "s");
  record("footprint", "controller memory during that pulumi up (peak RSS of the pulumi and node processes)", peak, "MiB");
  // The floor, each part alone on the otherwise idle stand. The HAProxy host
  // has none of the database packages: install them there as a database host would.
  const t0 = Date.now();
  const install = renderStepScript("install-packages", { PACKAGES: packagesFor(["etcd", "postgres", "pgbouncer"], 17).join(" ") });
  stand.ssh("haproxy01", "bash -s >/dev/null 2>&1", install, 900_000);
  const packages = (Date.now() - t0) / 1000;
  record("deploy floor", "package installation alone on one machine (a database host's packages, warm apt cache)", packages, "s");
  const t1 = Date.now();
  stand.ssh(
    "haproxy01",
    "set -e; d=$(mktemp -d); chown postgres $d; cd /; runuser -u postgres -- /usr/lib/postgresql/17/bin/initdb -D $d/data >/dev/null; runuser -u postgres -- /usr/lib/postgresql/17/bin/pg_ctl -D $d/data -o '-c listen_addresses= -k /tmp' -w start >/dev/null; runuser -u postgres -- /usr/lib/postgresql/17/bin/pg_ctl -D $d/data -w stop >/dev/null; rm -rf $d",
  );
  const bootstrap = (Date.now() - t1) / 1000;
  record("deploy floor", "bootstrap of the first node alone (initdb and a first start, what Patroni's bootstrap runs)", bootstrap, "s");
  // A replica's base backup alone, on the deployed stand.
  const targets = standTargets(stand, STACK);
  const leader = leaderOf(await patroniCluster(targets.whole.restUrls))!;
  const replica = stand.hostsWith("postgres").find((h) => h !== leader)!;
  const t2 = Date.now();
  stand.ssh(replica, `patronictl reinit ${STACK} ${replica} --force --wait >/dev/null`);
  await waitWhole(targets.whole, 120_000);
  const reinit = (Date.now() - t2) / 1000;
  record("deploy floor", "one replica's base backup alone (patronictl reinit, until streaming)", reinit, "s");
  const floor = packages + bootstrap + reinit;
  record("deploy", "the deploy as a ratio to its floor (packages + bootstrap + base backup, each alone)", seconds / floor, "x");
}

async function changesSection(): Promise<void> {
  await timedUp("no-change up");
  record("day-2", "no-change pulumi up", stand.timings["no-change up"], "s");
  stand.editConfig((c) => {
    c["pulumi-patroni:cluster"].parameters.work_mem = "8MB";
  });
  await timedUp("reload change");
  record("day-2", "reload-only change (work_mem)", stand.timings["reload change"], "s");
  stand.editConfig((c) => {
    c["pulumi-patroni:cluster"].parameters.max_connections = 250;
  });
  await timedUp("rolling change");
  record("day-2", "restart-needing change, rolling (max_connections 200 -> 250)", stand.timings["rolling change"], "s");
  setPgCount(4);
  await timedUp("add replica");
  record("day-2", "adding one replica (pg04: machine, packages, base backup, HAProxy)", stand.timings["add replica"], "s");
  setPgCount(3);
  await timedUp("remove replica");
  record("day-2", "removing it again", stand.timings["remove replica"], "s");
}

interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

function pgbench(target: string, args: string): PgbenchResult {
  // The password travels on stdin, never on a command line.
  const out = stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" pgbench -n ${args} "${target} user=postgres dbname=app connect_timeout=5" 2>&1`,
    stand.superuserPassword,
    120_000,
  );
  const tps = Number(out.match(/tps = ([\d.]+)/)?.[1]);
  const latency = Number(out.match(/latency average = ([\d.]+) ms/)?.[1]);
  if (!Number.isFinite(tps)) throw new Error(`pgbench ${args} against ${target}: no tps in\n${out}`);
  return { tps, latencyMs: latency };
}

async function clientPathSection(): Promise<void> {
  const leader = leaderOf(await patroniCluster(standTargets(stand, STACK).whole.restUrls))!;
  const addr = stand.address(leader);
  const haproxy = new URL(stand.outputs.primaryUri);
  const paths: Record<string, string> = {
    direct: `host=${addr} port=5432`,
    pgbouncer: `host=${addr} port=6432`,
    "haproxy+pgbouncer": `host=${haproxy.hostname} port=${haproxy.port}`,
  };
  stand.ssh(
    "client01",
    `PGPASSWORD="$(cat)" pgbench -i -q -s 10 "${paths.direct} user=postgres dbname=app" >/dev/null 2>&1`,
    stand.superuserPassword,
  );
  const seconds = 8;
  for (const script of ["-S", ""]) {
    for (const connect of ["", "-C"]) {
      for (const clients of [1, 10]) {
        const args = `${script} ${connect} -c ${clients} -j ${Math.min(clients, 2)} -T ${seconds}`.replace(/\s+/g, " ").trim();
        const runs: Record<string, PgbenchResult[]> = { direct: [], pgbouncer: [], "haproxy+pgbouncer": [] };
        // Alternate the paths, twice, so drift on the shared cores hits all of them alike.
        for (let round = 0; round < 2; round++) {
          for (const [name, target] of Object.entries(paths)) runs[name].push(pgbench(target, args));
        }
        const mean = (rs: PgbenchResult[], k: keyof PgbenchResult) => rs.reduce((a, r) => a + r[k], 0) / rs.length;
        const label = `${script === "-S" ? "select-only" : "TPC-B-like"}, ${connect ? "new connection per transaction" : "persistent"}, ${clients} client${clients > 1 ? "s" : ""}`;
        for (const name of Object.keys(paths)) {
          record(
            "client path",
            `${label}: ${name} tps`,
            mean(runs[name], "tps"),
            "tps",
            `latency ${mean(runs[name], "latencyMs").toFixed(2)} ms`,
          );
        }
        record(
          "client path",
          `${label}: haproxy+pgbouncer / direct`,
          mean(runs["haproxy+pgbouncer"], "tps") / mean(runs.direct, "tps"),
          "x",
        );
      }
    }
  }
}

async function footprintSection(): Promise<void> {
  const state = (await stand.run(["stack", "export"])).stdout;
  const resources = (JSON.parse(state).deployment?.resources ?? []).length;
  record("footprint", `state size (${resources} resources)`, state.length / 1e6, "MB");
  record("footprint", "state size per host", state.length / 1e6 / Object.keys(stand.outputs.hosts).length, "MB");
  // Each dynamic resource stores its serialized provider: how much of the state that is.
  const providers = (JSON.parse(state).deployment?.resources ?? []).reduce(
    (sum: number, r: { inputs?: { __provider?: string }; outputs?: { __provider?: string } }) =>
      sum + (r.inputs?.__provider?.length ?? 0) + (r.outputs?.__provider?.length ?? 0),
    0,
  );
  record(
    "footprint",
    "share of the state that is serialized dynamic providers (inputs and outputs)",
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
  for (const n of [5, 7]) {
    record("scale", `destroy before the ${n}-node deploy`, await destroy(), "s");
    setPgCount(n);
    await timedUp(`fresh deploy, ${n} PostgreSQL nodes`);
    record("scale", `fresh deploy, ${n} PostgreSQL nodes (3 etcd)`, stand.timings[`fresh deploy, ${n} PostgreSQL nodes`], "s");
  }
}

function writeResults(): string {
  const dir = path.join(REPO, "bench", "results");
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 10) + (quick ? "-quick" : "");
  const meta = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    command: `npm run bench${quick ? " -- --quick" : ""}`,
  };
  fs.writeFileSync(path.join(dir, `bench-${stamp}.json`), JSON.stringify({ meta, figures }, null, 2) + "\n");
  const md = [
    `# Benchmarks, ${stamp}`,
    "",
    `${meta.machine}; \`${meta.command}\`; the local stand (systemd-nspawn machines sharing the cores).`,
    "",
    "| section | what | value | unit | note |",
    "|---|---|---:|---|---|",
    ...figures.map((f) => `| ${f.section} | ${f.what} | ${f.value.toFixed(f.unit === "s" ? 1 : 2)} | ${f.unit} | ${f.note ?? ""} |`),
    "",
  ].join("\n");
  const file = path.join(dir, `bench-${stamp}.md`);
  fs.writeFileSync(file, md);
  return file;
}

async function main(): Promise<void> {
  await stand.select();
  await destroy();
  setPgCount(3);
  try {
    await deploySection();
    await changesSection();
    await clientPathSection();
    await footprintSection();
    if (!quick) await scaleSection();
  } finally {
    console.log(`[bench] results: ${writeResults()}`);
    record("deploy", "pulumi destroy of the last stand deployed", await destroy(), "s");
    writeResults();
    stand.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
