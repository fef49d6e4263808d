// The fault harness's live parts: a writer inserting unique ids through
// HAProxy's primary port on several connections, and a prober asking every
// PostgreSQL node directly (and HAProxy's stats) who is a writable primary,
// several times a second.
import { httpRequest, TlsClient } from "./https";
import { PgConnection, PgError, SslOptions } from "./pgwire";
import { ProbeRound, WriteRecord } from "./invariants";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Target {
  readonly host: string;
  readonly port: number;
}

/** A libpq URI as the stack outputs it: one host (the VIP), or several (`h1:5000,h2:5000`), with its options. */
export interface EntryUri extends Credentials {
  readonly hosts: readonly Target[];
  readonly options: Readonly<Record<string, string>>;
}

/** Parses `postgresql://user:pw@h1:p1,h2:p2/db?k=v` (WHATWG URL refuses a host list). */
export function parseLibpqUri(uri: string): EntryUri {
  const m = /^postgres(?:ql)?:\/\/([^:@/]+):([^@/]*)@([^/?]+)\/([^?]*)(?:\?(.*))?$/.exec(uri);
  if (!m)
    throw new Error(`not a libpq URI with user, password, hosts and database: ${uri.replace(/:[^:@/]*@/, ":***@")}`);
  const [, user, password, hostList, database, query] = m;
  return {
    user: decodeURIComponent(user),
    password: decodeURIComponent(password),
    database: decodeURIComponent(database),
    hosts: hostList.split(",").map((hp) => {
      const [host, port] = hp.split(":");
      return { host, port: Number(port ?? 5432) };
    }),
    options: Object.fromEntries(new URLSearchParams(query ?? "")),
  };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** How the session negotiates TLS (default: none). */
  readonly ssl?: SslOptions;
}

/** Table the writer fills; one per run, so runs never mix. */
export async function createWriteTable(
  targets: Target | readonly Target[],
  creds: Credentials,
  table: string,
): Promise<void> {
  const c = await connectAny(Array.isArray(targets) ? targets : [targets as Target], creds, 10_000);
  try {
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, conn int NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
      30_000,
    );
  } finally {
    await c.close();
  }
}

/**
 * Connects as libpq does to a host list: each host in turn, at most
 * `timeoutMs` each, the first that answers wins (a VIP is a list of one).
 */
export async function connectAny(
  targets: readonly Target[],
  creds: Credentials,
  timeoutMs: number,
  applicationName?: string,
): Promise<PgConnection> {
  let last: unknown;
  for (const t of targets) {
    try {
      return await PgConnection.connect({ ...t, ...creds, timeoutMs, applicationName });
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** How hard the writer pushes: the paced default, or a saturating one for the durability scenarios. */
export interface WriterOptions {
  /** Sessions writing at once. */
  readonly connections?: number;
  /** Pause between two writes of one connection (0: none, the writer saturates). */
  readonly intervalMs?: number;
  /** Rows per INSERT (one transaction): ids are acknowledged together. */
  readonly rowsPerStatement?: number;
  /** A statement without an answer after this is "unknown" and its connection is dropped. */
  readonly statementTimeoutMs?: number;
  /**
   * Close and open each connection again after this long (0: keep it): a
   * connection made before an HAProxy reload stays on the old process, so
   * only new connections show what the new one routes.
   */
  readonly reconnectMs?: number;
  /** The first id this writer uses: writers sharing a table take disjoint ranges. */
  readonly firstId?: number;
  /** Recorded with each write (WriteRecord.via): where this writer writes, when not through the entry. */
  readonly via?: string;
}

/** 4 sessions, one row every 40 ms each: enough to time a pause, light on 2 cores. */
export const PACED_WRITER: WriterOptions = { connections: 4, intervalMs: 40, rowsPerStatement: 1 };
/**
 * 16 sessions, no pause, 5 rows per transaction: commits outrun an
 * asynchronous replica held back for a second, so a lost acknowledgement
 * shows (issue 27: the paced writer could not tell async from sync).
 */
export const SATURATING_WRITER: WriterOptions = { connections: 16, intervalMs: 0, rowsPerStatement: 5 };
/**
 * One session straight to one node's port (PostgreSQL or PgBouncer), a row
 * every 200 ms: a zombie primary (an old leader that has not demoted yet)
 * is offered writes, which HAProxy never sends it. Replicas refuse them
 * (read-only: "failed", expected).
 */
export const DIRECT_WRITER: WriterOptions = { connections: 1, intervalMs: 200, rowsPerStatement: 1 };

/** Ids each direct writer may use (from its firstId): far more than a run writes. */
export const DIRECT_ID_RANGE = 100_000_000;

export class Writer {
  readonly records: WriteRecord[] = [];
  private nextId: number;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly targets: readonly Target[];
  private readonly o: Required<WriterOptions>;

  constructor(
    target: Target | readonly Target[],
    private readonly creds: Credentials,
    private readonly table: string,
    options: WriterOptions = PACED_WRITER,
  ) {
    this.targets = Array.isArray(target) ? target : [target as Target];
    this.o = {
      connections: 4,
      intervalMs: 40,
      rowsPerStatement: 1,
      statementTimeoutMs: 4000,
      reconnectMs: 0,
      firstId: 1,
      via: "",
      ...options,
    };
    this.nextId = this.o.firstId;
  }

  start(): void {
    this.running = true;
    for (let c = 0; c < this.o.connections; c++) this.loops.push(this.loop(c));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  get acknowledged(): number {
    return this.records.filter((r) => r.status === "ack").length;
  }

  private async loop(conn: number): Promise<void> {
    let c: PgConnection | undefined;
    let openedAt = 0;
    while (this.running) {
      if (c && !c.isClosed && this.o.reconnectMs > 0 && Date.now() - openedAt > this.o.reconnectMs) {
        await c.close();
        c = undefined;
      }
      if (!c || c.isClosed) {
        try {
          c = await connectAny(this.targets, this.creds, 2000, this.o.via ? "writer-direct" : `writer-${conn}`);
          openedAt = Date.now();
        } catch {
          c = undefined;
          await sleep(100);
          continue;
        }
      }
      const ids = Array.from({ length: this.o.rowsPerStatement }, () => this.nextId++);
      const sentAt = Date.now();
      let status: WriteRecord["status"];
      try {
        await c.query(
          `INSERT INTO ${this.table} (id, conn) VALUES ${ids.map((id) => `(${id}, ${conn})`).join(", ")}`,
          this.o.statementTimeoutMs,
        );
        status = "ack";
      } catch (e) {
        // An ERROR on a live connection means the statement did not commit;
        // a lost connection (FATAL, reset, timeout) leaves the outcome unknown.
        status = e instanceof PgError && !e.connectionLost ? "failed" : "unknown";
        if (status === "unknown") c.destroy();
      }
      const doneAt = Date.now();
      const via = this.o.via || undefined;
      for (const id of ids) this.records.push({ id, status, sentAt, doneAt, ...(via ? { via } : {}) });
      // Yield even when saturating, so the prober and the harness's timers run.
      await sleep(this.o.intervalMs);
    }
    await c?.close();
  }
}

export interface ProbeNode extends Target {
  readonly name: string;
}

export interface ProxyStats {
  /** The HAProxy host (or "entry" for the page behind the VIP). */
  readonly name?: string;
  /** http://host:port/ of HAProxy's stats page. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** Name of the primary backend (CLUSTER-primary). */
  readonly primaryBackend: string;
  /** For an https stats page: the CA to verify it with. */
  readonly tls?: TlsClient;
}

/** Servers UP in the primary backend, from the stats page's CSV export. */
export async function proxyPrimaries(stats: ProxyStats, timeoutMs = 1000): Promise<string[] | undefined> {
  try {
    const r = await httpRequest(`${stats.url.replace(/\/$/, "")}/;csv`, {
      headers: { authorization: `Basic ${Buffer.from(`${stats.user}:${stats.password}`).toString("base64")}` },
      timeoutMs,
      tls: stats.tls,
    });
    if (r.status !== 200) return undefined;
    return r.text
      .split("\n")
      .map((l) => l.split(","))
      .filter(
        (f) => f[0] === stats.primaryBackend && f[1] !== "FRONTEND" && f[1] !== "BACKEND" && f[17]?.startsWith("UP"),
      )
      .map((f) => f[1]);
  } catch {
    return undefined;
  }
}

export class Prober {
  readonly rounds: ProbeRound[] = [];
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly conns = new Map<string, PgConnection>();
  private readonly stats: readonly ProxyStats[];

  constructor(
    private readonly nodes: readonly ProbeNode[],
    private readonly creds: Credentials,
    /** Every HAProxy host's stats page (or one). */
    stats: ProxyStats | readonly ProxyStats[] | undefined,
    private readonly intervalMs = 250,
  ) {
    this.stats = stats === undefined ? [] : Array.isArray(stats) ? stats : [stats as ProxyStats];
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    for (const c of this.conns.values()) c.destroy();
  }

  /**
   * "writable", "read-only", "down" (refused, or PostgreSQL said it is
   * starting or stopping: it takes no writes) or "unreachable" (no answer in
   * time: it may take writes later), on a kept connection.
   */
  private async ask(node: ProbeNode): Promise<"writable" | "read-only" | "down" | "unreachable"> {
    try {
      let c = this.conns.get(node.name);
      if (!c || c.isClosed) {
        c = await PgConnection.connect({
          host: node.host,
          port: node.port,
          ...this.creds,
          timeoutMs: 800,
          applicationName: "prober",
        });
        this.conns.set(node.name, c);
      }
      // transaction_read_only is on in recovery and after a demotion request.
      const [[inRecovery, readOnly]] = await c.query(
        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')",
        800,
      );
      return inRecovery === "f" && readOnly === "off" ? "writable" : "read-only";
    } catch (e) {
      this.conns.get(node.name)?.destroy();
      this.conns.delete(node.name);
      const message = String(e);
      return /ECONNREFUSED|57P0[1-3]|connection closed|ECONNRESET/.test(message) ? "down" : "unreachable";
    }
  }

  /**
   * A round starts every intervalMs whatever the last one is waiting for:
   * a node (or stats page) still busy answering an earlier round counts as
   * unreachable in this one, so a node that went silent never slows the
   * sampling of the others (issue 27: 1.5 Hz during a power loss before).
   */
  private async loop(): Promise<void> {
    const busy = new Set<string>();
    const pending = new Set<Promise<void>>();
    const once = <T>(key: string, ask: () => Promise<T>, ifBusy: T): Promise<T> => {
      if (busy.has(key)) return Promise.resolve(ifBusy);
      busy.add(key);
      return ask().finally(() => busy.delete(key));
    };
    while (this.running) {
      const at = Date.now();
      const round = (async () => {
        const [answers, proxies] = await Promise.all([
          Promise.all(this.nodes.map((n) => once(`pg:${n.name}`, () => this.ask(n), "unreachable" as const))),
          Promise.all(this.stats.map((st) => once(`stats:${st.url}`, () => proxyPrimaries(st), undefined))),
        ]);
        const answered = proxies.filter((a): a is string[] => a !== undefined);
        this.rounds.push({
          at,
          writable: this.nodes.filter((_, i) => answers[i] === "writable").map((n) => n.name),
          unreachable: this.nodes.filter((_, i) => answers[i] === "unreachable").map((n) => n.name),
          proxyPrimaries: this.stats.length && answered.length ? [...new Set(answered.flat())] : undefined,
          proxies: this.stats.length
            ? Object.fromEntries(this.stats.map((st, i) => [st.name ?? st.url, proxies[i]]))
            : undefined,
        });
      })();
      pending.add(round);
      void round.finally(() => pending.delete(round));
      await sleep(Math.max(0, this.intervalMs - (Date.now() - at)));
    }
    await Promise.all([...pending]);
    // Rounds finish out of order when one waited on a slow node.
    this.rounds.sort((a, b) => a.at - b.at);
  }
}
