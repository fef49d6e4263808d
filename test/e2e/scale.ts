// Scale as a config diff on the running e2e stand: etcd grows from 3 to 5
// members and back, a fourth PostgreSQL host joins and leaves, and the host
// that leads leaves; a client writes through HAProxy 5000 the whole time.
import { describe, expect, it } from "vitest";
import { ETCDCTL, Stand } from "../helpers/stand";
import { leaderOf, patroniCluster, waitWhole } from "../harness/clusterState";
import { proxyPrimaries } from "../harness/traffic";
import { standTargets, standTls, withTraffic } from "../harness/scenario";
import { getJson } from "../harness/https";

type Host = { name: string; address: string; roles: string[] };

export function scaleTests(stand: Stand, clusterName: string): void {
  const hostsKey = "pulumi-patroni:hosts";
  const addHosts = (...hosts: Host[]) => stand.editConfig((c) => (c[hostsKey] = [...c[hostsKey], ...hosts]));
  const removeHosts = (...names: string[]) =>
    stand.editConfig((c) => (c[hostsKey] = c[hostsKey].filter((h: Host) => !names.includes(h.name))));
  const members = () =>
    JSON.parse(stand.ssh("pg02", "patronictl list -f json")) as { Member: string; Role: string; State: string }[];
  const slots = () =>
    stand.psql(
      "client01",
      "service=primary",
      "select coalesce(string_agg(slot_name, ',' order by slot_name), '') from pg_replication_slots",
    );
  const replicaServers = async () =>
    (await proxyPrimaries({ ...standTargets(stand, clusterName).stats, primaryBackend: `${clusterName}-replicas` })) ??
    [];

  async function scaleUp(label: string, edit: () => void) {
    edit();
    const report = await withTraffic(stand, clusterName, label, () => stand.up(label));
    expect(report.lostAcknowledged, label).toBe(0);
    expect(report.dualProxyRounds, label).toBe(0);
    const preview = await stand.run(["preview", "--expect-no-changes"], true);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    return report;
  }

  describe("scale: hosts added and removed by editing the stack", () => {
    it("etcd grows from 3 to 5 members and back to 3: a leader at every sample, Patroni never loses its leader", async () => {
      const samples: { etcdLeader: boolean; patroniLeader: boolean }[] = [];
      let sampling = true;
      // etcd wants the controller's certificate, as the REST API does.
      const tls = standTls(stand);
      const scheme = tls ? "https" : "http";
      const endpoints = () => stand.hostsWith("etcd").map((h) => `${scheme}://${stand.address(h)}:2379`);
      const sampler = (async () => {
        while (sampling) {
          const statuses = await Promise.all(
            endpoints().map((u) =>
              getJson<{ leader?: string }>(`${u}/v3/maintenance/status`, {
                method: "POST",
                body: "{}",
                timeoutMs: 1000,
                tls,
              }).catch(() => ({}) as { leader?: string }),
            ),
          );
          const restUrls = stand.hostsWith("postgres").map((h) => `${scheme}://${stand.address(h)}:8008`);
          samples.push({
            etcdLeader: statuses.some((s) => s.leader && s.leader !== "0"),
            patroniLeader: !!leaderOf(await patroniCluster(restUrls, tls)),
          });
          await new Promise((r) => setTimeout(r, 500));
        }
      })();
      try {
        await scaleUp("etcd 3 -> 5 (etcd04, etcd05)", () =>
          addHosts(
            { name: "etcd04", address: "10.213.1.24", roles: ["etcd"] },
            { name: "etcd05", address: "10.213.1.25", roles: ["etcd"] },
          ),
        );
        expect(stand.ssh("pg01", `${ETCDCTL} --endpoints=https://10.213.1.11:2379 member list | grep -c started`)).toBe(
          "5",
        );
        expect(stand.ssh("pg01", "grep -c 10.213.1.25:2379 /etc/patroni/config.yml")).toBe("1");
        await scaleUp("etcd 5 -> 3", () => removeHosts("etcd04", "etcd05"));
        expect(stand.ssh("pg01", `${ETCDCTL} --endpoints=https://10.213.1.11:2379 member list | grep -c started`)).toBe(
          "3",
        );
      } finally {
        sampling = false;
        await sampler;
      }
      expect(samples.length).toBeGreaterThan(20);
      expect(samples.filter((s) => !s.etcdLeader)).toEqual([]);
      expect(samples.filter((s) => !s.patroniLeader)).toEqual([]);
    });

    // One fourth host, added then removed while it leads: the removal path a
    // replica takes too (switchover away, leave, slot dropped), in one cycle
    // of npm test's budget instead of two.
    it("a fourth PostgreSQL host joins as a streaming replica that HAProxy routes to", async () => {
      const started = Date.now();
      await scaleUp("pg04 added", () =>
        addHosts({ name: "pg04", address: "10.213.1.14", roles: ["postgres", "pgbouncer"] }),
      );
      console.log(
        `[e2e] time to add one replica (deploy of the host to streaming): ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(members().filter((m) => m.Role === "Replica" && m.State === "streaming")).toHaveLength(3);
      expect(await replicaServers()).toContain("pg04");
      expect(slots()).toContain("pg04");
    });

    it("the host that leads leaves: a switchover first, no write lost, a pause under 5 s, its slot and server gone", async () => {
      const leader = members().find((m) => m.Role === "Leader")!.Member;
      stand.ssh("pg02", `patronictl switchover --leader ${leader} --candidate pg04 --force`);
      await waitWhole({ ...standTargets(stand, clusterName).whole }, 120_000);
      expect(members().find((m) => m.Role === "Leader")!.Member).toBe("pg04");
      const report = await scaleUp("pg04 (the leader) removed", () => removeHosts("pg04"));
      expect(report.writePauseMs).toBeLessThan(5000);
      const after = members();
      expect(after.map((m) => m.Member).sort()).toEqual(["pg01", "pg02", "pg03"]);
      expect(after.filter((m) => m.Role === "Leader")).toHaveLength(1);
      expect(await replicaServers()).not.toContain("pg04");
      for (const h of stand.hostsWith("haproxy"))
        expect(stand.ssh(h, "grep -c pg04 /etc/haproxy/haproxy.cfg || true"), h).toBe("0");
      expect(slots()).not.toContain("pg04");
    });
  });
}
