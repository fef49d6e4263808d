// What the TLS rollout (src/providers/tlsRollout.ts) does to a running
// cluster, planned from what each host says of itself (tls-state.sh): the
// migration of a plain-text cluster (stages.ts: MIGRATION), a CA rotation
// bundle-first, or new certificates. Pure: the provider runs the steps.
//
// A CA rotation goes bundle-first, one pass after the other over every host:
//   1. trust: each host that does not trust the new CA yet trusts it too (for
//      the generated CA it does already: the next CA is trusted since the
//      last rotation); etcd reads its CA file at start only, so its members
//      restart, one at a time;
//   2. new certificates from the new CA (their twins: see HostCertificate),
//      database hosts first, HAProxy's last (its checks show its certificate
//      to every REST API, which must trust the new CA by then);
//   3. the old CA dropped: the final trust and the final certificates (a new
//      serial again, so Patroni's REST API reloads the trust too), etcd
//      members restarted one at a time.
// New certificates alone (renewal, rotation, new names) are pass 2 with the
// final certificates: every service reloads, nothing restarts.
import { ComponentStages, EtcdStage, HaproxyStage, PatroniStage, PgbouncerStage, stageAtLeast } from "./stages";

/** A component's file on a host: none (the host does not run it), or the stage it says it is at. */
export type Observed<S> = S | "none";

export interface HostTlsState {
  readonly name: string;
  readonly roles: readonly string[];
  /** SHA-256 fingerprints of the CAs in its ca.crt. */
  readonly trust: readonly string[];
  /** Serial of its certificate (uppercase hex, no leading zeros), if it has one. */
  readonly serial?: string;
  readonly etcd: Observed<EtcdStage>;
  readonly patroni: Observed<PatroniStage>;
  readonly pgbouncer: Observed<PgbouncerStage>;
  readonly haproxy: Observed<HaproxyStage>;
  /** The components whose service runs now (a stopped one reads its new files when it starts). */
  readonly running?: readonly ("etcd" | "patroni" | "pgbouncer" | "haproxy")[];
}

export interface WantedTls {
  /** Fingerprints of the CAs every host must trust in the end. */
  readonly trust: readonly string[];
  /** The CA that signs the certificates. */
  readonly issuer: string;
  /** Per host: the serial of its final certificate and of its twin. */
  readonly serials: Readonly<Record<string, { readonly final: string; readonly twin: string }>>;
}

export type RolloutStep =
  /** Write the host's TLS files (final, or the twin certificate); reload what uses them and wait for the new serial. */
  | { readonly kind: "files"; readonly host: string; readonly set: "final" | "twin"; readonly reload: boolean }
  /** Add the wanted CAs to the host's trust; reload what reads it. */
  | { readonly kind: "trust"; readonly host: string }
  /** Restart one etcd member for its new trust, and wait until every member is healthy. */
  | { readonly kind: "etcd-restart"; readonly host: string }
  | { readonly kind: "haproxy-stage"; readonly host: string; readonly stage: "tolerant" | "tls" }
  | { readonly kind: "etcd-stage"; readonly host: string; readonly stage: "dual" | "tls" }
  | { readonly kind: "patroni-pause" }
  | { readonly kind: "patroni-stage"; readonly host: string; readonly stage: "etcd" }
  /** Every listed member's REST API to https and pg_hba to hostssl, at once (a reload each), then every REST API answering https. */
  | { readonly kind: "patroni-tls"; readonly hosts: readonly string[] }
  | { readonly kind: "patroni-resume" }
  | { readonly kind: "pgbouncer-stage"; readonly host: string };

/** Whether a host has anything of the stack yet (a component's file, or TLS files). */
const deployed = (h: HostTlsState) =>
  h.serial !== undefined || [h.etcd, h.patroni, h.pgbouncer, h.haproxy].some((s) => s !== "none");

const behind = <K extends keyof Omit<ComponentStages, "client">>(
  h: HostTlsState,
  component: K,
  stage: ComponentStages[K],
): boolean => {
  const observed = h[component] as Observed<ComponentStages[K]>;
  return observed !== "none" && !stageAtLeast(component, observed, stage);
};

/** Whether a host's services use TLS at all (then new files need a reload). */
const usesTls = (h: HostTlsState) =>
  [h.etcd, h.patroni, h.pgbouncer, h.haproxy].some((s) => s !== "none" && s !== "plain");

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** Database hosts first, then HAProxy's, then the rest (each in configuration order). */
function passOrder(hosts: readonly HostTlsState[]): HostTlsState[] {
  const rank = (h: HostTlsState) =>
    h.roles.includes("postgres") || h.roles.includes("pgbouncer") ? 0 : h.roles.includes("haproxy") ? 1 : 2;
  return [...hosts].sort((a, b) => rank(a) - rank(b));
}

/** The migration of hosts still (partly) in plain text, in MIGRATION's order. */
function migration(hosts: readonly HostTlsState[], leader: string | undefined): RolloutStep[] {
  const steps: RolloutStep[] = [];
  for (const h of hosts) steps.push({ kind: "files", host: h.name, set: "final", reload: usesTls(h) });
  for (const h of hosts.filter((x) => behind(x, "haproxy", "tolerant")))
    steps.push({ kind: "haproxy-stage", host: h.name, stage: "tolerant" });
  for (const h of hosts.filter((x) => behind(x, "etcd", "dual")))
    steps.push({ kind: "etcd-stage", host: h.name, stage: "dual" });
  const restarts = hosts
    .filter((x) => behind(x, "patroni", "etcd"))
    // The leader first: replicas then find its PostgreSQL serving TLS when they turn to verify-full.
    .sort((a, b) => Number(b.name === leader) - Number(a.name === leader));
  if (restarts.length > 0) {
    steps.push({ kind: "patroni-pause" });
    for (const h of restarts) steps.push({ kind: "patroni-stage", host: h.name, stage: "etcd" });
    steps.push({ kind: "patroni-resume" });
  }
  for (const h of hosts.filter((x) => behind(x, "etcd", "tls")))
    steps.push({ kind: "etcd-stage", host: h.name, stage: "tls" });
  for (const h of hosts.filter((x) => behind(x, "pgbouncer", "tls")))
    steps.push({ kind: "pgbouncer-stage", host: h.name });
  // HAProxy's plain checks fail on a REST API on https: every member switches at
  // once, and HAProxy follows as soon as they all answer, within its tolerance.
  const reloads = hosts.filter((x) => behind(x, "patroni", "tls"));
  if (reloads.length > 0) steps.push({ kind: "patroni-tls", hosts: reloads.map((h) => h.name) });
  for (const h of hosts.filter((x) => behind(x, "haproxy", "tls")))
    steps.push({ kind: "haproxy-stage", host: h.name, stage: "tls" });
  return steps;
}

/** What brings the hosts from `states` to `wanted`, in order; [] when they are there. */
export function planRollout(states: readonly HostTlsState[], wanted: WantedTls, leader?: string): RolloutStep[] {
  const hosts = states.filter(deployed);
  const migrating = hosts.some(
    (h) =>
      behind(h, "etcd", "tls") ||
      behind(h, "patroni", "tls") ||
      behind(h, "pgbouncer", "tls") ||
      behind(h, "haproxy", "tls"),
  );
  if (migrating) return migration(hosts, leader);
  const ordered = passOrder(hosts);
  const isFinal = (h: HostTlsState) => h.serial === wanted.serials[h.name]?.final;
  const trustDone = (h: HostTlsState) => sameSet(h.trust, wanted.trust);
  if (ordered.every(trustDone)) {
    // Same CAs: new certificates only.
    return ordered
      .filter((h) => !isFinal(h))
      .map((h) => ({ kind: "files", host: h.name, set: "final", reload: usesTls(h) }) as const);
  }
  const steps: RolloutStep[] = [];
  const untrusting = ordered.filter((h) => !h.trust.includes(wanted.issuer));
  for (const h of untrusting) steps.push({ kind: "trust", host: h.name });
  for (const h of untrusting.filter((x) => x.etcd !== "none")) steps.push({ kind: "etcd-restart", host: h.name });
  for (const h of ordered.filter((x) => !isFinal(x) && x.serial !== wanted.serials[x.name]?.twin))
    steps.push({ kind: "files", host: h.name, set: "twin", reload: usesTls(h) });
  for (const h of ordered) steps.push({ kind: "files", host: h.name, set: "final", reload: usesTls(h) });
  for (const h of ordered.filter((x) => x.etcd !== "none")) steps.push({ kind: "etcd-restart", host: h.name });
  return steps;
}

/** One line per step, for the log and the error message of a failed run. */
export function describeStep(s: RolloutStep): string {
  switch (s.kind) {
    case "files":
      return `${s.host}: ${s.set === "twin" ? "certificate from the new CA" : "final TLS files"}${s.reload ? ", reloaded" : ""}`;
    case "trust":
      return `${s.host}: trusts the new CA too`;
    case "etcd-restart":
      return `${s.host}: etcd restarted for its trust`;
    case "haproxy-stage":
      return `${s.host}: HAProxy ${s.stage === "tls" ? "checks over TLS" : "tolerant checks"}`;
    case "etcd-stage":
      return `${s.host}: etcd ${s.stage === "dual" ? "serves https next to http" : "https only, peers on https"}`;
    case "patroni-pause":
      return "Patroni paused";
    case "patroni-stage":
      return `${s.host}: Patroni etcd client and PostgreSQL on TLS (restart)`;
    case "patroni-tls":
      return `${s.hosts.join(", ")}: Patroni REST API on https, hostssl (reload), every REST API answering https`;
    case "patroni-resume":
      return "Patroni resumed";
    case "pgbouncer-stage":
      return `${s.host}: PgBouncer client TLS`;
  }
}
