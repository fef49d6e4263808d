// npm run ctl -- [--stack STACK] COMMAND: Patroni operations on a deployed
// stack from the controller, with no login to a host. The cluster is read
// from Patroni's REST API on the first PostgreSQL host that answers; the
// command is checked against it (src/ops/ctl.ts), run there with patronictl
// (its config on the host holds the REST API credentials), and waited for.
import {
  ActiveAlert,
  CtlError,
  ClusterView,
  formatAlerts,
  parseClusterView,
  parseCtlArgs,
  planCtl,
  waitDone,
} from "../src/ops/ctl";
import { readStackOutputs, StackAccess } from "../src/ops/stackAccess";
import { shellQuote } from "../src/render/shellQuote";
import { PATRONI_CONFIG_PATH, POSTGRES_ROLE } from "../src/roles/postgres/slice";
import { MONITOR_ROLE } from "../src/roles/monitor/slice";
import { renderHostScript, scriptsIn } from "../src/steps/stepScript";
import * as path from "path";

// Read on the host: the scope, synchronous_mode and Patroni's view of the cluster.
const VIEW_SCRIPT = `set -e\n${renderHostScript(scriptsIn(path.join(__dirname, "..", "src", "ops"))("cluster-view", { PATRONI_CONFIG: PATRONI_CONFIG_PATH }))}`;

const sudo = (access: StackAccess) => ((access.outputs.ssh?.user ?? "root") === "root" ? "" : "sudo -n ");

/** patronictl with the node's own config (its REST API credentials), named explicitly: sudo may keep the login user's HOME. */
const patronictl = (access: StackAccess) => [
  ...(sudo(access) ? ["sudo", "-n"] : []),
  "patronictl",
  "-c",
  PATRONI_CONFIG_PATH,
];

function readView(access: StackAccess, host: string): ClusterView {
  const r = access.runScript(host, `${sudo(access)}bash -c ${shellQuote(VIEW_SCRIPT)}`, 30_000);
  if (r.code !== 0) throw new Error(`${host}: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  const [scope, synchronousMode, ...json] = r.stdout.split("\n");
  return parseClusterView(scope.trim(), json.join("\n"), synchronousMode.trim());
}

/** The first PostgreSQL host whose Patroni answers, and the cluster as it sees it. */
function findCluster(access: StackAccess): { host: string; view: ClusterView } {
  const errors: string[] = [];
  for (const host of access.hostsWith(POSTGRES_ROLE)) {
    try {
      return { host, view: readView(access, host) };
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  throw new CtlError(`no PostgreSQL host's Patroni answered:\n  ${errors.join("\n  ")}`);
}

/**
 * The alerts firing now, from Alertmanager's API, asked on the monitor host
 * (the controller may not reach its address); silenced and inhibited ones left out.
 */
function firingAlerts(access: StackAccess): string {
  const monitor = access.hostsWith(MONITOR_ROLE)[0];
  const url = access.outputs.alertmanagerUrl as string | undefined;
  if (!monitor || !url) return "Alerts: this stack has no monitor host (give a host the monitor role).";
  const r = access.run(monitor, [
    "curl",
    "-fsS",
    "--max-time",
    "5",
    `${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`,
  ]);
  if (r.code !== 0) throw new Error(`Alertmanager on ${monitor} did not answer: ${(r.stderr || r.stdout).trim()}`);
  return formatAlerts(JSON.parse(r.stdout) as ActiveAlert[], new Date(), monitor);
}

async function main(): Promise<number> {
  const { stack, command } = parseCtlArgs(process.argv.slice(2), process.env.STACK ?? "local");
  const access = new StackAccess(readStackOutputs(stack));
  try {
    let { host, view } = findCluster(access);
    const plan = planCtl(command, view);
    if (plan.summary) console.log(plan.summary);
    if (plan.argv.length === 0) return 0;
    if (command.kind === "status") {
      const list = access.run(host, [...patronictl(access), ...plan.argv]);
      process.stdout.write(list.stdout);
      process.stderr.write(list.stderr);
      console.log(firingAlerts(access));
      return list.code === 0 ? 0 : 1;
    }
    const started = Date.now();
    const r = access.run(host, [...patronictl(access), ...plan.argv], 600_000);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.code !== 0) {
      console.error(`patronictl ${plan.argv[0]} failed on ${host} (exit ${r.code})`);
      return 1;
    }
    if (!plan.wait) return 0;
    const deadline = started + 180_000;
    let announced = false;
    for (;;) {
      try {
        ({ host, view } = findCluster(access));
        if (waitDone(plan.wait, view)) break;
        const wait = plan.wait;
        if (wait.kind === "leader" && !announced && waitDone({ ...wait, replicas: [] }, view)) {
          console.log(
            `${wait.member} leads after ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for ${wait.replicas.join(", ")} to stream from it`,
          );
          announced = true;
        }
      } catch {
        // Patroni restarting or electing: ask again.
      }
      if (Date.now() > deadline) {
        console.error(`not done after 180 s: ${JSON.stringify(view.members.map((m) => [m.name, m.role, m.state]))}`);
        return 1;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const list = access.run(host, [...patronictl(access), "list", view.scope]);
    process.stdout.write(list.stdout);
    return 0;
  } finally {
    access.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof CtlError ? e.message : `ctl: ${(e as Error).message}`);
    process.exit(e instanceof CtlError ? 2 : 1);
  },
);
