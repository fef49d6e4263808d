// The cluster's entry without a single point of failure, on the entry stand
// (Pulumi.entry.yaml: two HAProxy hosts behind a VIP): every haproxy.vip
// field applied by `pulumi up` while a client writes (through the VIP, or
// through the client host's pg_service.conf when the entry itself changes),
// then the VIP removed: clients list every HAProxy host and survive one's
// power loss by themselves.
import { describe, expect, it } from "vitest";
import { Stand } from "../helpers/stand";
import { checkDurability, lostCount, writeUnavailabilityMs } from "../harness/invariants";
import { readIdsEverywhere, waitWhole } from "../harness/clusterState";
import { libpqWriter, LibpqWriterRun, vipHolders } from "../harness/entry";
import { standTargets, withTraffic } from "../harness/scenario";
import { createWriteTable, parseLibpqUri } from "../harness/traffic";

type Host = { name: string; address: string; roles: string[] };
const HAPROXY = "pulumi-patroni:haproxy";
const HOSTS = "pulumi-patroni:hosts";
/**
 * The longest write pause through the VIP allowed while a change keeps the
 * VIP on its holder (no election): the writer's reconnects after HAProxy
 * reloads, on shared busy cores. One failover of the holder is 3.2 to 3.5 s.
 */
const VIP_KEPT_PAUSE_MS = 2000;
/**
 * One failover of the VIP's holder, as the fault tests measure it (its
 * power loss: 3 missed adverts of 1 s plus the backup's skew, 3.2 to 3.5 s).
 */
const ONE_FAILOVER_MS = 3500;

export function entryTests(stand: Stand, clusterName: string): void {
  const vipConfig = () => stand.config()[HAPROXY]?.vip as { address: string } | undefined;
  const haproxies = () => stand.hostsWith("haproxy");
  const conf = (host: string) => stand.ssh(host, "cat /etc/keepalived/keepalived.conf");
  const client = () => stand.hostsWith("client")[0];
  const pgService = () => stand.ssh(client(), "cat /etc/postgresql-common/pg_service.conf");
  /** Whether `host`'s init (the local machine) has CAP_NET_ADMIN (bit 12) in its bounding set. */
  const hasNetAdmin = (host: string) =>
    ((BigInt(`0x${stand.ssh(host, "awk '/^CapBnd/ {print $2}' /proc/1/status")}`) >> 12n) & 1n) === 1n;
  /** An address of the stand's subnet ending in `last`. */
  const subnetAddress = (last: number) => stand.address(haproxies()[0]).replace(/\.\d+$/, `.${last}`);
  const pauses: Record<string, number> = {};
  /** When `unit` last became active on `host` (ms since the epoch, the host's clock: the controller's). */
  const activeSince = (host: string, unit: string) =>
    Number(stand.ssh(host, `date -d "$(systemctl show -p ActiveEnterTimestamp --value ${unit})" +%s%3N`));
  /** The unicast peers the running keepalived on `host` uses (its state dump, not its file). */
  const unicastPeers = (host: string) =>
    stand
      .ssh(
        host,
        "rm -f /tmp/keepalived.data; kill -USR1 $(cat /run/keepalived.pid); for i in $(seq 50); do [ -s /tmp/keepalived.data ] && break; sleep 0.1; done; " +
          "sed -n '/Unicast Peer :/,/Unicast checksum/p' /tmp/keepalived.data | awk 'NR > 1 && !/Unicast checksum/ {print $1}'; rm -f /tmp/keepalived.data",
      )
      .split("\n")
      .filter(Boolean);
  /** How many times keepalived on `host` entered MASTER since the host booted. */
  const vrrpMasters = (host: string) =>
    Number(stand.ssh(host, "journalctl -b -u keepalived -o cat --no-pager | grep -c 'Entering MASTER' || true"));

  async function expectNoChanges() {
    const preview = await stand.run(["preview", "--expect-no-changes"], true);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
  }

  /** `pulumi up` of `edit` while the harness writes through the VIP; 0 acknowledged writes lost. */
  async function upWritingThroughVip(label: string, edit: (c: Record<string, any>) => void) {
    stand.editConfig(edit);
    const report = await withTraffic(stand, clusterName, label, () => stand.up(label));
    pauses[label] = report.writePauseMs;
    expect(report.acknowledged, label).toBeGreaterThan(100);
    expect(report.lostAcknowledged, label).toBe(0);
    expect(report.dualProxyRounds, label).toBe(0);
    return report;
  }

  /**
   * `action` while psql on the client host writes through service=primary,
   * a new connection each time: the entry as pg_service.conf names it,
   * rewritten by the action itself when the entry changes.
   */
  async function writingThroughPgService(label: string, action: () => Promise<unknown>) {
    const t = standTargets(stand, clusterName);
    const table = `entry_${label.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_${Date.now()}`;
    await createWriteTable(t.primary, t.creds, table);
    const writer = libpqWriter(stand, client(), "primary", table, 900);
    let run: LibpqWriterRun;
    // From the action on: the writer's own start (ssh, the first psql) is no pause.
    let from: number;
    try {
      await new Promise((r) => setTimeout(r, 3000));
      from = Date.now();
      await action();
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      run = await writer.stop();
    }
    await stand.refreshOutputs();
    const now = standTargets(stand, clusterName);
    const durability = checkDurability(run.records, await readIdsEverywhere(now.nodes, now.creds, table));
    const pauseMs = writeUnavailabilityMs(run.records, from);
    pauses[label] = pauseMs;
    const acks = run.records.filter((w) => w.status === "ack").map((w) => w.doneAt);
    const gapEnd = acks.find((t, i) => i > 0 && t - acks[i - 1] === pauseMs);
    const slowest = Math.max(...run.records.map((w) => w.doneAt - w.sentAt));
    console.log(
      `[entry] ${label}: ${durability.acknowledged} acknowledged, ${durability.unknown} failed, longest pause ${pauseMs} ms (ending ${gapEnd ? new Date(gapEnd).toISOString() : "?"}), slowest insert ${slowest} ms, errors ${JSON.stringify(run.errors)}`,
    );
    expect(durability.acknowledged, label).toBeGreaterThan(20);
    expect(lostCount(durability), `${label}: acknowledged writes lost`).toBe(0);
    return { run, pauseMs };
  }

  describe("the entry: HAProxy on two hosts behind a keepalived VIP", () => {
    it("one HAProxy host holds the VIP; both serve it; the outputs, pg_service.conf and psql use it", async () => {
      const vip = vipConfig()!.address;
      const holders = vipHolders(stand, vip);
      expect(holders).toHaveLength(1);
      for (const h of haproxies()) {
        // Every address bound on both: the host without the VIP serves it the moment it arrives.
        expect(stand.ssh(h, `ss -Hltn 'sport = :5000' | awk '{print $4}'`), h).toBe("0.0.0.0:5000");
        expect(stand.ssh(h, "systemctl is-active keepalived"), h).toBe("active");
        expect(stand.ssh(h, "stat -c '%a %U' /etc/keepalived/keepalived.conf"), h).toBe("600 root");
        // The local machine has CAP_NET_ADMIN (keepalived adds the VIP); the database hosts do not.
        expect(hasNetAdmin(h), h).toBe(true);
      }
      expect(hasNetAdmin(stand.hostsWith("postgres")[0])).toBe(false);
      expect(conf(haproxies()[0])).toContain("priority 250");
      expect(conf(haproxies()[1])).toContain("priority 200");
      expect(parseLibpqUri(stand.outputs.primaryUri).hosts).toEqual([{ host: vip, port: 5000 }]);
      expect(stand.outputs.haproxyStatsUrl).toBe(`http://${vip}:7000/`);
      expect(pgService()).toContain(`[primary]\nhost=${vip}\nport=5000`);
      expect(stand.psql(client(), "service=primary", "select pg_is_in_recovery()")).toBe("f");
    });

    it("priority order reversed, a /24 prefix, the interface named: keepalived reloads, the holder keeps the VIP", async () => {
      const vip = vipConfig()!.address;
      const [holder] = vipHolders(stand, vip);
      const [first, second] = haproxies();
      const r = await upWritingThroughVip("priorityOrder, prefix, interface", (c) => {
        c[HAPROXY].vip = { ...c[HAPROXY].vip, priorityOrder: [second], prefix: 24, interface: "eth0" };
      });
      // nopreempt: the order rules the next election, it moves nothing now.
      expect(vipHolders(stand, vip)).toEqual([holder]);
      expect(stand.ssh(holder, `ip -o -4 addr show dev eth0 | awk '{print $4}'`)).toContain(`${vip}/24`);
      expect(conf(second)).toContain("priority 250");
      expect(conf(first)).toContain("priority 200");
      expect(r.writePauseMs).toBeLessThan(1000);
      await expectNoChanges();
    });

    it("a third HAProxy host joins as a VRRP backup and leaves again, a client writing through the VIP: 0 lost, the VIP stays on its holder", async () => {
      const vip = vipConfig()!.address;
      const [holder] = vipHolders(stand, vip);
      const third = { name: "haproxy03", address: subnetAddress(33), roles: ["haproxy"] };
      const vrrpMastersBefore = Object.fromEntries(haproxies().map((h) => [h, vrrpMasters(h)]));
      const added = await upWritingThroughVip("haproxy03 added", (c) => (c[HOSTS] = [...c[HOSTS], third]));
      expect(vipHolders(stand, vip)).toEqual([holder]);
      // It served the VIP's ports before keepalived could give it the VIP, and never took it.
      expect(stand.ssh(third.name, `ss -Hltn 'sport = :5000' | awk '{print $4}'`)).toBe("0.0.0.0:5000");
      expect(activeSince(third.name, "keepalived")).toBeGreaterThan(activeSince(third.name, "haproxy"));
      expect(vrrpMasters(third.name), "haproxy03 entered MASTER").toBe(0);
      for (const h of haproxies().filter((n) => n !== third.name)) {
        expect(unicastPeers(h), h).toContain(third.address);
        expect(vrrpMasters(h), h).toBe(vrrpMastersBefore[h]);
      }
      // One VRRP election at most would be ~3.5 s; the holder never lost the VIP.
      expect(added.writePauseMs).toBeLessThan(VIP_KEPT_PAUSE_MS);
      await expectNoChanges();
      const removed = await upWritingThroughVip("haproxy03 removed", (c) => {
        c[HOSTS] = c[HOSTS].filter((h: Host) => h.name !== third.name);
      });
      expect(vipHolders(stand, vip)).toEqual([holder]);
      expect(stand.machine("list")).not.toContain(third.name);
      for (const h of haproxies()) {
        expect(unicastPeers(h), h).not.toContain(third.address);
        expect(vrrpMasters(h), h).toBe(vrrpMastersBefore[h]);
      }
      expect(removed.writePauseMs).toBeLessThan(VIP_KEPT_PAUSE_MS);
      await expectNoChanges();
    });

    it("multicast, a new virtual router id and the VRRP password rotated: the hosts reload together, the VIP away one failover at most", async () => {
      const vip = vipConfig()!.address;
      const passBefore = conf(haproxies()[0]).match(/auth_pass (\S+)/)![1];
      const r = await upWritingThroughVip("unicast false, virtualRouterId 77, VRRP password rotated", (c) => {
        c[HAPROXY].vip = { ...c[HAPROXY].vip, unicast: false, virtualRouterId: 77 };
        c["pulumi-patroni:passwordRotation"] = {
          ...(c["pulumi-patroni:passwordRotation"] ?? {}),
          haproxyVrrpPassword: 1,
        };
      });
      expect(vipHolders(stand, vip)).toHaveLength(1);
      for (const h of haproxies()) {
        expect(conf(h), h).toContain("virtual_router_id 77");
        expect(conf(h), h).not.toContain("unicast_peer");
        expect(conf(h).match(/auth_pass (\S+)/)![1], h).not.toBe(passBefore);
      }
      expect(r.writePauseMs).toBeLessThan(5000);
      await expectNoChanges();
    });

    it("the VIP moved to another address: elected where HAProxy already serves it, the old one kept until pg_service.conf names the new one", async () => {
      const old = vipConfig()!.address;
      const moved = subnetAddress(29);
      const label = "VIP moved";
      const { pauseMs } = await writingThroughPgService(label, async () => {
        stand.editConfig((c) => (c[HAPROXY].vip = { ...c[HAPROXY].vip, address: moved }));
        await stand.up(label);
      });
      // The old address is served until pg_service.conf names the new one: never away one failover.
      expect(pauseMs).toBeLessThan(ONE_FAILOVER_MS);
      expect(vipHolders(stand, old)).toEqual([]);
      expect(vipHolders(stand, moved)).toHaveLength(1);
      expect(pgService()).toContain(`host=${moved}\n`);
      expect(parseLibpqUri(stand.outputs.primaryUri).hosts).toEqual([{ host: moved, port: 5000 }]);
      await expectNoChanges();
    });

    it("the VIP removed: clients list every HAProxy host (libpq multi-host) first, then keepalived stops", async () => {
      const vip = vipConfig()!.address;
      const label = "VIP removed";
      const { pauseMs } = await writingThroughPgService(label, async () => {
        stand.editConfig((c) => delete c[HAPROXY].vip);
        await stand.up(label);
      });
      // pg_service.conf names the HAProxy hosts before keepalived stops: never away one failover.
      expect(pauseMs).toBeLessThan(ONE_FAILOVER_MS);
      expect(vipHolders(stand, vip)).toEqual([]);
      const addresses = haproxies().map((h) => stand.address(h));
      for (const h of haproxies()) expect(stand.ssh(h, "systemctl is-active keepalived || true"), h).toBe("inactive");
      expect(pgService()).toContain(`[primary]\nhost=${addresses.join(",")}\nport=5000`);
      expect(pgService()).toContain("load_balance_hosts=random");
      expect(parseLibpqUri(stand.outputs.primaryUri).hosts).toEqual(addresses.map((host) => ({ host, port: 5000 })));
      await expectNoChanges();
    });

    it("without a VIP, a libpq client survives an HAProxy host's power loss by itself: each new connection pays at most connect_timeout", async () => {
      const [first] = haproxies();
      const label = `${first} power loss, libpq multi-host`;
      const { pauseMs, run } = await writingThroughPgService(label, async () => {
        await stand.machineAsync("kill", first);
        await new Promise((res) => setTimeout(res, 20_000));
        await stand.machineAsync("start", first);
      });
      const slow = run.records.filter((w) => w.status === "ack" && w.doneAt - w.sentAt > 1500).length;
      console.log(`[entry] ${label}: ${slow} of ${run.records.length} connections paid the connect timeout`);
      // connect_timeout=2 on the dead host, then the other one: never a pause of two timeouts.
      expect(pauseMs).toBeLessThan(4000);
      // The dead host was tried (it was first for about half of the connections).
      expect(slow).toBeGreaterThan(0);
      await waitWhole(standTargets(stand, clusterName).whole, 120_000);
    });
  });
}
