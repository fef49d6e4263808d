// End to end on real machines: `pulumi up` of the e2e stack creates six
// systemd-nspawn machines and the cluster on them over SSH (two HAProxy
// hosts behind a keepalived VIP, as on the local stand); the tests then
// check what a DBA would check (seeds' runbooks), the entry through the
// VIP, idempotence, day-2 changes
// of the configuration (day2.ts), faults, a machine's power loss and
// recovery, secrets, and that destroy leaves nothing behind. A stand left by
// an earlier run is destroyed first; this run's is destroyed at the end, pass
// or fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import { ETCDCTL, Stand } from "../helpers/stand";
import { standTargets } from "../harness/scenario";
import { waitWhole } from "../harness/clusterState";
import { vipHolders } from "../harness/entry";
import { parseLibpqUri } from "../harness/traffic";
import { day2Tests } from "./day2";
import { scaleTests } from "./scale";
import { hostTrustTests, noPasswordInLogsTests, passwordsInState } from "./hardening";
import { operationsTests } from "./operations";

const STACK = "e2e";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "e2e-stand-passphrase" });
const ssh = (host: string, command: string, input?: string) => stand.ssh(host, command, input);
const psql = (host: string, conn: string, sql: string) => stand.psql(host, conn, sql);
const up = (label: string) => stand.up(label);
let outputs: Stand["outputs"];
/** The entry clients dial: the VIP of Pulumi.e2e.yaml, in front of haproxy01 and haproxy02. */
const VIP = "10.213.1.30";
const HAPROXIES = ["haproxy01", "haproxy02"];
const CA = "/etc/pulumi-patroni/tls/ca.crt";

function activeSince(host: string, unit: string): string {
  return ssh(host, `systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`);
}

let destroyed = false;

beforeAll(async () => {
  await stand.select();
  const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
  if (leftover.code !== 0)
    throw new Error(`could not destroy a leftover e2e stand:\n${leftover.stdout}${leftover.stderr}`);
  await up("pulumi up (fresh machines to healthy cluster)");
  outputs = stand.outputs;
  for (const p of await passwordsInState(stand)) seenPasswords.add(p);
});

/** Every password the stand has had, the ones rotated away included. */
const seenPasswords = new Set<string>();

afterAll(async () => {
  if (!destroyed) await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
  console.log(`[e2e] timings: ${JSON.stringify(stand.timings)}`);
});

describe("local machines", () => {
  it("each machine runs systemd and sshd with its own machine-id and hostname", () => {
    const ids = new Set<string>();
    for (const host of Object.keys(outputs.hosts)) {
      expect(ssh(host, "systemctl is-system-running || true")).toMatch(/^(running|degraded)$/);
      expect(ssh(host, "hostname")).toBe(host);
      ids.add(ssh(host, "cat /etc/machine-id"));
    }
    expect(ids.size).toBe(Object.keys(outputs.hosts).length);
  });

  it("apt inside a machine goes through the stand's proxy", () => {
    expect(ssh("client01", "apt-config dump | grep -i 'Acquire::http::Proxy'")).toContain(":3143");
  });
});

describe("the cluster, checked the way the seeds check it", () => {
  it("patronictl list: one Leader, every other member streaming on the same timeline with 0 lag", () => {
    for (const host of ["pg01", "pg02", "pg03"]) {
      const members = JSON.parse(ssh(host, "patronictl -c /etc/patroni/patroni.yml list -f json"));
      expect(members).toHaveLength(3);
      const leaders = members.filter((m: any) => m.Role === "Leader");
      expect(leaders).toHaveLength(1);
      for (const m of members.filter((m: any) => m.Role !== "Leader")) {
        expect(m.State).toBe("streaming");
        expect(m.TL).toBe(leaders[0].TL);
        expect(Number(m["Lag in MB"])).toBe(0);
      }
    }
  });

  it("etcdctl endpoint health is healthy on every member (over TLS, with the host's certificate)", () => {
    for (const host of ["pg01", "pg02", "pg03"]) {
      const out = ssh(host, `${ETCDCTL} --endpoints=https://${outputs.hosts[host].address}:2379 endpoint health 2>&1`);
      expect(out).toContain("is healthy");
    }
    expect(outputs.etcdEndpoints).toEqual([
      "https://10.213.1.11:2379",
      "https://10.213.1.12:2379",
      "https://10.213.1.13:2379",
    ]);
  });

  it("HAProxy 5000 reaches the primary, 5001 a replica", () => {
    expect(psql("client01", "service=primary", "select pg_is_in_recovery()")).toBe("f");
    expect(psql("client01", "service=replicas", "select pg_is_in_recovery()")).toBe("t");
  });

  it("a row written through 5000 is read back on every replica through its PgBouncer", () => {
    psql("client01", "service=primary", "create database seedcheck");
    psql(
      "client01",
      "service=primary dbname=seedcheck",
      "create table t(id int primary key, note text); insert into t values (1, 'written via haproxy 5000')",
    );
    const password = encodeURIComponent(new URL(outputs.primaryUri).password);
    const leader = JSON.parse(ssh("pg01", "patronictl -c /etc/patroni/patroni.yml list -f json")).find(
      (m: any) => m.Role === "Leader",
    ).Member;
    const replicas = ["pg01", "pg02", "pg03"].filter((h) => h !== leader);
    for (const replica of replicas) {
      const conn = `postgresql://postgres:${password}@${outputs.hosts[replica].address}:6432/seedcheck?sslmode=verify-full&sslrootcert=/etc/pulumi-patroni/tls/ca.crt`;
      let note = "";
      for (let i = 0; i < 20 && note === ""; i++) {
        try {
          note = ssh("client01", `PGCONNECT_TIMEOUT=5 psql -X -At "$(cat)" -c "select note from t where id = 1"`, conn);
        } catch {
          /* replication may lag a moment */
        }
      }
      expect(note).toBe("written via haproxy 5000");
    }
  });

  it("pg_replication_slots: one active physical slot per replica; pg_stat_replication streaming", () => {
    const slots = psql(
      "client01",
      "service=primary",
      "select slot_type || ':' || active from pg_replication_slots order by slot_name",
    ).split("\n");
    expect(slots).toEqual(["physical:true", "physical:true"]);
    const states = psql("client01", "service=primary", "select state from pg_stat_replication").split("\n");
    expect(states).toEqual(["streaming", "streaming"]);
  });

  it("PgBouncer's admin console answers SHOW POOLS", () => {
    const out = ssh(
      "pg01",
      `PGPASSWORD="$(cat)" psql -X -At "host=127.0.0.1 port=6432 user=postgres dbname=pgbouncer" -c "SHOW POOLS"`,
      new URL(outputs.primaryUri).password,
    );
    expect(out.length).toBeGreaterThan(0);
  });

  it("pgbench -i and pgbench -c 10 -C -t 100 through HAProxy 5000 (the seeds' load check)", () => {
    ssh("client01", "pgbench -i -q service=primary dbname=app 2>&1 || pgbench -i -q 'service=primary dbname=app'");
    const out = ssh("client01", "pgbench -c 10 -C -t 100 'service=primary dbname=app' 2>&1");
    expect(out).toMatch(/number of transactions actually processed: 1000\/1000/);
    const tps = out.match(/tps = ([\d.]+)/);
    console.log(`[e2e] pgbench -c 10 -C -t 100 through HAProxy: ${tps?.[1]} tps`);
  });

  it("exports URIs, the stats URL, hosts with roles and etcd endpoints, the URIs and stats URL on the VIP", () => {
    expect(outputs.primaryUri).toMatch(
      /^postgresql:\/\/postgres:[A-Za-z0-9]+@10\.213\.1\.30:5000\/postgres\?sslmode=verify-full$/,
    );
    expect(outputs.replicasUri).toMatch(/@10\.213\.1\.30:5001\/postgres\?sslmode=verify-full$/);
    for (const uri of Object.values(outputs.userUris as Record<string, string>))
      expect(parseLibpqUri(uri).hosts).toEqual([{ host: VIP, port: 5000 }]);
    expect(outputs.haproxyStatsUrl).toBe("https://10.213.1.30:7000/");
    expect(outputs.tlsCaCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(outputs.hosts.pg01).toEqual({ address: "10.213.1.11", roles: ["etcd", "postgres", "pgbouncer"] });
  });

  it("the HAProxy stats page is https on the VIP (the certificate names it) and needs authentication", () => {
    const curl = "curl -s -o /dev/null -w '%{http_code}' --cacert /etc/pulumi-patroni/tls/ca.crt";
    const anonymous = ssh("client01", `${curl} ${outputs.haproxyStatsUrl}`);
    expect(anonymous).toBe("401");
    const authorized = ssh(
      "client01",
      `${curl} -K - ${outputs.haproxyStatsUrl}`,
      `user = "admin:${outputs.haproxyStatsPassword}"\n`,
    );
    expect(authorized).toBe("200");
  });
});

describe("the entry: no single point of failure, two HAProxy hosts behind a VIP", () => {
  it("exactly one HAProxy host holds the VIP; keepalived runs on both, each HAProxy serving every address (so the VIP wherever it is)", () => {
    expect(Object.keys(outputs.hosts).filter((h) => outputs.hosts[h].roles.includes("haproxy"))).toEqual(HAPROXIES);
    const holders = vipHolders(stand, VIP);
    expect(holders).toHaveLength(1);
    console.log(`[e2e] the VIP ${VIP} is on ${holders[0]}`);
    for (const h of HAPROXIES) {
      expect(ssh(h, "systemctl is-active keepalived haproxy"), h).toBe("active\nactive");
      // Every address, never the VIP by name: a VIP change never reloads HAProxy.
      expect(ssh(h, "ss -Hltn 'sport = :5000' | awk '{print $4}'").split("\n"), h).toContain("0.0.0.0:5000");
    }
  });

  it("client01's pg_service.conf names the VIP, with verify-full", () => {
    const conf = ssh("client01", "cat /etc/postgresql-common/pg_service.conf");
    expect(conf).toContain(`[primary]\nhost=${VIP}\nport=5000\n`);
    expect(conf).toContain(`[replicas]\nhost=${VIP}\nport=5001\n`);
    expect(conf).not.toContain("10.213.1.31");
    expect(conf.match(/sslmode=verify-full/g)).toHaveLength(2);
  });

  it("a write through the VIP with sslmode=verify-full (the primaryUri output as is) is read back through it", () => {
    // The client verifies the certificate PgBouncer presents through HAProxy against the address it dialled: the VIP.
    const uri = `${outputs.primaryUri}&sslrootcert=${CA}`;
    const run = (sql: string) => ssh("client01", `PGCONNECT_TIMEOUT=5 psql -X -At "$(cat)" -c "${sql}"`, uri);
    run("create table if not exists vip_check(id int primary key, note text)");
    run("insert into vip_check values (1, 'written through the VIP')");
    expect(run("select note from vip_check where id = 1")).toBe("written through the VIP");
    // With a CA that did not sign the cluster's certificates, the same URI is refused: the client does verify.
    const foreignCa = outputs.primaryUri.replace("sslmode=verify-full", "sslmode=verify-full&sslrootcert=system");
    const refused = ssh("client01", `PGCONNECT_TIMEOUT=5 psql -X -At "$(cat)" -c "select 1" 2>&1 || true`, foreignCa);
    expect(refused).toMatch(/certificate verify failed/);
  });
});

describe("HAProxy health checks", () => {
  const statusOf = (haproxy: string, server: string) => {
    const csv = ssh(haproxy, "echo 'show stat' | socat stdio /run/haproxy/admin.sock");
    return csv
      .split("\n")
      .filter((l) => l.includes(`,${server},`))
      .map((l) => `${l.split(",")[0]}:${l.split(",")[17]}`);
  };
  /** Waits until `server` has state `want` in `backend` on every HAProxy host; returns its states in both backends, per host. */
  const waitFor = async (server: string, backend: string, want: string) => {
    const pending = () => HAPROXIES.filter((h) => !statusOf(h, server).includes(`${backend}:${want}`));
    for (let i = 0; i < 30 && pending().length > 0; i++) await new Promise((r) => setTimeout(r, 1000));
    return Object.fromEntries(HAPROXIES.map((h) => [h, statusOf(h, server)]));
  };

  it("a node whose PgBouncer is dead gets no traffic, and comes back when PgBouncer does", async () => {
    const leader = JSON.parse(ssh("pg01", "patronictl -c /etc/patroni/patroni.yml list -f json")).find(
      (m: any) => m.Role === "Leader",
    ).Member;
    const replica = ["pg01", "pg02", "pg03"].find((h) => h !== leader)!;
    ssh(replica, "systemctl stop pgbouncer");
    try {
      // Patroni still says "replica": only the PgBouncer probe can take it out.
      expect(await waitFor(replica, "e2e-replicas", "DOWN")).toEqual(
        Object.fromEntries(HAPROXIES.map((h) => [h, ["e2e-primary:DOWN", "e2e-replicas:DOWN"]])),
      );
      // Round robin over the replicas port never lands on it.
      for (let i = 0; i < 6; i++)
        expect(psql("client01", "service=replicas", "select trim(pg_read_file('/etc/hostname'))")).not.toBe(replica);
    } finally {
      ssh(replica, "systemctl start pgbouncer");
    }
    for (const states of Object.values(await waitFor(replica, "e2e-replicas", "UP")))
      expect(states).toContain("e2e-replicas:UP");
  });
});

describe("secrets", () => {
  it("no generated password or the private key appears in clear in the state or the update log", async () => {
    const state = (await stand.run(["stack", "export"])).stdout;
    const password = decodeURIComponent(new URL(outputs.primaryUri).password);
    const keyBody = outputs.sshPrivateKey.split("\n")[1];
    for (const secret of [password, outputs.haproxyStatsPassword, keyBody]) {
      expect(secret.length).toBeGreaterThan(10);
      expect(state).not.toContain(secret);
      expect(stand.upLog).not.toContain(secret);
    }
    // No TLS key either: the CA's, the hosts', the controller's.
    expect(state).not.toContain("PRIVATE KEY");
    expect(stand.upLog).not.toContain("PRIVATE KEY");
  });

  it("secret files on the hosts are not world-readable", () => {
    expect(ssh("pg01", "stat -c '%a %U' /etc/patroni/config.yml /etc/pgbouncer/userlist.txt")).toBe(
      "600 postgres\n600 postgres",
    );
    for (const h of HAPROXIES) {
      expect(ssh(h, "stat -c '%a %U:%G' /etc/haproxy/haproxy.cfg"), h).toBe("640 root:haproxy");
      expect(ssh(h, "stat -c '%a %U' /etc/keepalived/keepalived.conf"), h).toBe("600 root");
    }
    expect(ssh("pg01", "stat -c '%a %U:%G' /etc/pulumi-patroni/tls/host.key")).toBe("640 root:ssl-cert");
    expect(ssh("haproxy01", "stat -c '%a %U:%G' /etc/pulumi-patroni/tls/haproxy.pem")).toBe("600 root:root");
    expect(ssh("client01", "stat -c '%a' /root/.pgpass")).toBe("600");
  });
});

describe("idempotence", () => {
  it("a second pulumi up reports no changes and restarts nothing", async () => {
    const before = ["pg01", "pg02", "pg03"].map((h) =>
      [activeSince(h, "patroni"), activeSince(h, "pgbouncer"), activeSince(h, "etcd")].join(","),
    );
    const entryBefore = HAPROXIES.map((h) => [activeSince(h, "haproxy"), activeSince(h, "keepalived")].join(","));
    const holderBefore = vipHolders(stand, VIP);
    const preview = await stand.run(["preview", "--expect-no-changes", "--diff"], true);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    const out = await up("no-change pulumi up");
    expect(out).not.toMatch(/\d+ (to update|updated|created|deleted|replaced)/);
    const after = ["pg01", "pg02", "pg03"].map((h) =>
      [activeSince(h, "patroni"), activeSince(h, "pgbouncer"), activeSince(h, "etcd")].join(","),
    );
    expect(after).toEqual(before);
    expect(HAPROXIES.map((h) => [activeSince(h, "haproxy"), activeSince(h, "keepalived")].join(","))).toEqual(
      entryBefore,
    );
    expect(vipHolders(stand, VIP)).toEqual(holderBefore);
  });
});

hostTrustTests(stand);

day2Tests(stand, STACK);

operationsTests(stand, STACK);

describe("power loss of a machine", () => {
  it("the next pulumi up starts a machine that lost power, and it rejoins the cluster", async () => {
    stand.machine("kill", "pg03");
    expect(stand.machine("status", "pg03")).toBe("stopped");
    await up("pulumi up after pg03 lost power");
    expect(stand.machine("status", "pg03")).toBe("running");
    // Whole again: one leader, every member streaming on its timeline, HAProxy routing to them (or the reason it is not).
    const tookMs = await waitWhole(standTargets(stand, STACK).whole, 180_000);
    console.log(`[e2e] pg03 rejoined ${(tookMs / 1000).toFixed(1)} s after the pulumi up`);
    expect(
      psql("client01", "service=primary", "select count(*) from pg_stat_replication where state = 'streaming'"),
    ).toBe("2");
  });
});

scaleTests(stand, STACK);

describe("passwords seen after the day-2 changes", () => {
  it("are recorded for the log search", async () => {
    for (const p of await passwordsInState(stand)) seenPasswords.add(p);
    expect(seenPasswords.size).toBeGreaterThan(7);
  });
});

noPasswordInLogsTests(stand, () => [...seenPasswords]);

describe("destroy", () => {
  it("pulumi destroy removes every machine, namespace, veth, bridge and process", async () => {
    await stand.run(["destroy", "--yes", "--skip-preview"]);
    destroyed = true;
    expect(childProcess.execSync("ip netns list", { encoding: "utf8" })).not.toMatch(new RegExp(`${STACK}`));
    expect(childProcess.execSync("ip -o link show", { encoding: "utf8" })).not.toContain("pgstande2e");
    const nspawn = childProcess.spawnSync("pgrep", ["-f", `systemd-nspawn.*${STACK}`], { encoding: "utf8" });
    expect(nspawn.stdout.trim()).toBe("");
    expect(
      fs.existsSync(`/var/lib/pulumi-patroni/${STACK}`) ? fs.readdirSync(`/var/lib/pulumi-patroni/${STACK}`) : [],
    ).toEqual([]);
    expect(fs.readFileSync("/proc/mounts", "utf8")).not.toContain(`/var/lib/pulumi-patroni/${STACK}/`);
  });
});
