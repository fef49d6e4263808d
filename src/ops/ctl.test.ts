// npm run ctl's argument parsing and its checks before patronictl runs.
import { describe, expect, it } from "vitest";
import {
  ClusterMember,
  ClusterView,
  CtlError,
  formatAlerts,
  formatStatus,
  parseClusterView,
  parseCtlArgs,
  planCtl,
  waitDone,
} from "./ctl";

const m = (name: string, role: string, state: string, extra: Partial<ClusterMember> = {}): ClusterMember => ({
  name,
  role,
  state,
  ...extra,
});
const view = (members: readonly ClusterMember[], paused = false): ClusterView => ({ scope: "main", members, paused });
const healthy = view([
  m("pg01", "leader", "running"),
  m("pg02", "replica", "streaming", { lag: 0 }),
  m("pg03", "replica", "streaming", { lag: 0 }),
]);
const plan = (args: string[], v: ClusterView) => planCtl(parseCtlArgs(args, "local").command, v);

describe("ctl arguments", () => {
  it("reads the stack and the command", () => {
    expect(parseCtlArgs(["--stack", "prod", "switchover", "--to", "pg02"], "local")).toEqual({
      stack: "prod",
      command: { kind: "switchover", to: "pg02" },
    });
    expect(parseCtlArgs(["restart", "pg03"], "local")).toEqual({
      stack: "local",
      command: { kind: "restart", member: "pg03" },
    });
    expect(parseCtlArgs(["list"], "e2e").stack).toBe("e2e");
  });

  it("refuses what it cannot run, with the usage", () => {
    expect(() => parseCtlArgs([], "local")).toThrow(/usage: npm run ctl/);
    expect(() => parseCtlArgs(["failover"], "local")).toThrow(/failover needs --to MEMBER/);
    expect(() => parseCtlArgs(["restart"], "local")).toThrow(/restart needs exactly one MEMBER/);
    expect(() => parseCtlArgs(["switchover", "pg02"], "local")).toThrow(/--to MEMBER/);
    expect(() => parseCtlArgs(["dance"], "local")).toThrow(/unknown command dance/);
    expect(() => parseCtlArgs(["list", "--force"], "local")).toThrow(/unknown option --force/);
    expect(() => parseCtlArgs(["switchover", "--to"], "local")).toThrow(/--to needs a value/);
  });
});

describe("ctl checks against the cluster", () => {
  it("switchover picks the least lagging healthy replica, or the named one", () => {
    const lagging = view([
      m("pg01", "leader", "running"),
      m("pg02", "replica", "streaming", { lag: 9000 }),
      m("pg03", "replica", "streaming", { lag: 0 }),
    ]);
    expect(plan(["switchover"], lagging).argv).toEqual([
      "switchover",
      "main",
      "--leader",
      "pg01",
      "--candidate",
      "pg03",
      "--force",
    ]);
    const named = plan(["switchover", "--to", "pg02"], healthy);
    expect(named.argv).toContain("pg02");
    expect(named.wait).toEqual({ kind: "leader", member: "pg02", replicas: ["pg01", "pg03"] });
  });

  it("an unknown member names the members there are", () => {
    expect(() => plan(["switchover", "--to", "pg09"], healthy)).toThrow(
      "no member pg09 in cluster main; members: pg01, pg02, pg03",
    );
    expect(() => plan(["restart", "pg09"], healthy)).toThrow(CtlError);
  });

  it("no healthy candidate says why each replica is not one", () => {
    const sick = view([
      m("pg01", "leader", "running"),
      m("pg02", "replica", "stopped"),
      m("pg03", "replica", "streaming", { tags: { nofailover: true } }),
    ]);
    expect(() => plan(["switchover"], sick)).toThrow(
      "no healthy candidate to switch over to in main: pg02 is stopped; pg03 is tagged nofailover",
    );
    expect(() => plan(["failover", "--to", "pg02"], sick)).toThrow("cannot fail over to pg02: pg02 is stopped");
    expect(() => plan(["switchover", "--to", "pg01"], healthy)).toThrow("pg01 is the leader");
  });

  it("synchronous_mode: a switchover goes to the synchronous standby only (Patroni refuses any other), failover anywhere", () => {
    const sync = {
      ...view([
        m("pg01", "leader", "running"),
        m("pg02", "replica", "streaming", { lag: 0 }),
        m("pg03", "sync_standby", "streaming", { lag: 9 }),
      ]),
      synchronousMode: true,
    };
    // pg02 lags less, but only pg03 may take over.
    expect(plan(["switchover"], sync).argv).toContain("pg03");
    expect(() => plan(["switchover", "--to", "pg02"], sync)).toThrow(
      "pg02 is not the synchronous standby (synchronous_mode is on: Patroni switches over only to pg03)",
    );
    expect(plan(["failover", "--to", "pg02"], sync).argv).toContain("pg02");
    // Just turned on: Patroni has not named one yet.
    const none = { ...healthy, synchronousMode: true };
    expect(() => plan(["switchover"], none)).toThrow(/no healthy candidate.*has not named one yet/);
    // The view carries GET /config's synchronous_mode.
    expect(parseClusterView("main", JSON.stringify({ members: [] }), "true").synchronousMode).toBe(true);
    expect(parseClusterView("main", JSON.stringify({ members: [] }), "quorum").synchronousMode).toBe(false);
  });

  it("a paused cluster: switchover only to a named member; pause and resume are idempotent", () => {
    const paused = view(healthy.members, true);
    expect(() => plan(["switchover"], paused)).toThrow(/paused \(maintenance mode\).*--to MEMBER.*resume/);
    expect(plan(["switchover", "--to", "pg03"], paused).argv).toContain("pg03");
    expect(plan(["pause"], paused)).toEqual({ argv: [], summary: "cluster main is already paused (maintenance mode)" });
    expect(plan(["resume"], healthy).argv).toEqual([]);
    expect(plan(["pause"], healthy).argv).toEqual(["pause", "main", "--wait"]);
  });

  it("no leader: switchover is refused and failover offered", () => {
    const leaderless = view([m("pg02", "replica", "streaming"), m("pg03", "replica", "streaming")]);
    expect(() => plan(["switchover"], leaderless)).toThrow(/no leader.*failover --to MEMBER/);
    expect(plan(["failover", "--to", "pg03"], leaderless).argv).toEqual([
      "failover",
      "main",
      "--candidate",
      "pg03",
      "--force",
    ]);
  });

  it("reinit is for replicas only", () => {
    expect(() => plan(["reinit", "pg01"], healthy)).toThrow(
      /pg01 is the leader of main: only a replica can be rebuilt/,
    );
    expect(plan(["reinit", "pg02"], healthy).argv).toEqual(["reinit", "main", "pg02", "--force", "--wait"]);
  });

  it("waits until the new leader runs, or the restarted member is back without a pending restart", () => {
    const after = parseClusterView(
      "main",
      JSON.stringify({
        members: [m("pg01", "replica", "streaming", { timeline: 2 }), m("pg02", "leader", "running", { timeline: 2 })],
        pause: false,
      }),
    );
    expect(waitDone({ kind: "leader", member: "pg02", replicas: ["pg01"] }, after)).toBe(true);
    expect(waitDone({ kind: "leader", member: "pg01", replicas: [] }, after)).toBe(false);
    // The old leader still rejoining (not yet streaming on the new timeline): not done.
    const rejoining = view([m("pg01", "replica", "stopped"), m("pg02", "leader", "running", { timeline: 2 })]);
    expect(waitDone({ kind: "leader", member: "pg02", replicas: ["pg01"] }, rejoining)).toBe(false);
    expect(waitDone({ kind: "member-up", member: "pg01", streaming: true }, after)).toBe(true);
    const pending = view([m("pg01", "replica", "streaming", { pending_restart: true })]);
    expect(waitDone({ kind: "member-up", member: "pg01", streaming: true }, pending)).toBe(false);
  });
});

describe("ctl status: alerts", () => {
  it("shows firing alerts most severe first, then oldest first, with who and since when", () => {
    const now = new Date("2026-12-06T12:10:00Z");
    const alert = (alertname: string, severity: string, startsAt: string, labels: Record<string, string> = {}) => ({
      labels: { alertname, severity, cluster: "main", ...labels },
      annotations: { summary: `${alertname} summary` },
      startsAt,
      status: { state: "active" },
    });
    const text = formatAlerts(
      [
        alert("PatroniMemberMissing", "warning", "2026-12-06T12:09:00Z", { member: "pg03" }),
        alert("EtcdMemberDown", "warning", "2026-12-06T11:00:00Z", { member: "pg02" }),
        alert("PatroniNoLeader", "critical", "2026-12-06T12:09:30Z"),
        { ...alert("Silenced", "critical", "2026-12-06T12:00:00Z"), status: { state: "suppressed" } },
      ],
      now,
      "client01",
    ).split("\n");
    expect(text[0]).toBe("Firing alerts (3, Alertmanager on client01):");
    expect(text[1]).toMatch(/^ {2}critical +PatroniNoLeader +main +for 30s +PatroniNoLeader summary$/);
    expect(text[2]).toMatch(/^ {2}warning +EtcdMemberDown +pg02 +for 1h10m +EtcdMemberDown summary$/);
    expect(text[3]).toMatch(/^ {2}warning +PatroniMemberMissing +pg03 +for 1m0s +PatroniMemberMissing summary$/);
    expect(formatAlerts([], now, "client01")).toBe("No alert firing (Alertmanager on client01).");
  });
});

describe("ctl status", () => {
  it("shows the members, then each host's certificate and its CAs with the days left", () => {
    expect(parseCtlArgs(["status"], "local").command).toEqual({ kind: "status" });
    const now = Date.parse("2026-12-06T00:00:00Z");
    const text = formatStatus(
      view([
        m("pg01", "leader", "running", { timeline: 3 }),
        m("pg02", "replica", "streaming", { lag: 0, timeline: 3 }),
      ]),
      {
        pg01: {
          certificate: { notAfter: "2027-01-05T00:00:00Z", serial: "AB" },
          cas: [
            { notAfter: "2036-12-04T00:00:00Z", subject: "CN=ca 0" },
            { notAfter: "2036-12-05T00:00:00Z", subject: "CN=ca 1" },
          ],
        },
        client01: { cas: [] },
        pg02: "ssh: connect to host timed out",
      },
      {},
      now,
    );
    const lines = text.split("\n");
    expect(lines[0]).toBe("cluster main: leader pg01 on timeline 3, 1 of 1 replicas streaming");
    expect(text).toMatch(/^pg02 +replica +streaming +3 +0$/m);
    expect(text).toMatch(/^pg01 +2027-01-05 +30 +3651, 3652$/m);
    expect(text).toMatch(/^client01 +no TLS$/m);
    expect(text).toMatch(/^pg02 +unknown: ssh: connect to host timed out$/m);
    expect(text).not.toContain("Watchdog:");
  });

  it("shows each member's watchdog: armed on the leader, none in a container, a device Patroni cannot open", () => {
    const text = formatStatus(
      view([m("pg01", "leader", "running", { timeline: 1 })]),
      {},
      {
        pg01: { mode: "automatic", device: "/dev/watchdog", owner: "postgres", armed: true },
        pg02: { mode: "automatic", device: "/dev/watchdog", owner: "root", armed: false },
        pg03: { mode: "automatic", device: null },
        pg04: { mode: "off", device: null },
      },
    );
    expect(text).toMatch(/^Watchdog:$/m);
    expect(text).toMatch(/^pg01 +automatic +\/dev\/watchdog \(postgres\), armed by Patroni$/m);
    expect(text).toMatch(/^pg02 +automatic +\/dev\/watchdog \(root: Patroni cannot open it\), not armed/m);
    expect(text).toMatch(/^pg03 +automatic +none on this host \(a container\?\): a hung leader is not reset$/m);
    expect(text).toMatch(/^pg04 +off +not used$/m);
  });
});
