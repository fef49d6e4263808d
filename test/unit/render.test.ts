import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import * as yaml from "js-yaml";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackConfig } from "../../src/config/validate";
import { deriveTopology } from "../../src/config/topology";
import { packagesFor } from "../../src/platform/platform";
import { renderPatroniConfig, renderDynamicConfig, renderPgHba } from "../../src/roles/patroni/patroniConfig";
import { renderEtcdEnvironment } from "../../src/roles/etcd/etcdEnvironment";
import { renderHaproxyConfig, HaproxyConfigInput } from "../../src/roles/haproxy/haproxyConfig";
import { renderPgbouncerIni } from "../../src/roles/pgbouncer/pgbouncerIni";
import { clientLoginSecret, renderPgbouncerUserlist } from "../../src/roles/pgbouncer/pgbouncerUserlist";
import { stableScramVerifier, verifierMatches } from "../../src/secrets/scram";
import { renderPgbouncerHba } from "../../src/roles/pgbouncer/pgbouncerHba";
import { renderSystemdDropIn, PATRONI_DROP_IN } from "../../src/render/systemdUnit";
import { renderClusterSql } from "../../src/cluster/clusterSql";
import { renderPgpass, renderPgService } from "../../src/roles/client/clientConnection";
import { renderStepScript } from "../../src/steps/stepScript";
import { seed000, seed001, seed002 } from "../fixtures/topologies";

const ctx = { stack: "test" };
const passwords = { superuser: "SuperPw1", replication: "ReplPw2", rewind: "RewindPw3", restApi: "RestPw4" };
const HEADER = "# Managed by pulumi-patroni (stack test). Do not edit: change Pulumi.test.yaml and run pulumi up.";

function patroniFor(raw: object, hostIndex: number) {
  const c = parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
  const topo = deriveTopology(c);
  const host = topo.postgresHosts[hostIndex];
  const input = {
    cluster: c.cluster,
    host,
    clusterAddresses: c.hosts.map((h) => h.address),
    replicationAddresses: topo.postgresHosts.map((h) => h.address),
    etcdHosts: topo.etcdHosts.map((h) => `${h.address}:${c.etcd.clientPort}`),
    passwords,
  };
  return { c, topo, host, text: renderPatroniConfig(ctx, input), input };
}

describe("patroni.yml", () => {
  it("parses back with the fields that matter (seed 001: separate etcd host)", () => {
    const { text, host } = patroniFor(seed001, 1);
    expect(text.split("\n")[0]).toBe(HEADER);
    const doc = yaml.load(text) as any;
    expect(doc.scope).toBe("otus");
    expect(doc.name).toBe("pg02");
    expect(doc.etcd3.hosts).toEqual(["192.168.11.160:2379"]);
    expect(doc.postgresql.listen).toBe(`${host.address},127.0.0.1:5432`);
    expect(doc.postgresql.connect_address).toBe(`${host.address}:5432`);
    expect(doc.postgresql.data_dir).toBe("/var/lib/postgresql/17/otus");
    expect(doc.postgresql.bin_dir).toBe("/usr/lib/postgresql/17/bin");
    expect(doc.postgresql.authentication.replication).toEqual({ username: "replicator", password: "ReplPw2" });
    expect(doc.restapi.authentication).toEqual({ username: "patroni", password: "RestPw4" });
    expect(doc.ctl.authentication.username).toBe("patroni");
    expect(doc.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, failsafe_mode: true });
    expect(doc.bootstrap.dcs.postgresql.parameters).toMatchObject({
      max_connections: 100,
      shared_buffers: "128MB",
      password_encryption: "scram-sha-256",
    });
    expect(doc.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });

  it("bootstrap.pg_hba repeats postgresql.pg_hba (Patroni 3.0 validation requires it)", () => {
    const doc = yaml.load(patroniFor(seed000, 0).text) as any;
    expect(doc.bootstrap.pg_hba).toEqual(doc.postgresql.pg_hba);
  });

  it("is byte-stable and sorted", () => {
    const a = patroniFor(seed000, 0).text;
    const b = patroniFor(seed000, 0).text;
    expect(a).toBe(b);
    const topKeys = Object.keys(yaml.load(a) as object);
    expect(topKeys).toEqual([...topKeys].sort());
  });

  it("pg_hba: scram only, no trust, replication only from postgres members", () => {
    const { input } = patroniFor(seed000, 0);
    const hba = renderPgHba(input);
    expect(hba.join("\n")).not.toMatch(/\btrust\b/);
    const replication = hba.filter((l) => l.includes(" replication "));
    expect(replication).toEqual([
      "host replication replicator 127.0.0.1/32 scram-sha-256",
      "host replication replicator 192.168.11.150/32 scram-sha-256",
      "host replication replicator 192.168.11.151/32 scram-sha-256",
      "host replication replicator 192.168.11.152/32 scram-sha-256",
    ]);
    expect(hba).toContain("host all all 192.168.11.153/32 scram-sha-256");
    expect(hba[0]).toBe("local all postgres peer");
  });

  it("user pg_hba rules come after the cluster's own", () => {
    const { input } = patroniFor(
      {
        ...seed000,
        cluster: { pgHba: [{ type: "hostssl", database: "app", user: "app", address: "10.9.0.0/16", method: "scram-sha-256" }] },
      },
      0,
    );
    const hba = renderPgHba(input);
    expect(hba[hba.length - 1]).toBe("hostssl app app 10.9.0.0/16 scram-sha-256");
  });

  it("tags follow the host", () => {
    const raw = JSON.parse(JSON.stringify(seed000));
    raw.hosts[2].tags = { nofailover: true, noloadbalance: true };
    const doc = yaml.load(patroniFor(raw, 2).text) as any;
    expect(doc.tags).toMatchObject({ nofailover: true, noloadbalance: true });
  });

  it("dynamic config carries the DCS-only settings", () => {
    const c = parseStackConfig(
      JSON.parse(JSON.stringify({ ...seed000, cluster: { dcs: { synchronousMode: true }, parameters: { max_connections: 150 } } })),
      () => false,
    );
    const dcs = renderDynamicConfig(c.cluster) as any;
    expect(dcs.synchronous_mode).toBe(true);
    expect(dcs.postgresql.parameters.max_connections).toBe(150);
    expect(dcs.postgresql.use_slots).toBe(true);
  });
});

describe("etcd environment", () => {
  it("names every member and uses its own data directory", () => {
    const c = parseStackConfig(JSON.parse(JSON.stringify(seed000)), () => false);
    const topo = deriveTopology(c);
    const text = renderEtcdEnvironment(ctx, {
      clusterName: c.cluster.name,
      memberName: "serverb",
      address: "192.168.11.151",
      clientPort: 2379,
      peerPort: 2380,
      initialCluster: topo.etcdInitialCluster,
      heartbeatIntervalMs: 1000,
      electionTimeoutMs: 5000,
    });
    const env = Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => {
          const [k, v] = l.split("=", 2);
          return [k, l.slice(k.length + 2, -1) || v];
        }),
    );
    expect(env.ETCD_NAME).toBe("serverb");
    expect(env.ETCD_INITIAL_CLUSTER).toBe(
      "servera=http://192.168.11.150:2380,serverb=http://192.168.11.151:2380,serverc=http://192.168.11.152:2380",
    );
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe("http://192.168.11.151:2379,http://127.0.0.1:2379");
    expect(env.ETCD_DATA_DIR).toBe("/var/lib/etcd/patroni-cluster-otus");
    expect(env.ETCD_ELECTION_TIMEOUT).toBe("5000");
  });
});

function haproxyInput(overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return {
    clusterName: "demo",
    listenAddress: "10.213.0.31",
    primaryPort: 5000,
    replicaPort: 5001,
    statsPort: 7000,
    maxConn: 1000,
    restApiPort: 8008,
    replicaMaxLag: "10MB",
    checkIntervalMs: 2000,
    fastCheckIntervalMs: 1000,
    fall: 3,
    rise: 2,
    servers: [
      { name: "pg01", address: "10.213.0.11", port: 6432 },
      { name: "pg02", address: "10.213.0.12", port: 6432 },
      { name: "pg03", address: "10.213.0.13", port: 5432 },
    ],
    statsPassword: "StatsPw",
    allowedSources: ["10.213.0.0/24", "192.168.5.0/24"],
    ...overrides,
  };
}

describe("haproxy.cfg", () => {
  const text = renderHaproxyConfig(ctx, haproxyInput());

  it("routes 5000 to /primary and 5001 to /replica with the lag bound", () => {
    const primary = text.slice(text.indexOf("listen demo-primary"), text.indexOf("listen demo-replicas"));
    const replicas = text.slice(text.indexOf("listen demo-replicas"));
    expect(primary).toContain("bind 10.213.0.31:5000");
    expect(primary).toContain('tcp-check send "OPTIONS /primary HTTP/1.0\\r\\n\\r\\n"');
    expect(replicas).toContain("bind 10.213.0.31:5001");
    expect(replicas).toContain('tcp-check send "OPTIONS /replica?lag=10MB HTTP/1.0\\r\\n\\r\\n"');
    for (const part of [primary, replicas]) {
      expect(part).toContain("server pg01 10.213.0.11:6432 check");
      expect(part).toContain("server pg03 10.213.0.13:5432 check");
      expect(part).toContain("on-marked-down shutdown-sessions");
    }
  });

  it("a server whose PgBouncer does not answer the protocol is down", () => {
    // After the Patroni check, a second connect to the session port must get an answer to SSLRequest.
    const primary = text.slice(text.indexOf("listen demo-primary"), text.indexOf("listen demo-replicas"));
    const checks = primary
      .split("\n")
      .filter((l) => l.includes("tcp-check"))
      .map((l) => l.trim());
    expect(checks).toEqual([
      "option tcp-check",
      "tcp-check connect port 8008",
      'tcp-check send "OPTIONS /primary HTTP/1.0\\r\\n\\r\\n"',
      "tcp-check expect rstring ^HTTP/1\\.[01]\\ 200",
      "tcp-check connect",
      "tcp-check send-binary 0000000804d2162f",
      "tcp-check expect rbinary ^(4[Ee]|53)",
    ]);
  });

  it("admits only the allowed client networks on every port", () => {
    const rejects = text.split("\n").filter((l) => l.includes("tcp-request connection reject"));
    expect(rejects).toHaveLength(3);
    for (const r of rejects) expect(r.trim()).toBe("tcp-request connection reject unless { src 127.0.0.1 10.213.0.0/24 192.168.5.0/24 }");
  });

  it("stats page on 7000 with authentication", () => {
    expect(text).toContain("bind 10.213.0.31:7000");
    expect(text).toContain("stats auth admin:StatsPw");
  });

  it("is accepted by haproxy -c", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-test-"));
    const file = path.join(dir, "haproxy.cfg");
    // Users and sockets of the target host do not exist here; check the proxy sections.
    fs.writeFileSync(file, text.replace(/^\s+(user|group|stats socket|daemon).*$/gm, ""));
    const result = childProcess.spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(result.error, "haproxy must be installed on the controller (apt-get install haproxy)").toBeUndefined();
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});

describe("pgbouncer", () => {
  it("pgbouncer.ini uses the unix socket, auth_query and the configured pool", () => {
    const text = renderPgbouncerIni(ctx, {
      listenAddress: "10.0.0.11",
      port: 6432,
      postgresPort: 5432,
      poolMode: "transaction",
      defaultPoolSize: 20,
      maxClientConn: 1000,
      authType: "scram-sha-256",
      adminUsers: ["postgres"],
    });
    expect(text.startsWith("; Managed by pulumi-patroni")).toBe(true);
    const settings = Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l.includes(" = "))
        .map((l) => l.split(" = ", 2) as [string, string]),
    );
    expect(settings["*"]).toBe("host=/var/run/postgresql port=5432");
    expect(settings.listen_addr).toBe("10.0.0.11,127.0.0.1");
    expect(settings.auth_type).toBe("hba");
    expect(settings.auth_hba_file).toBe("/etc/pgbouncer/pgbouncer_hba.conf");
    expect(settings.auth_query).toBe("SELECT username, password FROM pgbouncer.get_auth($1)");
    expect(settings.admin_users).toBe("postgres");
    expect(settings.pool_mode).toBe("transaction");
  });

  it("userlist quotes names and passwords, sorted", () => {
    const text = renderPgbouncerUserlist(ctx, { postgres: 'p"w', pgbouncer: "x" });
    expect(text.split("\n").slice(1, 3)).toEqual(['"pgbouncer" "x"', '"postgres" "p""w"']);
  });

  it("gives PgBouncer the superuser's verifier, never its password (no PBKDF2 per login)", () => {
    const scram = clientLoginSecret("scram-sha-256", "postgres", "S3cret", "pg-cluster");
    // The very verifier the role gets in PostgreSQL: SCRAM pass-through and the same salt.
    expect(scram).toBe(stableScramVerifier("postgres", "S3cret", "pg-cluster"));
    expect(verifierMatches(scram, "S3cret")).toBe(true);
    expect(scram).not.toContain("S3cret");
    // md5 clients: PostgreSQL's md5 form, md5(password + role).
    expect(clientLoginSecret("md5", "postgres", "S3cret", "pg-cluster")).toBe(
      "md5" + crypto.createHash("md5").update("S3cretpostgres").digest("hex"),
    );
  });
});

describe("systemd drop-in", () => {
  it("renders sections with sorted keys and repeated values", () => {
    const text = renderSystemdDropIn(ctx, PATRONI_DROP_IN);
    expect(text).toBe(
      `${HEADER}\n[Unit]\nAfter=network-online.target\nAfter=etcd.service\nWants=network-online.target\n\n[Service]\nKillMode=process\nRestart=on-failure\nRestartSec=5s\nTimeoutStopSec=60s\n`,
    );
  });
});

describe("cluster SQL", () => {
  it("creates the auth_query function in template1, postgres and every database, idempotently", () => {
    const c = parseStackConfig(
      JSON.parse(JSON.stringify({ ...seed000, cluster: { users: [{ name: "app" }], databases: [{ name: "appdb", owner: "app" }] } })),
      () => false,
    );
    const sql = renderClusterSql(c.cluster, "BouncerPw", { app: "AppPw" });
    // Passwords only as SCRAM verifiers, never in clear, stable for the same password.
    expect(sql).not.toContain("BouncerPw");
    expect(sql).not.toContain("AppPw");
    const verifier = /ALTER ROLE "app" WITH LOGIN PASSWORD '(SCRAM-SHA-256\$4096:[^']+)';/.exec(sql)![1];
    expect(verifierMatches(verifier, "AppPw")).toBe(true);
    expect(sql).toMatch(/ALTER ROLE "pgbouncer" WITH LOGIN NOSUPERUSER PASSWORD 'SCRAM-SHA-256\$/);
    expect(renderClusterSql(c.cluster, "BouncerPw", { app: "AppPw" })).toBe(sql);
    expect(sql).toContain("WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'appdb')\\gexec");
    const connects = sql.split("\n").filter((l) => l.startsWith("\\connect"));
    expect(connects).toEqual(["\\connect template1", "\\connect postgres", "\\connect postgres", "\\connect appdb"]);
    expect(sql.match(/CREATE OR REPLACE FUNCTION pgbouncer.get_auth/g)?.length).toBe(3);
  });

  it("refuses a user without a password", () => {
    const c = parseStackConfig(JSON.parse(JSON.stringify({ ...seed000, cluster: { users: [{ name: "app" }] } })), () => false);
    expect(() => renderClusterSql(c.cluster, "x", {})).toThrow(/no password for cluster.users app/);
  });
});

describe("client connection files", () => {
  it("pg_service.conf has primary and replicas services through HAProxy", () => {
    const text = renderPgService(ctx, { host: "10.0.0.5", primaryPort: 5000, replicaPort: 5001 }, "postgres");
    expect(text).toContain("[primary]\nhost=10.0.0.5\nport=5000\nuser=postgres\ndbname=postgres\ntarget_session_attrs=read-write");
    expect(text).toContain("[replicas]\nhost=10.0.0.5\nport=5001");
    expect(text).not.toContain("password");
  });

  it(".pgpass escapes colons and backslashes", () => {
    const text = renderPgpass(ctx, [{ host: "h", port: 5000, user: "postgres", password: "a:b\\c" }]);
    expect(text.split("\n")[1]).toBe("h:5000:*:postgres:a\\:b\\\\c");
  });
});

describe("packages per host", () => {
  it("follow the roles and are sorted", () => {
    const c = parseStackConfig(JSON.parse(JSON.stringify(seed002)), () => false);
    expect(packagesFor(c.hosts[0].roles, c.cluster.postgresVersion)).toEqual([
      "curl",
      "etcd-client",
      "etcd-server",
      "haproxy",
      "jq",
      "socat",
    ]);
    expect(packagesFor(c.hosts[1].roles, c.cluster.postgresVersion)).toEqual(
      [
        "curl",
        "etcd-client",
        "jq",
        "patroni",
        "pgbouncer",
        "postgresql-17",
        "postgresql-client-17",
        "python3-etcd",
        "python3-psycopg2",
      ].sort(),
    );
  });
});

describe("step scripts", () => {
  it("export quoted parameters before the template", () => {
    const script = renderStepScript("service", { UNIT: "patroni", ACTION: "it's" });
    expect(script.split("\n").slice(0, 3)).toEqual(["# step: service", "export ACTION='it'\\''s'", "export UNIT='patroni'"]);
  });

  it("every template is valid bash", () => {
    const dir = path.join(__dirname, "..", "..", "templates", "steps");
    for (const file of fs.readdirSync(dir)) {
      const result = childProcess.spawnSync("bash", ["-n", path.join(dir, file)], { encoding: "utf8" });
      expect(result.status, `${file}: ${result.stderr}`).toBe(0);
    }
  });
});

describe("pgbouncer_hba.conf", () => {
  const text = renderPgbouncerHba(ctx, {
    authType: "scram-sha-256",
    superuser: "postgres",
    clusterAddresses: ["10.0.0.11", "10.0.0.31"],
    adminNetworks: ["192.168.7.0/24"],
  });
  const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));

  it("lets the admin console in only locally and from admin networks", () => {
    expect(lines.filter((l) => l.startsWith("host pgbouncer "))).toEqual([
      "host pgbouncer all 127.0.0.1/32 scram-sha-256",
      "host pgbouncer all 192.168.7.0/24 scram-sha-256",
      "host pgbouncer all 0.0.0.0/0 reject",
    ]);
  });

  it("lets the superuser in only from the cluster's hosts and admin networks; everyone else with a password", () => {
    expect(lines.filter((l) => l.startsWith("host all postgres "))).toEqual([
      "host all postgres 127.0.0.1/32 scram-sha-256",
      "host all postgres 10.0.0.11/32 scram-sha-256",
      "host all postgres 10.0.0.31/32 scram-sha-256",
      "host all postgres 192.168.7.0/24 scram-sha-256",
      "host all postgres 0.0.0.0/0 reject",
    ]);
    expect(lines[lines.length - 1]).toBe("host all all 0.0.0.0/0 scram-sha-256");
    expect(text).not.toMatch(/\btrust\b/);
  });
});
