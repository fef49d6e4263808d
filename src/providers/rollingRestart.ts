// RollingRestart: the members whose PostgreSQL reports pending_restart
// restarted in the order src/patroni/restartPlan.ts gives (replicas one at a
// time, each back and streaming before the next, then a switchover), with
// patronictl on a member over SSH. At diff time it asks the cluster what is
// pending, so restarts left by an interrupted run are finished by the next
// `pulumi up`; with the manual policy it only reports them. The host scripts
// it runs come in its inputs (rendered from the postgres role's templates).
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { MemberSelf } from "../patroni/rest";
import { MemberState, nextRestartAction, withLiveState } from "../patroni/restartPlan";
import { shellQuote } from "../render/shellQuote";
import { runScript, ScriptTarget } from "./remoteScript";
import { SshConnection } from "./ssh";
import { storedProvider } from "./storedProvider";

/** The host scripts of a rolling restart, rendered. */
export interface RollingRestartScripts {
  /** Prints {cluster: GET /cluster, live: {name: GET /patroni or null}}. */
  members: string;
  /** Restarts member $MEMBER. */
  restart: string;
  /** Switches over from $FROM to $TO. */
  switchover: string;
  /** Wakes every member's loop until the DCS shows no pending restart; stdin: the REST auth line. */
  settle: string;
}

export interface RollingRestartInputs {
  /** Where patronictl and curl run: every PostgreSQL host (the first that answers is used). */
  hosts: { name: string; connection: SshConnection }[];
  clusterName: string;
  policy: "rolling" | "manual";
  /** What the cluster should now run (the dynamic configuration): a change re-runs the step. */
  triggers: unknown[];
  /** Bound on the whole run. */
  timeoutSeconds: number;
  /** A curl config line with the REST API credentials (secret): to wake the members' HA loops. */
  restAuth?: string;
  scripts: RollingRestartScripts;
}

interface RollingRestartOutputs extends RollingRestartInputs {
  /** Members still pending a restart after the last run. */
  pending: string[];
  log: string[];
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Variables set in front of a script, quoted. */
const withEnv = (env: Record<string, string>, script: string) =>
  Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join("") + script;

async function onCluster(inputs: RollingRestartInputs, script: string, stdin?: string): Promise<string> {
  let last = "";
  for (const h of inputs.hosts) {
    const target: ScriptTarget = {
      description: `${h.name}: rolling restart of ${inputs.clusterName}`,
      connection: h.connection,
      mask: inputs.restAuth ? [inputs.restAuth] : undefined,
    };
    const r = await runScript(target, script, stdin, 2);
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
async function members(inputs: RollingRestartInputs, attempts = 10): Promise<MemberState[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = JSON.parse(await onCluster(inputs, inputs.scripts.members)) as {
        cluster: { members: MemberState[] };
        live: Record<string, MemberSelf | null>;
      };
      return withLiveState(out.cluster.members, out.live);
    } catch (e) {
      if (attempt >= attempts) throw e;
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
      await onCluster(inputs, withEnv({ MEMBER: action.member }, inputs.scripts.restart));
    } else if (action.kind === "switchover") {
      log.push(`switchover ${action.from} -> ${action.to} (${action.why})`);
      await onCluster(inputs, withEnv({ FROM: action.from, TO: action.to }, inputs.scripts.switchover));
    }
    // Let the member go down and come back before planning again.
    await sleep(2000);
    state = await members(inputs);
  }
  if (log.length > 0) await dcsCaughtUp(inputs);
  return { ...inputs, pending: pendingOf(state), log };
}

/** Every member's loop woken until the DCS shows no pending restart either (scripts.settle). */
async function dcsCaughtUp(inputs: RollingRestartInputs): Promise<void> {
  if (inputs.restAuth) await onCluster(inputs, inputs.scripts.settle, `${inputs.restAuth}\n`);
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const rollingRestartProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: RollingRestartOutputs, news: RollingRestartInputs) {
    let changes = JSON.stringify(olds.triggers) !== JSON.stringify(news.triggers) || olds.policy !== news.policy;
    const known = !JSON.stringify([news.hosts, news.scripts]).includes(UNKNOWN);
    if (!changes && known) {
      // A cluster that does not answer the way these scripts ask (the REST API
      // about to move to https, say) is asked again when the step runs.
      let state: MemberState[];
      try {
        state = await members(news, 1);
      } catch {
        return { changes: true };
      }
      const pending = pendingOf(state);
      changes =
        news.policy === "rolling" ? pending.length > 0 : JSON.stringify(pending) !== JSON.stringify(olds.pending ?? []);
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
  readonly policy: "rolling" | "manual";
  readonly triggers: pulumi.Input<unknown[]>;
  readonly timeoutSeconds: number;
  /** A curl config line with the REST API credentials (secret). */
  readonly restAuth: pulumi.Input<string>;
  readonly scripts: RollingRestartScripts;
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
