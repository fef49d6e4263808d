// The cluster page (src/roles/monitor/files/pg-cluster.html) as a browser
// shows it: its tables read from the rendered DOM, after its scripts ran.
import { Browser, PageLoad } from "./browser";

export interface MemberRow {
  readonly member: string;
  readonly api: string;
  readonly role: string;
  readonly postgres: string;
  readonly streaming: string;
  readonly timeline: string;
  readonly replayLag: string;
}

export interface ClusterPageView {
  readonly load: PageLoad;
  /** The page's <h1>. */
  readonly heading: string;
  /** The right-hand summary: its first cell → its second (Leader, Primaries, Timeline, ...). */
  readonly summary: Record<string, string>;
  readonly members: MemberRow[];
  /** Every table with an id (members, tps, pgbouncer, haproxy, etcd, alerts): its rows keyed by its header cells. */
  readonly tables: Record<string, Record<string, string>[]>;
}

/** Every table[id] of the page: its header row and its other rows, each cell's text with spaces collapsed. */
const READ_TABLES = `(() => {
  const text = (c) => c.textContent.replace(/\\s+/g, " ").trim();
  const out = {};
  for (const t of document.querySelectorAll("table[id]")) out[t.id] = Array.from(t.rows).map((r) => Array.from(r.cells).map(text));
  return { heading: text(document.querySelector("h1") || document.createElement("h1")), tables: out };
})()`;

const keyed = (rows: string[][]): Record<string, string>[] => {
  const [header = [], ...body] = rows;
  return body.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""])));
};

/** Loads the page (a fresh navigation: the page is rendered by Prometheus on each request) and reads it. */
export async function readClusterPage(browser: Browser, url: string): Promise<ClusterPageView> {
  const load = await browser.load(url);
  const { heading, tables } = await browser.evaluate<{ heading: string; tables: Record<string, string[][]> }>(
    READ_TABLES,
  );
  const summary = Object.fromEntries((tables.summary ?? []).filter((r) => r.length === 2).map((r) => [r[0], r[1]]));
  const all = Object.fromEntries(
    Object.entries(tables)
      .filter(([id]) => id !== "summary")
      .map(([id, rows]) => [id, keyed(rows)]),
  );
  const members = (all.members ?? []).map((r) => ({
    member: r["Member"],
    api: r["Patroni API"],
    role: r["Role"],
    postgres: r["PostgreSQL"],
    streaming: r["Streaming"],
    timeline: r["Timeline"],
    replayLag: r["Replay lag"],
  }));
  return { load, heading, summary, members, tables: all };
}

/** The members the page shows as leader (primary or standby leader). */
export const pageLeaders = (v: ClusterPageView): string[] =>
  v.members.filter((m) => m.role === "primary" || m.role === "standby leader").map((m) => m.member);
