// npm run ctl -- [--stack STACK] COMMAND: Patroni operations on a deployed
// stack from the controller, with no login to a host. The cluster is read
// from Patroni's REST API on the first PostgreSQL host that answers; the
// command is checked against it (src/ops/ctl.ts), run there with patronictl
// (its config on the host holds the REST API credentials), and waited for.
import { backupProblems, formatBackups, HostArchive, parseHostArchive, parseInfo } from "../src/ops/backups";
import {
  ActiveAlert,
  CtlCommand,
  CtlError,
  ClusterView,
  formatAlerts,
  formatStatus,
  HostTlsStatus,
  HostWatchdog,
  isBackupCommand,
  parseClusterView,
  parseCtlArgs,
  planCtl,
  waitDone,
} from "../src/ops/ctl";
import { readStackOutputs, StackAccess } from "../src/ops/stackAccess";
import { shellQuote } from "../src/render/shellQuote";
import { ARCHIVE_METRICS_PATH } from "../src/roles/backup/slice";
import { MONITOR_ROLE } from "../src/roles/monitor/monitored";
import { PATRONI_CONFIG_PATH, POSTGRES_ROLE, POSTGRES_SOCKET_DIR, WATCHDOG_DEVICE } from "../src/roles/postgres/slice";
import { renderHostScript, scriptsIn } from "../src/steps/stepScript";
import { TLS_PATHS } from "../src/tls/settings";
import * as path from "path";

const opsScript = scriptsIn(path.join(__dirname, "..", "src", "ops"));
// Read on the host: the scope, synchronous_mode and Patroni's view of the cluster.
const VIEW_SCRIPT = `set -e\n${renderHostScript(opsScript("cluster-view", { PATRONI_CONFIG: PATRONI_CONFIG_PATH }))}`;
// Read on every host: its certificate's end and the CAs it trusts.
const TLS_SCRIPT = `set -e\n${renderHostScript(opsScript("tls-status", { TLS_CERT: TLS_PATHS.cert, TLS_CA: TLS_PATHS.ca }))}`;

// Read on every PostgreSQL host: its watchdog (mode, device, armed by Patroni).
const WATCHDOG_SCRIPT = `set -e\n${renderHostScript(opsScript("watchdog-status", { PATRONI_CONFIG: PATRONI_CONFIG_PATH, DEVICE: WATCHDOG_DEVICE }))}`;

/** Each PostgreSQL host's watchdog (or why it could not be read). */
function readWatchdogs(access: StackAccess): Record<string, HostWatchdog | string> {
  return Object.fromEntries(
    access.hostsWith(POSTGRES_ROLE).map((host) => {
      const r = access.runScript(host, `${sudo(access)}bash -c ${shellQuote(WATCHDOG_SCRIPT)}`, 30_000);
      if (r.code !== 0) return [host, (r.stderr || r.stdout).trim().split("\n").pop() ?? `exit ${r.code}`];
      return [host, JSON.parse(r.stdout) as HostWatchdog];
    }),
  );
}

/** Each host's TLS as its files say (or why it could not be read). */
function readTls(access: StackAccess): Record<string, HostTlsStatus | string> {
  return Object.fromEntries(
    Object.keys(access.outputs.hosts).map((host) => {
      const r = access.runScript(host, `${sudo(access)}bash -c ${shellQuote(TLS_SCRIPT)}`, 30_000);
      if (r.code !== 0) return [host, (r.stderr || r.stdout).trim().split("\n").pop() ?? `exit ${r.code}`];
      return [host, JSON.parse(r.stdout) as HostTlsStatus];
    }),
  );
}

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
  // With TLS Alertmanager serves https with the monitor host's certificate: verified with the cluster's CAs.
  const verify = url.startsWith("https:") ? ["--cacert", TLS_PATHS.ca] : [];
  const r = access.run(monitor, [
    "curl",
    "-fsS",
    "--max-time",
    "5",
    ...verify,
    `${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`,
  ]);
  if (r.code !== 0) throw new Error(`Alertmanager on ${monitor} did not answer: ${(r.stderr || r.stdout).trim()}`);
  return formatAlerts(JSON.parse(r.stdout) as ActiveAlert[], new Date(), monitor);
}

const opsHostScript = (name: string, env: Record<string, string>) =>
  `set -e\n${renderHostScript(opsScript(name, env))}`;

/** The stack's stanza and the repository host that holds it (this stack's, or its source's when restored). */
function repositoryOf(stack: string, access: StackAccess): { stanza: string; repo: StackAccess; host: string } {
  const r = access.outputs.backupRepository as { host?: string; stack?: string; stanza: string } | undefined;
  if (!r)
    throw new CtlError(
      `stack ${stack} has no backups: no host has the backup role, and it was not restored from another stack's repository`,
    );
  if (r.host) return { stanza: r.stanza, repo: access, host: r.host };
  const source = new StackAccess(readStackOutputs(r.stack!));
  const host = (source.outputs.backupRepository as { host?: string } | undefined)?.host;
  if (!host) throw new CtlError(`stack ${r.stack}, whose repository stack ${stack} uses, has no backup host any more`);
  return { stanza: r.stanza, repo: source, host };
}

/** backups, backup, check: pgBackRest on the repository host, the archive's state on each PostgreSQL host. */
function backupCommand(
  stack: string,
  access: StackAccess,
  command: Extract<CtlCommand, { kind: "backups" | "backup" | "check" }>,
): number {
  const { stanza, repo, host } = repositoryOf(stack, access);
  const pgbackrest = (args: string[], timeoutMs = 120_000) =>
    repo.runScript(
      host,
      `cd /tmp && runuser -u postgres -- pgbackrest --stanza=${shellQuote(stanza)} ${args.map(shellQuote).join(" ")}`,
      timeoutMs,
    );
  try {
    if (command.kind === "backup") {
      console.log(`${command.type} backup of stanza ${stanza} on ${host}`);
      const started = Date.now();
      const r = pgbackrest([`--type=${command.type}`, "--log-level-console=info", "backup"], 6 * 3600_000);
      const shown = (r.stdout + r.stderr).split("\n").filter((l) => /new backup label|backup size|WARN|ERROR/.test(l));
      console.log(shown.map((l) => l.replace(/^\S+ \S+ P\d+ +/, "")).join("\n"));
      if (r.code !== 0) {
        console.error(
          `pgbackrest backup failed (exit ${r.code})${r.code === 50 ? ": another backup of the stanza runs (a timer?)" : ""}`,
        );
        return 1;
      }
      console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    }
    const info = pgbackrest(["--output=json", "info"]);
    if (info.code !== 0)
      throw new CtlError(`pgbackrest info failed on ${host}: ${(info.stderr || info.stdout).trim()}`);
    const stanzaInfo = parseInfo(info.stdout, stanza);
    const hosts: HostArchive[] = access.hostsWith(POSTGRES_ROLE).map((h) => {
      const r = access.runScript(
        h,
        opsHostScript("archive-state", {
          STANZA: stanza,
          ARCHIVE_METRICS: ARCHIVE_METRICS_PATH,
          PATRONI_CONFIG: PATRONI_CONFIG_PATH,
          PG_SOCKET_DIR: POSTGRES_SOCKET_DIR,
        }),
        30_000,
      );
      return r.code === 0
        ? parseHostArchive(h, r.stdout)
        : {
            ...parseHostArchive(h, ""),
            unreachable: (r.stderr || r.stdout).trim().split("\n").at(-1) || `exit ${r.code}`,
          };
    });
    if (command.kind === "backups") {
      console.log(formatBackups(stanzaInfo, hosts, `${host}`));
      return stanzaInfo.status.code === 0 ? 0 : 1;
    }
    const check = pgbackrest(["--log-level-console=warn", "check"], 300_000);
    const problems = backupProblems(stanzaInfo, hosts);
    if (check.code !== 0)
      problems.unshift(
        `pgbackrest check failed (exit ${check.code}): ${(check.stdout + check.stderr).trim().split("\n").slice(-3).join(" ")}`,
      );
    if (problems.length === 0) {
      console.log(
        `check: stanza ${stanza} ok: WAL archived from the primary, ${stanzaInfo.backup?.length ?? 0} backup(s), no WAL dropped since the newest`,
      );
      return 0;
    }
    console.error(problems.map((p) => `check: ${p}`).join("\n"));
    return 1;
  } finally {
    if (repo !== access) repo.close();
  }
}

async function main(): Promise<number> {
  const { stack, command } = parseCtlArgs(process.argv.slice(2), process.env.STACK ?? "local");
  const access = new StackAccess(readStackOutputs(stack));
  try {
    if (isBackupCommand(command)) return backupCommand(stack, access, command);
    let { host, view } = findCluster(access);
    if (command.kind === "status") {
      console.log(formatStatus(view, readTls(access), readWatchdogs(access)));
      console.log("");
      console.log(firingAlerts(access));
      return 0;
    }
    const plan = planCtl(command, view);
    if (plan.summary) console.log(plan.summary);
    if (plan.argv.length === 0) return 0;
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
