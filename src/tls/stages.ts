// How far each component's configuration is along the way to TLS. A new
// stack renders every file at its last stage; a running plain-text stack
// moves through the stages in MIGRATION's order (src/providers/tlsRollout.ts),
// which keeps writes flowing and every member in reach of etcd: etcd serves
// https next to http before anyone needs it, Patroni learns the https client
// (a restart, under pause) before etcd drops http, and HAProxy tolerates the
// moment its plain checks meet a REST API that has just switched to https.
// Each rendered file carries its stage in a comment (stageMarker), so a host
// says by itself how far it got.

/** etcd: plain; dual (clients on http and https, the TLS flags set, peers still http); tls (https only). */
export type EtcdStage = "plain" | "dual" | "tls";
/** Patroni: plain; etcd (its etcd client, PostgreSQL's ssl and replication on TLS; REST and pg_hba as before); tls. */
export type PatroniStage = "plain" | "etcd" | "tls";
/** PgBouncer: plain; tls (client TLS, hostssl rules). */
export type PgbouncerStage = "plain" | "tls";
/** HAProxy: plain; tolerant (plain checks that ride out a few failures); tls (checks over TLS, stats over https). */
export type HaproxyStage = "plain" | "tolerant" | "tls";
/** The client host's pg_service.conf: plain, or verify-full. */
export type ClientStage = "plain" | "tls";

export interface ComponentStages {
  readonly etcd: EtcdStage;
  readonly patroni: PatroniStage;
  readonly pgbouncer: PgbouncerStage;
  readonly haproxy: HaproxyStage;
  readonly client: ClientStage;
}

export const PLAIN: ComponentStages = {
  etcd: "plain",
  patroni: "plain",
  pgbouncer: "plain",
  haproxy: "plain",
  client: "plain",
};
export const FINAL: ComponentStages = { etcd: "tls", patroni: "tls", pgbouncer: "tls", haproxy: "tls", client: "tls" };

/** The stages of a stack: every file at its last stage with TLS on, else plain. */
export const stagesOf = (enabled: boolean): ComponentStages => (enabled ? FINAL : PLAIN);

/**
 * The migration of a running plain-text cluster, one step after the other
 * (each applies to every host that has the component and is behind):
 *   1. HAProxy's checks tolerate 10 failures (a Patroni restart, the REST switch);
 *   2. etcd members, one at a time, serve https next to http (restart);
 *   3. Patroni, paused: its etcd client on https, PostgreSQL's ssl and TLS
 *      replication (a restart of Patroni only, the leader first);
 *   4. etcd members, one at a time: peers on https, http dropped (restart);
 *   5. PgBouncer: client TLS (reload);
 *   6. Patroni: REST API on https, pg_hba hostssl (a reload, every member at
 *      once); once every REST API answers https:
 *   7. HAProxy: checks over TLS (reload).
 * The client host's file follows with its role's step.
 */
export const MIGRATION: readonly { readonly step: string; readonly stages: ComponentStages }[] = [
  { step: "haproxy-tolerant", stages: { ...PLAIN, haproxy: "tolerant" } },
  { step: "etcd-dual", stages: { ...PLAIN, haproxy: "tolerant", etcd: "dual" } },
  { step: "patroni-etcd", stages: { ...PLAIN, haproxy: "tolerant", etcd: "dual", patroni: "etcd" } },
  { step: "etcd-tls", stages: { ...PLAIN, haproxy: "tolerant", etcd: "tls", patroni: "etcd" } },
  { step: "pgbouncer-tls", stages: { ...PLAIN, haproxy: "tolerant", etcd: "tls", patroni: "etcd", pgbouncer: "tls" } },
  { step: "patroni-tls", stages: { ...FINAL, haproxy: "tolerant", client: "plain" } },
  { step: "haproxy-tls", stages: { ...FINAL, client: "plain" } },
];

const ORDER: { readonly [K in keyof ComponentStages]: readonly ComponentStages[K][] } = {
  etcd: ["plain", "dual", "tls"],
  patroni: ["plain", "etcd", "tls"],
  pgbouncer: ["plain", "tls"],
  haproxy: ["plain", "tolerant", "tls"],
  client: ["plain", "tls"],
};

/** Whether `stage` of `component` is at least `than`. */
export const stageAtLeast = <K extends keyof ComponentStages>(
  component: K,
  stage: ComponentStages[K],
  than: ComponentStages[K],
): boolean => ORDER[component].indexOf(stage) >= ORDER[component].indexOf(than);

/** The comment line a rendered file carries from its first TLS stage on (none while plain: files stay byte-stable). */
export const stageMarker = (stage: string, commentPrefix = "#"): string =>
  stage === "plain" ? "" : `${commentPrefix} TLS stage: ${stage}\n`;

/** The stage a file says it is at (no marker: plain). */
export function stageOf(text: string): string {
  return /^[#;] TLS stage: ([a-z-]+)$/m.exec(text)?.[1] ?? "plain";
}
