// RollingRestart: the members whose PostgreSQL reports pending_restart
// restarted in the order src/cluster/restartPlan.ts gives (replicas one at a
// time, each back and streaming before the next, then a switchover), with
// patronictl on a member over SSH. At diff time it asks the cluster what is
// pending, so restarts left by an interrupted run are finished by the next
// `pulumi up`; with the manual policy it only reports them.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";
import { LiveMemberStatus, MemberState, nextRestartAction, withLiveState } from "../cluster/restartPlan";
import { runScript, ShellCommandState, SshConnection } from "./shellCommand";

export interface RollingRestartInputs {
  /** Where patronictl and curl run: every PostgreSQL host (the first that answers is used). */
  hosts: { name: string; connection: SshConnection }[];
  clusterName: string;
  /** REST API URL of every member. */
  restUrls: string[];
  policy: "rolling" | "manual";
  /** What the cluster should now run (the dynamic configuration): a change re-runs the step. */
  triggers: unknown[];
  /** Bound on the whole run. */
  timeoutSeconds: number;
  /** Patroni's loop_wait: how long the DCS may lag behind what the members say. */
  loopWait?: number;
  /** A curl config line with the REST API credentials (secret): to wake the members' HA loops. */
  restAuth?: string;
}

interface RollingRestartOutputs extends RollingRestartInputs {
  /** Members still pending a restart after the last run. */
  pending: string[];
  log: string[];
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

async function onCluster(inputs: RollingRestartInputs, script: string, stdin?: string): Promise<string> {
  let last = "";
  for (const h of inputs.hosts) {
    const state: ShellCommandState = {
      description: `${h.name}: rolling restart of ${inputs.clusterName}`,
      connection: h.connection,
      create: script,
      mask: inputs.restAuth ? [inputs.restAuth] : undefined,
    };
    const r = await runScript(state, script, stdin, 2);
    if (r.code === 0) return r.stdout;
    last = `${h.name}: exit ${r.code}: ${r.output.slice(-600)}`;
    if (r.code !== 255) break; // the host answered: the command itself failed
  }
  throw new Error(`rolling restart of ${inputs.clusterName}: ${last}`);
}

/**
 * The members (GET /cluster from the first member that answers), each with
 * what it says of itself now (its own GET /patroni; see withLiveState).
 * Retried for a while: a switchover makes the REST API busy.
 */
async function members(inputs: RollingRestartInputs): Promise<MemberState[]> {
  const urls = inputs.restUrls.map((u) => `'${u}/cluster'`).join(" ");
  const script = `c=""
for u in ${urls}; do c=$(curl -fsS --max-time 3 "$u") && break; c=""; done
[ -n "$c" ] || exit 1
live='{}'
while read -r name api; do
  s=$(curl -fsS --max-time 3 "$api" 2>/dev/null) || s=null
  live=$(jq -c --arg n "$name" --argjson s "$s" '. + {($n): $s}' <<<"$live")
done < <(jq -r '.members[] | "\\(.name) \\(.api_url)"' <<<"$c")
jq -cn --argjson c "$c" --argjson l "$live" '{cluster: $c, live: $l}'`;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = JSON.parse(await onCluster(inputs, script)) as {
        cluster: { members: MemberState[] };
        live: Record<string, LiveMemberStatus | null>;
      };
      return withLiveState(out.cluster.members, out.live);
    } catch (e) {
      if (attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

const pendingOf = (ms: MemberState[]) =>
  ms
    .filter((m) => m.pending_restart)
    .map((m) => m.name)
    .sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(inputs: RollingRestartInputs): Promise<RollingRestartOutputs> {
  const log: string[] = [];
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  let state = await members(inputs);
  while (inputs.policy === "rolling") {
    const action = nextRestartAction(state);
    if (action.kind === "done") break;
    if (action.kind === "blocked") throw new Error(`rolling restart of ${inputs.clusterName} blocked: ${action.why}`);
    if (Date.now() > deadline)
      throw new Error(
        `rolling restart of ${inputs.clusterName} not done after ${inputs.timeoutSeconds} s; last: ${action.kind} ${action.why}; done: ${log.join("; ")}`,
      );
    if (action.kind === "restart") {
      log.push(`restart ${action.member} (${action.why})`);
      await onCluster(inputs, `patronictl restart --pending --force ${q(inputs.clusterName)} ${q(action.member)} >/dev/null`);
    } else if (action.kind === "switchover") {
      log.push(`switchover ${action.from} -> ${action.to} (${action.why})`);
      await onCluster(
        inputs,
        `patronictl switchover --leader ${q(action.from)} --candidate ${q(action.to)} --force ${q(inputs.clusterName)} >/dev/null`,
      );
    }
    // Let the member go down and come back before planning again.
    await sleep(2000);
    state = await members(inputs);
  }
  if (log.length > 0) await dcsCaughtUp(inputs);
  return { ...inputs, pending: pendingOf(state), log };
}

/**
 * The plan reads what each member says of itself; patronictl list and every
 * other reader of the DCS see a member's state as of its last HA loop. Once
 * the restarts are done, each member's loop is woken (a PATCH /config that
 * changes nothing, see templates/steps/wait-patroni.sh) and the run waits,
 * bounded by a loop, until the DCS shows no pending restart either.
 */
async function dcsCaughtUp(inputs: RollingRestartInputs): Promise<void> {
  if (!inputs.restAuth) return;
  const urls = inputs.restUrls.map((u) => `'${u}'`).join(" ");
  const script = `IFS= read -r auth
deadline=$(($(date +%s) + ${(inputs.loopWait ?? 10) + 5}))
while :; do
  for u in ${urls}; do
    printf '{"pulumi_patroni_wakeup": null}\n' | curl -fsS --max-time 3 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$u/config" >/dev/null 2>&1 || true
  done
  sleep 1
  pending=$(for u in ${urls}; do curl -fsS --max-time 3 "$u/cluster" && break; done | jq -r '[.members[] | select(.pending_restart) | .name] | join(" ")')
  [ -z "$pending" ] && exit 0
  [ "$(date +%s)" -ge "$deadline" ] && { echo "the DCS still shows a pending restart for: $pending"; exit 0; }
done`;
  await onCluster(inputs, script, `${inputs.restAuth}\n`);
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const rollingRestartProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: RollingRestartOutputs, news: RollingRestartInputs) {
    let changes = JSON.stringify(olds.triggers) !== JSON.stringify(news.triggers) || olds.policy !== news.policy;
    const known = !JSON.stringify([news.hosts, news.restUrls]).includes(UNKNOWN);
    if (!changes && known) {
      const pending = pendingOf(await members(news));
      changes = news.policy === "rolling" ? pending.length > 0 : JSON.stringify(pending) !== JSON.stringify(olds.pending ?? []);
    }
    return { changes };
  },
  async create(inputs: RollingRestartInputs) {
    return { id: crypto.randomUUID(), outs: await run(inputs) };
  },
  async update(_id: string, _olds: RollingRestartOutputs, news: RollingRestartInputs) {
    return { outs: await run(news) };
  },
};

export interface RollingRestartArgs {
  readonly hosts: pulumi.Input<{ name: string; connection: pulumi.Input<SshConnection> }[]>;
  readonly clusterName: string;
  readonly restUrls: string[];
  readonly policy: "rolling" | "manual";
  readonly triggers: pulumi.Input<unknown[]>;
  readonly timeoutSeconds: number;
  /** Patroni's loop_wait. */
  readonly loopWait: number;
  /** A curl config line with the REST API credentials (secret). */
  readonly restAuth: pulumi.Input<string>;
}

export class RollingRestart extends pulumi.dynamic.Resource {
  /** Members still pending a restart (the manual policy leaves them to you). */
  declare readonly pending: pulumi.Output<string[]>;
  /** What the last run did. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: RollingRestartArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("rollingRestart", "rollingRestartProvider", rollingRestartProvider),
      name,
      { ...args, pending: undefined, log: undefined },
      { ...opts, additionalSecretOutputs: ["hosts", "restAuth"] },
      "patroni",
      "RollingRestart",
    );
  }
}
