// The cluster as Patroni's REST API and HAProxy report it, and the wait
// until it is whole again after a fault: one running leader, every other
// member streaming on the leader's timeline, nothing pending a restart, and
// HAProxy routing to exactly that leader and to the replicas.
import { PATRONI_NAMESPACE } from "../../src/roles/postgres/slice";
import { getJson, httpRequest, TlsClient } from "./https";
import { PgConnection } from "./pgwire";
import { Credentials, ProbeNode, ProxyStats, proxyPrimaries, Target } from "./traffic";

export interface PatroniMember {
  readonly name: string;
  readonly role: string;
  readonly state: string;
  readonly timeline?: number;
  readonly lag?: number | string;
  readonly pending_restart?: boolean;
  readonly host: string;
}

/** GET /cluster from the first member that answers: the members, and whether the cluster is paused. */
async function patroniClusterDoc(
  restUrls: readonly string[],
  tls?: TlsClient,
  timeoutMs = 2000,
): Promise<{ members: PatroniMember[]; pause?: boolean } | undefined> {
  for (const url of restUrls) {
    try {
      const r = await httpRequest(`${url}/cluster`, { timeoutMs, tls });
      if (r.status === 200) return JSON.parse(r.text) as { members: PatroniMember[]; pause?: boolean };
    } catch {
      /* try the next member */
    }
  }
  return undefined;
}

/** GET /cluster's members from the first member that answers. */
export async function patroniCluster(
  restUrls: readonly string[],
  tls?: TlsClient,
  timeoutMs = 2000,
): Promise<PatroniMember[] | undefined> {
  return (await patroniClusterDoc(restUrls, tls, timeoutMs))?.members;
}

export const leaderOf = (members: readonly PatroniMember[] | undefined): string | undefined =>
  members?.find((m) => m.role === "leader")?.name;

export interface WholeSpec {
  readonly restUrls: readonly string[];
  /** The controller as a TLS client of the REST API. */
  readonly tls?: TlsClient;
  readonly members: readonly string[];
  /** Every HAProxy host's stats page: each must route to the leader and the replicas. */
  readonly stats?: ProxyStats | readonly ProxyStats[];
  /** Replicas HAProxy must route to (members without noloadbalance, minus the leader). */
  readonly replicaBackend?: string;
  readonly expectedReplicasUp?: number;
  /** A login through the entry's primary port (the VIP, or each HAProxy host), as a client with target_session_attrs=read-write checks it. */
  readonly primaryLogin?: { readonly targets: readonly Target[]; readonly creds: Credentials };
  /** Every etcd member's client URL: each must answer, list every member, and agree on one leader. */
  readonly etcdUrls?: readonly string[];
}

/** Why etcd is not whole (a member not answering, missing from the list, no or two leaders), or undefined. */
export async function etcdNotWholeBecause(urls: readonly string[], tls?: TlsClient): Promise<string | undefined> {
  const post = async <T>(url: string, api: string) => {
    const r = await httpRequest(`${url}${api}`, { method: "POST", body: "{}", timeoutMs: 2000, tls });
    if (r.status !== 200) throw new Error(`${api} answered ${r.status}`);
    return JSON.parse(r.text) as T;
  };
  const leaders = new Set<string>();
  for (const url of urls) {
    try {
      const status = await post<{ leader?: string; header?: { member_id?: string } }>(url, "/v3/maintenance/status");
      if (!status.leader || status.leader === "0") return `etcd at ${url} has no leader`;
      leaders.add(status.leader);
      const list = await post<{ members?: { name?: string; clientURLs?: string[] }[] }>(url, "/v3/cluster/member/list");
      const started = (list.members ?? []).filter((m) => m.name && (m.clientURLs ?? []).length > 0);
      if (started.length !== urls.length)
        return `etcd at ${url} lists ${started.length} started members, want ${urls.length}`;
    } catch (e) {
      return `etcd at ${url} does not answer: ${(e as Error).message}`;
    }
  }
  if (leaders.size !== 1) return `etcd members name ${leaders.size} leaders`;
  return undefined;
}

/**
 * Seconds left on the lease of Patroni's leader key (etcd's remaining TTL,
 * whole seconds, rounded down), or undefined when no member answers or no
 * key is held. Read as a fault comes, it fixes where in the leader's renewal
 * cycle the fault fell: the key expires that much later whatever the fault.
 */
export async function leaderKeyTtlLeft(
  urls: readonly string[],
  clusterName: string,
  tls?: TlsClient,
): Promise<number | undefined> {
  const key = Buffer.from(`${PATRONI_NAMESPACE}${clusterName}/leader`).toString("base64");
  for (const url of urls) {
    try {
      const range = await httpRequest(`${url}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key }),
        timeoutMs: 2000,
        tls,
      });
      const lease = (JSON.parse(range.text) as { kvs?: { lease?: string }[] }).kvs?.[0]?.lease;
      if (range.status !== 200 || !lease) continue;
      const live = await httpRequest(`${url}/v3/lease/timetolive`, {
        method: "POST",
        body: JSON.stringify({ ID: lease }),
        timeoutMs: 2000,
        tls,
      });
      const ttl = Number((JSON.parse(live.text) as { TTL?: string }).TTL);
      if (live.status === 200 && Number.isFinite(ttl) && ttl >= 0) return ttl;
    } catch {
      // the next member
    }
  }
  return undefined;
}

/** Why the cluster is not whole yet, or undefined when it is. */
export async function notWholeBecause(spec: WholeSpec): Promise<string | undefined> {
  const cluster = await patroniClusterDoc(spec.restUrls, spec.tls);
  if (!cluster) return "no Patroni REST API answers";
  if (cluster.pause) return "the cluster is paused (maintenance mode)";
  const members = cluster.members;
  const leaders = members.filter((m) => m.role === "leader" && m.state === "running");
  if (leaders.length !== 1) return `leaders: ${leaders.map((m) => m.name).join(",") || "none"}`;
  const missing = spec.members.filter((n) => !members.some((m) => m.name === n));
  if (missing.length) return `members missing from the DCS: ${missing.join(",")}`;
  const tl = leaders[0].timeline;
  const behind = members.filter((m) => m.role !== "leader" && !(m.state === "streaming" && m.timeline === tl));
  if (behind.length)
    return `not streaming on timeline ${tl}: ${behind.map((m) => `${m.name}=${m.state}/tl${m.timeline}`).join(" ")}`;
  const pending = members.filter((m) => m.pending_restart);
  if (pending.length) return `pending restart: ${pending.map((m) => m.name).join(",")}`;
  // With synchronous_mode on, whole means a synchronous standby is named again (commits wait for it).
  if (
    members.length > 1 &&
    (await synchronousModeOn(spec.restUrls, spec.tls)) &&
    !members.some((m) => m.role === "sync_standby")
  )
    return "synchronous_mode is on and no synchronous standby is named";
  // The DCS can still show a member that just lost power as it was: ask each
  // member itself, and the leader's PostgreSQL which replicas stream from it.
  for (const [i, name] of spec.members.entries()) {
    const self = await memberSelf(spec.restUrls[i], spec.tls);
    if (!self) return `${name}'s REST API does not answer`;
    if (name === leaders[0].name) {
      if (!["primary", "master"].includes(self.role ?? "") || self.state !== "running")
        return `${name} itself says ${self.role}/${self.state}`;
      const streaming = (self.replication ?? []).filter((r) => r.state === "streaming").map((r) => r.application_name);
      const absent = spec.members.filter((n) => n !== name && !streaming.includes(n));
      if (absent.length) return `not streaming from ${name} (pg_stat_replication): ${absent.join(",")}`;
    } else if (
      self.role !== "replica" ||
      (self.replication_state !== undefined && self.replication_state !== "streaming")
    ) {
      return `${name} itself says ${self.role}/${self.replication_state ?? self.state}`;
    }
  }
  for (const stats of spec.stats === undefined ? [] : Array.isArray(spec.stats) ? spec.stats : [spec.stats]) {
    const which = stats.name ? `HAProxy on ${stats.name}` : "HAProxy";
    const up = await proxyPrimaries(stats);
    if (!up || up.length !== 1 || up[0] !== leaders[0].name)
      return `${which}: primary backend up: ${up?.join(",") ?? "(stats not answering)"} (leader ${leaders[0].name})`;
    if (spec.replicaBackend !== undefined && spec.expectedReplicasUp !== undefined) {
      const replicas = await proxyPrimaries({ ...stats, primaryBackend: spec.replicaBackend });
      if ((replicas?.length ?? 0) !== spec.expectedReplicasUp)
        return `${which}: replica backend up: ${replicas?.join(",") ?? "?"} (want ${spec.expectedReplicasUp})`;
    }
  }
  if (spec.etcdUrls) {
    const etcd = await etcdNotWholeBecause(spec.etcdUrls, spec.tls);
    if (etcd) return etcd;
  }
  for (const { host, port } of spec.primaryLogin?.targets ?? []) {
    let c: PgConnection | undefined;
    try {
      c = await PgConnection.connect({ host, port, ...spec.primaryLogin!.creds, timeoutMs: 3000 });
      // PgBouncer may show clients the parameters it cached under the old role (https://github.com/pgbouncer/pgbouncer/issues/859).
      if (c.parameters.in_hot_standby === "on" || c.parameters.default_transaction_read_only === "on")
        return `a login through ${host}:${port} reports in_hot_standby=${c.parameters.in_hot_standby} default_transaction_read_only=${c.parameters.default_transaction_read_only} (libpq's read-write check would refuse it)`;
    } catch (e) {
      return `no login through ${host}:${port}: ${(e as Error).message}`;
    } finally {
      await c?.close();
    }
  }
  return undefined;
}

/** GET /config's synchronous_mode (true, not quorum), from the first member that answers. */
async function synchronousModeOn(restUrls: readonly string[], tls?: TlsClient): Promise<boolean> {
  for (const url of restUrls) {
    try {
      const r = await httpRequest(`${url}/config`, { tls });
      if (r.status === 200) return (JSON.parse(r.text) as { synchronous_mode?: unknown }).synchronous_mode === true;
    } catch {
      /* try the next member */
    }
  }
  return false;
}

interface MemberSelf {
  readonly role?: string;
  readonly state?: string;
  readonly replication_state?: string;
  readonly replication?: readonly { readonly application_name: string; readonly state: string }[];
}

/** GET /patroni of one member: what it says of itself (and, on the leader, pg_stat_replication). */
async function memberSelf(restUrl: string, tls?: TlsClient): Promise<MemberSelf | undefined> {
  try {
    // 503 is how a replica or a stopped node answers: the body still says what it is.
    return await getJson<MemberSelf>(`${restUrl}/patroni`, { tls });
  } catch {
    return undefined;
  }
}

/** Waits until the cluster is whole; returns the milliseconds it took, or throws with the last reason. */
export async function waitWhole(spec: WholeSpec, timeoutMs: number): Promise<number> {
  const start = Date.now();
  let why: string | undefined = "not checked yet";
  while (Date.now() - start < timeoutMs) {
    why = await notWholeBecause(spec);
    if (!why) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`cluster not whole after ${timeoutMs / 1000} s: ${why}`);
}

/** The ids each node holds, once every node holds as many as the primary (replicas catch up). */
export async function readIdsEverywhere(
  nodes: readonly ProbeNode[],
  creds: Credentials,
  table: string,
  timeoutMs = 60_000,
): Promise<Record<string, number[]>> {
  const start = Date.now();
  let result: Record<string, number[]> = {};
  while (Date.now() - start < timeoutMs) {
    result = {};
    for (const n of nodes) {
      const c = await PgConnection.connect({ host: n.host, port: n.port, ...creds, timeoutMs: 5000 });
      try {
        result[n.name] = (await c.query(`SELECT id FROM ${table} ORDER BY id`, 30_000)).map((r) => Number(r[0]));
      } finally {
        await c.close();
      }
    }
    // Converged when every node holds the same ids (sorted by the query); a
    // read that never converges is returned as it is: checkDurability names
    // the nodes that differ.
    if (new Set(Object.values(result).map((ids) => ids.join(","))).size === 1) return result;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return result;
}
