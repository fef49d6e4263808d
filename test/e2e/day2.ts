// Day-2 on the running e2e stand: each change is an edit of the stack's
// configuration and `pulumi up`, with a client writing through HAProxy 5000
// the whole time; after each, a no-change preview reports nothing to do.
import { describe, expect, it } from "vitest";
import { Stand } from "../helpers/stand";
import { PgConnection } from "../harness/pgwire";
import { standTargets, withTraffic } from "../harness/scenario";
import { ctl } from "../harness/ctl";

const PG = ["pg01", "pg02", "pg03"];

export function day2Tests(stand: Stand, clusterName: string): void {
  const params = () => stand.config()["pulumi-patroni:cluster"].parameters as Record<string, unknown>;
  const setting = (host: string, name: string) =>
    stand.ssh(host, `runuser -u postgres -- psql -X -At -h /var/run/postgresql -c "show ${name}"`);
  const postmasterStart = (host: string) =>
    stand.ssh(host, `runuser -u postgres -- psql -X -At -h /var/run/postgresql -c "select pg_postmaster_start_time()"`);
  const members = () =>
    JSON.parse(stand.ssh("pg01", "patronictl list -f json")) as {
      Member: string;
      Role: string;
      State: string;
      "Pending restart"?: string;
    }[];
  const pauses: Record<string, number> = {};

  async function changeAndUp(label: string, edit: (config: Record<string, any>) => void) {
    stand.editConfig(edit);
    const report = await withTraffic(stand, clusterName, label, () => stand.up(label));
    pauses[label] = report.writePauseMs;
    expect(report.acknowledged, label).toBeGreaterThan(100);
    expect(report.lostAcknowledged, label).toBe(0);
    expect(report.dualProxyRounds, label).toBe(0);
    return report;
  }

  async function expectNoChanges() {
    const preview = await stand.run(["preview", "--expect-no-changes"], true);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
  }

  describe("day-2: edits of the stack's configuration applied to the running cluster", () => {
    it("a reload-only parameter reaches every node, readable in the preview, and no postmaster restarts", async () => {
      const before = PG.map(postmasterStart);
      stand.editConfig((c) => (c["pulumi-patroni:cluster"].parameters.work_mem = "8MB"));
      const preview = await stand.run(["preview", "--diff"]);
      expect(preview.stdout).toMatch(/\+ work_mem\s*: "8MB"/);
      await changeAndUp("work_mem 8MB (reload)", (c) => (c["pulumi-patroni:cluster"].parameters.work_mem = "8MB"));
      for (const h of PG) expect(setting(h, "work_mem"), h).toBe("8MB");
      expect(PG.map(postmasterStart)).toEqual(before);
      await expectNoChanges();
    });

    it("shared_buffers and max_connections raised: replicas first, then a switchover; nothing pending, write pause under 5 s", async () => {
      const leaderBefore = members().find((m) => m.Role === "Leader")!.Member;
      const r = await changeAndUp("shared_buffers 256MB, max_connections 300 (rolling)", (c) => {
        Object.assign(c["pulumi-patroni:cluster"].parameters, { shared_buffers: "256MB", max_connections: 300 });
      });
      for (const h of PG) {
        expect(setting(h, "shared_buffers"), h).toBe("256MB");
        expect(setting(h, "max_connections"), h).toBe("300");
      }
      expect(members().every((m) => !m["Pending restart"])).toBe(true);
      expect(members().find((m) => m.Role === "Leader")!.Member).not.toBe(leaderBefore);
      expect(r.writePauseMs).toBeLessThan(5000);
      await expectNoChanges();
    });

    it("max_connections lowered: the primary first (PostgreSQL demands it), then the replicas; write pause under 5 s", async () => {
      const r = await changeAndUp(
        "max_connections 250 (rolling, decrease)",
        (c) => (c["pulumi-patroni:cluster"].parameters.max_connections = 250),
      );
      for (const h of PG) expect(setting(h, "max_connections"), h).toBe("250");
      expect(members().every((m) => !m["Pending restart"])).toBe(true);
      expect(r.writePauseMs).toBeLessThan(5000);
      await expectNoChanges();
    });

    it("a parameter removed from the stack is removed from the DCS", async () => {
      await changeAndUp("work_mem removed", (c) => delete c["pulumi-patroni:cluster"].parameters.work_mem);
      expect(params().work_mem).toBeUndefined();
      expect(stand.ssh("pg01", "patronictl show-config")).not.toContain("work_mem");
      for (const h of PG) expect(setting(h, "work_mem"), h).toBe("4MB");
      await expectNoChanges();
    });

    it("cluster.watchdog: the machines say they have none; off and a new margin are a reload; required is refused at preview", async () => {
      const watchdogOf = (h: string) =>
        stand.ssh(h, `python3 -c "import yaml; print(yaml.safe_load(open('/etc/patroni/config.yml'))['watchdog'])"`);
      const before = PG.map(postmasterStart);
      const patroniPids = () => PG.map((h) => stand.ssh(h, "systemctl show -p MainPID --value patroni"));
      const pids = patroniPids();
      // The default, automatic: no device in a container, said by ctl status (not an error).
      let status = await ctl(stand, "status");
      expect(status.code, status.out).toBe(0);
      for (const h of PG) expect(status.out).toMatch(new RegExp(`^${h} +automatic +none on this host`, "m"));
      await changeAndUp("watchdog off, margin 3 (reload)", (c) => {
        c["pulumi-patroni:cluster"].watchdog = { mode: "off", safetyMargin: 3 };
      });
      for (const h of PG)
        expect(watchdogOf(h), h).toBe("{'device': '/dev/watchdog', 'mode': 'off', 'safety_margin': 3}");
      status = await ctl(stand, "status");
      for (const h of PG) expect(status.out).toMatch(new RegExp(`^${h} +off +not used$`, "m"));
      expect(patroniPids()).toEqual(pids);
      expect(PG.map(postmasterStart)).toEqual(before);
      // required cannot be met by a container: refused before anything runs. The stand keeps
      // watchdog off from here (a container has none either way): one up less for npm test.
      stand.editConfig((c) => (c["pulumi-patroni:cluster"].watchdog = { mode: "required" }));
      const preview = await stand.run(["preview"], true);
      expect(preview.code).not.toBe(0);
      expect(preview.stdout + preview.stderr).toContain("cluster.watchdog.mode: required needs a watchdog device");
      stand.editConfig((c) => (c["pulumi-patroni:cluster"].watchdog = { mode: "off", safetyMargin: 3 }));
      await expectNoChanges();
    });

    it("an HAProxy timing change is a reload: a session open through 5000 survives it", async () => {
      const t = standTargets(stand, clusterName);
      const session = await PgConnection.connect({ ...t.primary[0], ...t.creds, timeoutMs: 5000 });
      const pid = (await session.query("select pg_backend_pid()"))[0][0];
      await changeAndUp("haproxy checkIntervalMs 1500 (reload)", (c) => {
        c["pulumi-patroni:haproxy"] = { ...(c["pulumi-patroni:haproxy"] ?? {}), checkIntervalMs: 1500 };
      });
      for (const h of stand.hostsWith("haproxy"))
        expect(stand.ssh(h, "grep -c 'inter 1500ms' /etc/haproxy/haproxy.cfg"), h).toBe("2");
      expect((await session.query("select pg_backend_pid()"))[0][0]).toBe(pid);
      await session.close();
      await expectNoChanges();
    });

    it("the superuser and replication passwords rotated: replication keeps streaming, the client path takes the new one", async () => {
      const old = stand.superuserPassword;
      await changeAndUp("superuser and replication passwords rotated", (c) => {
        c["pulumi-patroni:passwordRotation"] = { superuserPassword: 1, replicationPassword: 1 };
      });
      expect(stand.superuserPassword).not.toBe(old);
      expect(
        stand.psql("client01", "service=primary", "select count(*) from pg_stat_replication where state = 'streaming'"),
      ).toBe("2");
      expect(stand.psql("client01", "service=replicas", "select pg_is_in_recovery()")).toBe("t");
      const refused = await PgConnection.connect({
        ...standTargets(stand, clusterName).primary[0],
        user: "postgres",
        password: old,
        database: "postgres",
      }).then(
        () => "accepted",
        (e) => String(e),
      );
      expect(refused).toMatch(/28P01|08P01|password authentication failed|SASL authentication failed/);
      await expectNoChanges();
    });

    it("cluster.name changed on the running stack: the preview refuses it, naming the field; nothing runs on the hosts", async () => {
      const started = PG.map((h) =>
        stand.ssh(h, "systemctl show -p ActiveEnterTimestampMonotonic --value patroni etcd pgbouncer"),
      );
      stand.editConfig((c) => (c["pulumi-patroni:cluster"].name = "renamed"));
      const preview = await stand.run(["preview"], true);
      expect(preview.code).not.toBe(0);
      expect(preview.stdout + preview.stderr).toContain(
        'cluster.name: changed from "e2e" to "renamed" on a deployed stack',
      );
      const upAttempt = await stand.run(["up", "--yes", "--skip-preview"], true);
      expect(upAttempt.code).not.toBe(0);
      expect(upAttempt.stdout).not.toMatch(/(updating|creating|deleting) \(/);
      expect(
        PG.map((h) => stand.ssh(h, "systemctl show -p ActiveEnterTimestampMonotonic --value patroni etcd pgbouncer")),
      ).toEqual(started);
      stand.editConfig((c) => (c["pulumi-patroni:cluster"].name = "e2e"));
      await expectNoChanges();
      console.log(`[e2e] day-2 write pauses (ms): ${JSON.stringify(pauses)}`);
    });
  });
}
