// TlsRollout: brings the running cluster's TLS where the stack wants it,
// from the controller, host by host over SSH, in the order src/tls/rollout.ts
// plans from what each host says of itself: a plain-text cluster migrated to
// TLS (writes keep flowing, every member keeps reaching etcd), a CA rotated
// bundle-first, or new certificates reloaded without a restart. It runs
// before the hosts' own TLS steps and the roles' steps, which then find their
// files as they want them (a new host, with nothing running yet, is theirs
// alone). Everything it writes comes in its inputs, rendered by the same
// renderers as the roles' files; the host scripts come rendered too (src/tls/).
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { describeStep, HostTlsState, planRollout, RolloutStep, WantedTls } from "../tls/rollout";
import { shellQuote } from "../render/shellQuote";
import { runScript } from "./remoteScript";
import { UNKNOWN } from "./shellCommand";
import { SshConnection } from "./ssh";
import { storedProvider } from "./storedProvider";

/** A file the rollout writes at a stage, and how (write-file.sh's parameters). */
export interface StageFile {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly validate?: string;
}

export interface RolloutHost {
  readonly name: string;
  readonly address: string;
  readonly roles: string[];
  readonly connection: SshConnection;
  /** tls-files.sh's stdin: every final TLS file, and the twin certificate's files. */
  readonly files: { readonly final: string; readonly twin: string };
  readonly serials: { readonly final: string; readonly twin: string };
  /** The files of each component at the migration's stages (only the stages a component goes through). */
  readonly stages: {
    readonly etcd?: { readonly dual: string; readonly tls: string };
    readonly patroni?: { readonly etcd: string; readonly tls: string };
    readonly pgbouncer?: { readonly tls: StageFile[] };
    readonly haproxy?: { readonly tolerant: StageFile; readonly tls: StageFile };
  };
}

/** The host scripts, rendered with the stack's facts; each run gets its parameters in front (withEnv). */
export interface RolloutScripts {
  readonly state: string;
  readonly files: string;
  readonly trust: string;
  readonly reload: string;
  readonly etcdRestart: string;
  readonly etcdStage: string;
  readonly writeFile: string;
  readonly service: string;
  readonly patroniPause: string;
  readonly patroniStage: string;
  readonly leader: string;
  readonly waitRest: string;
}

export interface TlsRolloutInputs {
  enabled: boolean;
  clusterName: string;
  hosts: RolloutHost[];
  /** The CAs every host trusts in the end (PEM), their fingerprints, and the signing CA's. */
  trust: string;
  /** Where the hosts keep it (etcd reads it at start: a newer file means a restart). */
  trustPath: string;
  trustFingerprints: string[];
  issuerFingerprint: string;
  ports: { rest: number; postgres: number; pgbouncer: number; stats: number };
  /** Every member's REST API, as it answers over http (migration) and https. */
  restUrls: { http: string[]; https: string[] };
  /** Every etcd member's client URL over http and over https. */
  etcdEndpoints: { http: string[]; https: string[] };
  /** A member's peer URL once on https, by host. */
  etcdPeerUrls: Record<string, string>;
  timeoutSeconds: number;
  scripts: RolloutScripts;
  /** The secrets the inputs hold (passwords, keys): masked in anything shown. */
  mask: string[];
}

/** The resource's properties: the spec (secret: it holds connections, keys and passwords) and what the last run did. */
export interface RolloutProps {
  spec: TlsRolloutInputs;
}
export interface RolloutOutputs extends RolloutProps {
  log: string[];
}

const withEnv = (env: Record<string, string | number>, script: string) =>
  Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(String(v))}\n`)
    .join("") + script;

/** Runs a script on one host; throws with its output (secrets masked) unless it exits 0. */
async function onHost(
  inputs: TlsRolloutInputs,
  host: RolloutHost,
  what: string,
  script: string,
  stdin?: string,
): Promise<string> {
  const r = await runScript(
    {
      description: `${host.name}: TLS rollout: ${what}`,
      connection: host.connection,
      timeoutSeconds: inputs.timeoutSeconds,
      mask: inputs.mask,
    },
    script,
    stdin,
    3,
  );
  if (r.code !== 0)
    throw new Error(`${host.name}: TLS rollout: ${what} failed (exit ${r.code}):\n${r.output.slice(-3000)}`);
  return r.stdout;
}

const fingerprints = (pem: string): string[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => new crypto.X509Certificate(m[0]).fingerprint256,
  );

const normalSerial = (s: string) => s.toUpperCase().replace(/^0+/, "");

export interface StateReport {
  trust: string;
  certificate: string;
  etcd: { stage: string; active: boolean };
  patroni: { stage: string; active: boolean };
  pgbouncer: { stage: string; active: boolean };
  haproxy: { stage: string; active: boolean };
}

const COMPONENTS = ["etcd", "patroni", "pgbouncer", "haproxy"] as const;

/**
 * The stage of each component this stack runs on the host; "none" for the
 * others, whatever file the host has: a package installed there by someone
 * else (the bench installs the database packages on the HAProxy host) writes
 * its own default config, which is not ours to migrate.
 */
export function ownStages(h: Pick<RolloutHost, "stages">, r: StateReport) {
  return Object.fromEntries(COMPONENTS.map((c) => [c, h.stages[c] ? r[c].stage : "none"])) as Pick<
    HostTlsState,
    (typeof COMPONENTS)[number]
  >;
}

async function readStates(inputs: TlsRolloutInputs): Promise<HostTlsState[]> {
  return Promise.all(
    inputs.hosts.map(async (h) => {
      const r = JSON.parse(await onHost(inputs, h, "read its TLS state", inputs.scripts.state)) as StateReport;
      const pem = (b64: string) => Buffer.from(b64, "base64").toString();
      const cert = r.certificate ? new crypto.X509Certificate(pem(r.certificate)) : undefined;
      return {
        name: h.name,
        roles: h.roles,
        trust: r.trust ? fingerprints(pem(r.trust)) : [],
        serial: cert ? normalSerial(cert.serialNumber) : undefined,
        ...ownStages(h, r),
        running: COMPONENTS.filter((c) => h.stages[c] && r[c].active),
      } as HostTlsState;
    }),
  );
}

function wantedOf(inputs: TlsRolloutInputs): WantedTls {
  return {
    trust: inputs.trustFingerprints,
    issuer: inputs.issuerFingerprint,
    serials: Object.fromEntries(
      inputs.hosts.map((h) => [h.name, { final: normalSerial(h.serials.final), twin: normalSerial(h.serials.twin) }]),
    ),
  };
}

const postgresHosts = (inputs: TlsRolloutInputs) => inputs.hosts.filter((h) => h.roles.includes("postgres"));

/** The leader's name, from the first member whose REST API answers (either scheme). */
async function leaderOf(inputs: TlsRolloutInputs): Promise<string | undefined> {
  const first = postgresHosts(inputs)[0];
  if (!first) return undefined;
  const urls = [...inputs.restUrls.https, ...inputs.restUrls.http].join(" ");
  const out = await onHost(inputs, first, "find the leader", withEnv({ MEMBER_URLS: urls }, inputs.scripts.leader));
  return out.trim() || undefined;
}

/** The ports of `h` that present its certificate once its services reloaded, given their stages. */
export function tlsPorts(inputs: TlsRolloutInputs, state: HostTlsState): { units: string[]; ports: string[] } {
  const units: string[] = [];
  const ports: string[] = [];
  // A stopped service presents nothing: it reads the new files when it starts (a restored
  // stack's Patroni stopped after a failed restore, say).
  const runs = (c: "patroni" | "pgbouncer" | "haproxy") => state.running?.includes(c) ?? true;
  if ((state.patroni === "etcd" || state.patroni === "tls") && runs("patroni")) {
    units.push("patroni");
    ports.push(`${inputs.ports.postgres}:postgres`);
    if (state.patroni === "tls") ports.push(`${inputs.ports.rest}:-`);
  }
  if (state.pgbouncer === "tls" && runs("pgbouncer")) {
    units.push("pgbouncer");
    ports.push(`${inputs.ports.pgbouncer}:postgres`);
  }
  if (state.haproxy === "tls" && runs("haproxy")) {
    units.push("haproxy");
    ports.push(`${inputs.ports.stats}:-`);
  }
  // pgBackRest's TLS server (the backup role, which needs TLS): reloaded to read the new files
  // where it runs (tls-reload.sh skips a unit that does not). Its port is not checked yet.
  units.push("pgbackrest");
  return { units, ports };
}

async function runStep(
  inputs: TlsRolloutInputs,
  step: RolloutStep,
  states: Map<string, HostTlsState>,
  paused: { byUs: boolean },
): Promise<void> {
  const s = inputs.scripts;
  const hostOf = (name: string) => inputs.hosts.find((h) => h.name === name)!;
  const firstDb = postgresHosts(inputs)[0];
  const what = describeStep(step);
  switch (step.kind) {
    case "files": {
      const h = hostOf(step.host);
      await onHost(inputs, h, what, s.files, h.files[step.set]);
      if (!step.reload) return;
      const { units, ports } = tlsPorts(inputs, states.get(h.name)!);
      const env = {
        UNITS: units.join(" "),
        PORTS: ports.join(" "),
        ADDRESS: h.address,
        SERIAL: normalSerial(h.serials[step.set]),
        TIMEOUT: 60,
      };
      await onHost(inputs, h, what, withEnv(env, s.reload));
      return;
    }
    case "trust": {
      const h = hostOf(step.host);
      await onHost(inputs, h, what, s.trust, inputs.trust);
      const { units } = tlsPorts(inputs, states.get(h.name)!);
      await onHost(
        inputs,
        h,
        what,
        withEnv({ UNITS: units.join(" "), PORTS: "", ADDRESS: h.address, SERIAL: "", TIMEOUT: 60 }, s.reload),
      );
      return;
    }
    case "etcd-restart": {
      const members = inputs.etcdEndpoints.https.length;
      await onHost(
        inputs,
        hostOf(step.host),
        what,
        withEnv({ MEMBERS: members, TIMEOUT: 120, FILES: inputs.trustPath }, s.etcdRestart),
      );
      return;
    }
    case "etcd-stage": {
      const h = hostOf(step.host);
      const env = {
        STAGE: step.stage,
        NAME: h.name,
        PEER_URL: inputs.etcdPeerUrls[h.name],
        // dual: some members still answer http only; tls: every member answers https by now.
        HEALTH_ENDPOINTS: (step.stage === "dual" ? inputs.etcdEndpoints.http : inputs.etcdEndpoints.https).join(","),
        MEMBERS: inputs.etcdEndpoints.https.length,
        TIMEOUT: 120,
      };
      await onHost(inputs, h, what, withEnv(env, s.etcdStage), h.stages.etcd![step.stage]);
      return;
    }
    case "haproxy-stage": {
      const h = hostOf(step.host);
      await writeFile(inputs, h, what, h.stages.haproxy![step.stage]);
      await onHost(inputs, h, what, withEnv({ UNIT: "haproxy", ACTION: "reload" }, s.service));
      return;
    }
    case "pgbouncer-stage": {
      const h = hostOf(step.host);
      for (const f of h.stages.pgbouncer!.tls) await writeFile(inputs, h, what, f);
      await onHost(inputs, h, what, withEnv({ UNIT: "pgbouncer", ACTION: "reload" }, s.service));
      return;
    }
    case "patroni-pause": {
      const out = await onHost(inputs, firstDb, what, withEnv({ ACTION: "pause" }, s.patroniPause));
      paused.byUs = out.trim() === "paused";
      return;
    }
    case "patroni-resume": {
      if (paused.byUs) await onHost(inputs, firstDb, what, withEnv({ ACTION: "resume" }, s.patroniPause));
      return;
    }
    case "patroni-stage": {
      const h = hostOf(step.host);
      const i = postgresHosts(inputs).indexOf(h);
      // Still plain http on its REST API after this stage.
      const env = { ACTION: "restart", NAME: h.name, REST: inputs.restUrls.http[i], TIMEOUT: 120 };
      await onHost(inputs, h, what, withEnv(env, s.patroniStage), h.stages.patroni!.etcd);
      return;
    }
    case "patroni-tls": {
      await Promise.all(
        step.hosts.map((name) => {
          const h = hostOf(name);
          const i = postgresHosts(inputs).indexOf(h);
          const env = { ACTION: "reload", NAME: h.name, REST: inputs.restUrls.https[i], TIMEOUT: 120 };
          return onHost(inputs, h, what, withEnv(env, s.patroniStage), h.stages.patroni!.tls);
        }),
      );
      await onHost(
        inputs,
        firstDb,
        what,
        withEnv({ MEMBER_URLS: inputs.restUrls.https.join(" "), TIMEOUT: 60 }, s.waitRest),
      );
      return;
    }
  }
}

async function writeFile(inputs: TlsRolloutInputs, h: RolloutHost, what: string, f: StageFile): Promise<void> {
  const env = {
    TARGET: f.path,
    FILE_MODE: f.mode,
    FILE_OWNER: f.owner,
    FILE_GROUP: f.group,
    ...(f.validate ? { VALIDATE: f.validate } : {}),
  };
  await onHost(inputs, h, what, withEnv(env, inputs.scripts.writeFile), f.content);
}

/** A step's effect on the planner's view of a host (for the reloads of later steps). */
function advance(states: Map<string, HostTlsState>, step: RolloutStep): void {
  const set = (host: string, patch: Partial<HostTlsState>) => states.set(host, { ...states.get(host)!, ...patch });
  if (step.kind === "etcd-stage") set(step.host, { etcd: step.stage });
  if (step.kind === "patroni-stage") set(step.host, { patroni: step.stage });
  if (step.kind === "patroni-tls") for (const h of step.hosts) set(h, { patroni: "tls" });
  if (step.kind === "pgbouncer-stage") set(step.host, { pgbouncer: "tls" });
  if (step.kind === "haproxy-stage") set(step.host, { haproxy: step.stage });
}

/** What each host said of itself, against what the stack wants: why the plan was what it was. */
function describeStates(states: readonly HostTlsState[], wanted: WantedTls): string {
  return states
    .map((h) => {
      const serial =
        h.serial === wanted.serials[h.name]?.final
          ? "final certificate"
          : `certificate ${h.serial ?? "none"} (final ${wanted.serials[h.name]?.final})`;
      const trust =
        h.trust.length === wanted.trust.length && h.trust.every((t) => wanted.trust.includes(t))
          ? "trust as wanted"
          : `trusts ${h.trust.length} CA(s), ${wanted.trust.length} wanted`;
      const components = COMPONENTS.filter((c) => h[c] !== "none").map(
        (c) => `${c} ${h[c]}${h.running && !h.running.includes(c) ? " (stopped)" : ""}`,
      );
      return `${h.name}: ${[serial, trust, ...components].join(", ")}`;
    })
    .join("; ");
}

async function run(inputs: TlsRolloutInputs): Promise<RolloutOutputs> {
  if (!inputs.enabled) return { spec: inputs, log: [] };
  const states = await readStates(inputs);
  const needsLeader = states.some((h) => h.patroni === "plain");
  const steps = planRollout(states, wantedOf(inputs), needsLeader ? await leaderOf(inputs) : undefined);
  const byName = new Map(states.map((h) => [h.name, h]));
  const log: string[] = [];
  const paused = { byUs: false };
  try {
    for (const step of steps) {
      const started = Date.now();
      await runStep(inputs, step, byName, paused);
      advance(byName, step);
      log.push(`${describeStep(step)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  } catch (e) {
    // Leave no cluster paused behind a failure: Patroni must act on real faults.
    if (paused.byUs && !log.some((l) => l.startsWith("Patroni resumed"))) {
      await runStep(inputs, { kind: "patroni-resume" }, byName, paused).catch(() => undefined);
    }
    throw new Error(
      `TLS rollout of ${inputs.clusterName} stopped; done: ${log.join("; ") || "nothing"}. ${(e as Error).message}\n` +
        `It had planned: ${steps.map(describeStep).join("; ")}, from what the hosts said: ${describeStates(states, wantedOf(inputs))}`,
      { cause: e },
    );
  }
  return { spec: inputs, log };
}

/** The inputs that decide what the hosts should have (not how they are reached). */
const wantedState = (i: TlsRolloutInputs) =>
  JSON.stringify([
    i.enabled,
    i.trust,
    i.ports,
    i.hosts.map((h) => [h.name, h.roles, h.files, h.serials, h.stages, h.connection?.hostKey ?? ""]),
  ]);

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const tlsRolloutProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<RolloutProps>, news: RolloutProps) {
    const failures =
      olds?.spec?.enabled === true && news.spec.enabled === false
        ? [
            {
              property: "enabled",
              reason:
                "tls.enabled: turning TLS off on a stack that runs it is not supported (every client would have to drop verification, and etcd would serve anyone again); keep tls.enabled: true, or deploy a new stack without TLS and move the data",
            },
          ]
        : [];
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: RolloutOutputs, news: RolloutProps) {
    // At preview the whole spec is unknown (the UNKNOWN string) when a host's
    // connection is about to change, e.g. a machine powered on again.
    const spec: unknown = news.spec;
    const known = typeof spec === "object" && spec !== null && !JSON.stringify(spec).includes(UNKNOWN);
    return { changes: !known || wantedState(olds.spec) !== wantedState(news.spec) };
  },
  async create(inputs: RolloutProps) {
    return { id: crypto.randomUUID(), outs: await run(inputs.spec) };
  },
  async update(_id: string, _olds: RolloutOutputs, news: RolloutProps) {
    return { outs: await run(news.spec) };
  },
};

export class TlsRollout extends pulumi.dynamic.Resource {
  /** What the last run did, step by step. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, spec: pulumi.Input<TlsRolloutInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("tlsRollout", "tlsRolloutProvider", tlsRolloutProvider),
      name,
      { spec, log: undefined },
      { ...opts, additionalSecretOutputs: ["spec"] },
      "patroni",
      "TlsRollout",
    );
  }
}
