import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/validate";
import { seed000, seed001, seed002, seed002Three } from "../../test/fixtures/topologies";
import { configuredSecretProblems, machineCapabilitiesFor, packagesFor, parseStackConfig } from "./stackConfig";
import * as yaml from "js-yaml";
import * as fs from "fs";
import * as path from "path";

const noSecrets = () => false;

function problemsOf(values: Record<string, unknown>, isSecret: (k: string) => boolean = noSecrets): string[] {
  try {
    parseStackConfig(values, isSecret);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));
/** Seed 000 with the HAProxy host also the monitor. */
const withMonitor = () => ({
  ...seed000,
  hosts: seed000.hosts.map((h) => (h.name === "haproxy" ? { ...h, roles: ["haproxy", "monitor"] } : h)),
});
const withHost = (i: number, patch: Record<string, unknown>) => {
  const c = clone(seed000);
  Object.assign(c.hosts[i], patch);
  return c;
};

describe("valid configurations", () => {
  it.each([
    ["seed 000", seed000],
    ["seed 001", seed001],
    ["seed 002", seed002],
    ["seed 002 with three PostgreSQL hosts", seed002Three],
  ])("%s parses with defaults filled in", (_name, raw) => {
    const c = parseStackConfig(clone(raw), noSecrets);
    expect(c.cluster.dcs).toMatchObject({
      ttl: 30,
      loopWait: 10,
      retryTimeout: 10,
      failsafeMode: true,
      usePgRewind: true,
      useSlots: true,
    });
    expect(c.pgbouncer.port).toBe(6432);
    expect(c.haproxy).toMatchObject({ primaryPort: 5000, replicaPort: 5001, statsPort: 7000 });
    expect(c.hostSource).toBe("existing");
  });

  it.each([
    "stacks/local.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.e2e.yaml",
    "Pulumi.faults.yaml",
    "Pulumi.bench.yaml",
    "Pulumi.own.yaml",
    "Pulumi.entry.yaml",
    "Pulumi.bkcap.yaml",
    "Pulumi.bkcapr.yaml",
    "Pulumi.moncap.yaml",
  ])("the committed %s is valid", (file) => {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", file), "utf8")) as {
      config: Record<string, unknown>;
    };
    const values = Object.fromEntries(
      Object.entries(doc.config).map(([k, v]) => [k.replace(/^pulumi-patroni:/, ""), v]),
    );
    expect(problemsOf(values)).toEqual([]);
  });

  it("accepts secret values set with --secret", () => {
    expect(problemsOf({ ...clone(seed000), superuserPassword: "s3cret", sshPrivateKey: "KEY" }, () => true)).toEqual(
      [],
    );
  });
});

// Each case: a broken configuration, and fragments the message must contain
// (the field path and what would be valid).
const invalid: [string, Record<string, unknown>, string[]][] = [
  [
    "no postgres host",
    { hosts: [{ name: "a", address: "10.0.0.1", roles: ["etcd", "haproxy"] }] },
    ["hosts:", "postgres role"],
  ],
  [
    "even number of etcd members",
    { hosts: [...seed000.hosts.slice(0, 2), { ...seed000.hosts[3], roles: ["haproxy"] }] },
    ["etcd needs an odd number", "2 hosts"],
  ],
  [
    "four etcd members",
    { hosts: [...seed000.hosts.slice(0, 3), { ...seed000.hosts[3], roles: ["haproxy", "etcd"] }] },
    ["odd number"],
  ],
  [
    "zero etcd members",
    { hosts: seed000.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== "etcd") })) },
    ["no host has the etcd role"],
  ],
  [
    "loop_wait + 2*retry_timeout > ttl",
    { ...seed000, cluster: { dcs: { ttl: 20, loopWait: 10, retryTimeout: 10 } } },
    ["cluster.dcs", "10 + 2*10 = 30 > ttl 20"],
  ],
  ["duplicate host names", withHost(1, { name: "servera" }), ["hosts[1].name", "already used by hosts[0]"]],
  ["duplicate addresses", withHost(2, { address: "192.168.11.150" }), ["hosts[2].address", "already used by hosts[0]"]],
  [
    "unknown role",
    withHost(0, { roles: ["etcd", "postgres", "mysql"] }),
    ["hosts[0].roles[2]", '"mysql" is not valid', '"pgbouncer"'],
  ],
  [
    "pgbouncer without postgres",
    withHost(3, { roles: ["haproxy", "pgbouncer"] }),
    ["hosts[3].roles", "pgbouncer needs postgres"],
  ],
  [
    "port used twice on one host",
    { ...seed000, pgbouncer: { port: 5432 } },
    ["port 5432 is used twice", "cluster.postgresPort", "pgbouncer.port"],
  ],
  [
    "haproxy port collides with stats",
    { ...seed000, haproxy: { statsPort: 5000 } },
    ["port 5000 is used twice", "haproxy.primaryPort", "haproxy.statsPort"],
  ],
  [
    "etcd port collides with ssh",
    { ...seed000, etcd: { clientPort: 22 } },
    ["port 22 is used twice", "ssh.port", "etcd.clientPort"],
  ],
  ["malformed address", withHost(0, { address: "192.168.11" }), ["hosts[0].address", "IPv4 address"]],
  ["address out of range", withHost(0, { address: "300.1.1.1" }), ["hosts[0].address", "IPv4 address"]],
  [
    "malformed pg_hba CIDR",
    { ...seed000, cluster: { pgHba: [{ type: "host", address: "10.0.0.0/33" }] } },
    ["cluster.pgHba[0].address", "CIDR"],
  ],
  [
    "pg_hba host rule without address",
    { ...seed000, cluster: { pgHba: [{ type: "host" }] } },
    ["cluster.pgHba[0].address", "is required for type host"],
  ],
  [
    "pg_hba trust",
    { ...seed000, cluster: { pgHba: [{ type: "host", address: "10.0.0.0/8", method: "trust" }] } },
    ["cluster.pgHba[0].method", '"trust" is not valid', "scram-sha-256"],
  ],
  [
    "parameter of the wrong type (integer)",
    { ...seed000, cluster: { parameters: { max_connections: "lots" } } },
    ["cluster.parameters.max_connections", "must be an integer"],
  ],
  [
    "parameter of the wrong type (memory)",
    { ...seed000, cluster: { parameters: { shared_buffers: true } } },
    ["cluster.parameters.shared_buffers", "size like 128MB"],
  ],
  [
    "parameter of the wrong type (bool)",
    { ...seed000, cluster: { parameters: { hot_standby_feedback: "maybe" } } },
    ["cluster.parameters.hot_standby_feedback", "boolean"],
  ],
  [
    "parameter enum",
    { ...seed000, cluster: { parameters: { wal_level: "minimal" } } },
    ["cluster.parameters.wal_level", "replica, logical"],
  ],
  [
    "parameter Patroni owns",
    { ...seed000, cluster: { parameters: { listen_addresses: "*" } } },
    ["cluster.parameters.listen_addresses", "managed by Patroni"],
  ],
  [
    "password in clear text",
    { ...seed000, superuserPassword: "hunter2" },
    ["superuserPassword", "must be a secret", "pulumi config set --secret superuserPassword"],
  ],
  [
    "SSH key in clear text",
    { ...seed000, sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
    ["sshPrivateKey", "must be a secret"],
  ],
  ["no hosts at all", { hosts: [] }, ["hosts", "at least one host"]],
  ["host without roles", withHost(0, { roles: [] }), ["hosts[0].roles", "at least one role"]],
  ["bad host name", withHost(0, { name: "Server_A" }), ["hosts[0].name", "hostname"]],
  ["unknown field", { ...seed000, clustr: {} }, ["(root)", "unknown field(s) clustr"]],
  ["no haproxy host", { hosts: seed000.hosts.slice(0, 3) }, ["no host has the haproxy role"]],
  [
    "every node nofailover",
    { hosts: seed000.hosts.map((h, i) => (i < 3 ? { ...h, tags: { nofailover: true } } : h)) },
    ["tags.nofailover", "no member could ever become primary"],
  ],
  [
    "tags on a non-postgres host",
    withHost(3, { tags: { nofailover: true } }),
    ["hosts[3].tags", "only apply to hosts with the postgres role"],
  ],
  [
    "strict synchronous mode without synchronous mode",
    { ...seed000, cluster: { dcs: { synchronousModeStrict: true } } },
    ["cluster.dcs.synchronousModeStrict", "needs synchronousMode: true"],
  ],
  [
    "ttl not a number",
    { ...seed000, cluster: { dcs: { ttl: "30s" } } },
    ["cluster.dcs.ttl", "expected number, got string"],
  ],
  ["port out of range", { ...seed000, haproxy: { primaryPort: 70000 } }, ["haproxy.primaryPort", "65535"]],
  ["bad pool mode", { ...seed000, pgbouncer: { poolMode: "sometimes" } }, ["pgbouncer.poolMode", '"transaction"']],
  [
    "pool larger than max_connections",
    { ...seed000, pgbouncer: { defaultPoolSize: 500 }, cluster: { parameters: { max_connections: 100 } } },
    ["pgbouncer.defaultPoolSize", "max_connections (100)"],
  ],
  [
    "database owner unknown",
    { ...seed000, cluster: { databases: [{ name: "app", owner: "nobody" }] } },
    ["cluster.databases[0].owner", "nobody"],
  ],
  [
    "user named like a cluster role",
    { ...seed000, cluster: { users: [{ name: "replicator" }] } },
    ["cluster.users[0].name", "creates itself"],
  ],
  [
    "etcd election timeout too short",
    { ...seed000, etcd: { electionTimeoutMs: 1000 } },
    ["etcd.electionTimeoutMs", "5 x heartbeatIntervalMs"],
  ],
  [
    "VIP on a host's own address",
    { ...seed000, haproxy: { vip: { address: "192.168.11.153" } } },
    ["haproxy.vip.address", "hosts[3] (haproxy)'s own address"],
  ],
  [
    "VIP priority order naming a host without the haproxy role",
    { ...seed000, haproxy: { vip: { address: "192.168.11.30", priorityOrder: ["haproxy", "servera"] } } },
    ["haproxy.vip.priorityOrder[1]", "servera is not a host with the haproxy role"],
  ],
  [
    "VIP prefix out of range",
    { ...seed000, haproxy: { vip: { address: "192.168.11.30", prefix: 33 } } },
    ["haproxy.vip.prefix", "32"],
  ],
  [
    "replica lag bound malformed",
    { ...seed000, haproxy: { replicaMaxLag: "10 megs" } },
    ["haproxy.replicaMaxLag", "size like 10MB"],
  ],
  [
    "pg_hba user with a newline and a trust line",
    {
      ...seed000,
      cluster: {
        pgHba: [{ type: "host", database: "all", user: "app\nhost all all 0.0.0.0/0 trust", address: "10.0.0.0/8" }],
      },
    },
    ["cluster.pgHba[0].user", "comma separated, with no spaces"],
  ],
  [
    "pg_hba database with spaces",
    { ...seed000, cluster: { pgHba: [{ database: "app all", address: "10.0.0.0/8" }] } },
    ["cluster.pgHba[0].database", "all, sameuser, samerole, replication or database names"],
  ],
  [
    "pg_hba peer over TCP",
    { ...seed000, cluster: { pgHba: [{ type: "host", address: "10.0.0.0/8", method: "peer" }] } },
    ["cluster.pgHba[0].method", "peer works only for type local"],
  ],
  [
    "pg_hba cert without TLS",
    { ...seed000, cluster: { pgHba: [{ type: "host", address: "10.0.0.0/8", method: "cert" }] } },
    ["cluster.pgHba[0].method", "cert needs type hostssl"],
  ],
  [
    "parameter value with a line break",
    { ...seed000, cluster: { parameters: { application_name: "x\nfsync = off" } } },
    ["cluster.parameters.application_name", "line breaks"],
  ],
  [
    "a user listed twice",
    { ...seed000, cluster: { users: [{ name: "app" }, { name: "app" }] } },
    ["cluster.users[1].name: app is already cluster.users[0]"],
  ],
  [
    "a database listed twice",
    { ...seed000, cluster: { databases: [{ name: "app" }, { name: "app" }] } },
    ["cluster.databases[1].name: app is already cluster.databases[0]"],
  ],
  [
    "rotation of a password that is not generated",
    { ...seed000, passwordRotation: { sshPrivateKey: 1 } },
    ["passwordRotation.sshPrivateKey: not a generated password"],
  ],
  [
    "apt source that disables signature checks",
    { ...seed000, cluster: { aptSources: ["deb [trusted=yes] http://mirror.example/debian trixie main"] } },
    ["cluster.aptSources[0]", "must not disable signature checks", "aptKeyrings"],
  ],
  [
    "apt source signed by a keyring that is not configured",
    {
      ...seed000,
      cluster: {
        aptSources: [
          "deb [signed-by=/etc/apt/keyrings/pulumi-patroni-pgdg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main",
        ],
      },
    },
    ["cluster.aptSources[0]", "keyring pgdg", "cluster.aptKeyrings.pgdg"],
  ],
  [
    "apt keyring that is not a key",
    { ...seed000, cluster: { aptKeyrings: { pgdg: "not a key" } } },
    ["cluster.aptKeyrings.pgdg", "ASCII-armored"],
  ],
  [
    "local stand outside 10.213.0.0/16",
    {
      hostSource: "local-machines",
      localMachines: { bridgeAddress: "192.168.50.1/24" },
      hosts: seed000.hosts.map((h, i) => ({ ...h, address: `192.168.50.${11 + i}` })),
    },
    ["localMachines.bridgeAddress: 192.168.50.1 is outside 10.213.0.0/16"],
  ],
  [
    "local machine name the machine scripts refuse",
    {
      hostSource: "local-machines",
      hosts: seed000.hosts.map((h, i) => ({ ...h, name: i === 0 ? "9lives" : h.name, address: `10.213.0.${11 + i}` })),
    },
    ["hosts[0].name: a local machine's name is a-z then"],
  ],
  [
    "local machines with a PostgreSQL that Debian 13 does not ship",
    {
      hostSource: "local-machines",
      cluster: { postgresVersion: 15 },
      hosts: seed000.hosts.map((h, i) => ({ ...h, address: `10.213.0.${11 + i}` })),
    },
    ["cluster.postgresVersion", "Debian 13 (trixie), which ships PostgreSQL 17"],
  ],
  [
    "PostgreSQL version unsupported",
    { ...seed000, cluster: { postgresVersion: 9 } },
    ["cluster.postgresVersion", "13"],
  ],
  [
    "bad apt source",
    { ...seed000, cluster: { aptSources: ["ppa:foo/bar"] } },
    ["cluster.aptSources[0]", "apt source line"],
  ],
  [
    "local stand host outside the bridge network",
    { ...seed000, hostSource: "local-machines" },
    ["hosts[0].address", "outside the local bridge network 10.213.0.0/24"],
  ],
  [
    "local stand data disk without a packages image",
    {
      hostSource: "local-machines",
      localMachines: { dataDiskMiB: 2048 },
      hosts: [{ name: "pg1", address: "10.213.0.11", roles: ["etcd", "postgres", "haproxy"] }],
    },
    ["localMachines.dataDiskMiB", "set localMachines.prebuiltPackages: true too"],
  ],
  [
    "local stand data disk too small",
    {
      hostSource: "local-machines",
      localMachines: { dataDiskMiB: 64, prebuiltPackages: true },
      hosts: [{ name: "pg1", address: "10.213.0.11", roles: ["etcd", "postgres", "haproxy"] }],
    },
    ["localMachines.dataDiskMiB", "512"],
  ],
  [
    "local stand VIP outside the bridge network",
    {
      hostSource: "local-machines",
      hosts: [{ name: "ha1", address: "10.213.0.31", roles: ["haproxy", "etcd", "postgres"] }],
      haproxy: { vip: { address: "10.213.9.30" } },
    },
    ["haproxy.vip.address: 10.213.9.30 is outside the local bridge network 10.213.0.0/24"],
  ],
  ["unknown host source", { ...seed000, hostSource: "cloud" }, ["hostSource", '"local-machines"']],
  [
    "a watchdog required on local machines, which have none",
    {
      hostSource: "local-machines",
      cluster: { watchdog: { mode: "required" } },
      hosts: seed000.hosts.map((h, i) => ({ ...h, address: `10.213.0.${11 + i}` })),
    },
    ["cluster.watchdog.mode: required needs a watchdog device", "use automatic"],
  ],
  [
    "a watchdog margin that would reset a healthy leader between loops",
    { ...seed000, cluster: { watchdog: { safetyMargin: 20 } } },
    ["cluster.watchdog.safetyMargin: the watchdog fires ttl - safetyMargin = 10 s", "more than loopWait (10 s)"],
  ],
  [
    "an unknown watchdog mode",
    { ...seed000, cluster: { watchdog: { mode: "on" } } },
    ['cluster.watchdog.mode: "on" is not valid; expected one of "off", "automatic", "required"'],
  ],
  [
    "two monitor hosts",
    { ...seed000, hosts: seed000.hosts.map((h, i) => (i > 1 ? { ...h, roles: [...h.roles, "monitor"] } : h)) },
    ["serverc, haproxy have the monitor role; one monitor host"],
  ],
  [
    "alerts after a single scrape",
    { ...withMonitor(), monitor: { scrapeIntervalSeconds: 30, alertForSeconds: 45 } },
    ["monitor.alertForSeconds: 45 is shorter than two scrapes"],
  ],
  [
    "an SMTP login without its password",
    {
      ...withMonitor(),
      monitor: { alertmanager: { email: { to: ["a@b.org"], from: "c@d.org", smarthost: "m:25", authUsername: "u" } } },
    },
    ["monitor.alertmanager.email.authUsername: needs the secret alertmanagerSmtpPassword"],
  ],
  [
    "an exporter's port taken by another service of the host",
    { ...withMonitor(), pgbouncer: { port: 9187 } },
    ["port 9187 is used twice, by pgbouncer.port and monitor (postgres exporter)"],
  ],
  [
    "a retention Prometheus cannot read",
    { ...withMonitor(), monitor: { retention: "two weeks" } },
    ["monitor.retention", "duration like 30s"],
  ],
  [
    "a webhook that is not a URL",
    { ...withMonitor(), monitor: { alertmanager: { webhooks: [{ url: "hooks.example.org" }] } } },
    ["monitor.alertmanager.webhooks[0].url", "http:// or https:// URL"],
  ],
  [
    "the exporters' login as an application user",
    { ...seed000, cluster: { users: [{ name: "prometheus" }] } },
    ["cluster.users[0].name: prometheus is a role the cluster creates itself"],
  ],
  [
    "a host's own SSH port collides with a role's port",
    withHost(1, { sshPort: 5432 }),
    ["hosts[1] (serverb): port 5432 is used twice", "hosts[1].sshPort", "cluster.postgresPort"],
  ],
  ["SSH port out of range", withHost(0, { sshPort: 70000 }), ["hosts[0].sshPort"]],
  [
    "a host's own SSH port on the local stand",
    {
      hostSource: "local-machines",
      hosts: seed000.hosts.map((h, i) => ({
        ...h,
        address: `10.213.0.${11 + i}`,
        ...(i === 1 ? { sshPort: 2222 } : {}),
      })),
    },
    ["hosts[1].sshPort: a local machine's sshd listens on 22"],
  ],
  [
    "pinned host key malformed",
    { ...seed000, ssh: { hostKeys: { servera: "not a key" } } },
    ["ssh.hostKeys.servera", "OpenSSH public host key"],
  ],
];

describe("invalid configurations are rejected before anything changes", () => {
  it(`has at least 30 cases (${invalid.length})`, () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
  });

  it.each(invalid)("%s", (_name, raw, fragments) => {
    const problems = problemsOf(clone(raw));
    expect(problems.length).toBeGreaterThan(0);
    const text = problems.join("\n");
    for (const fragment of fragments) expect(text).toContain(fragment);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf({
      ...withHost(1, { name: "servera" }),
      pgbouncer: { port: 5432 },
      superuserPassword: "x",
    });
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });
});

describe("a host's own SSH port (hosts[].sshPort)", () => {
  it("replaces ssh.port for that host only, in the port check too", () => {
    // etcd on 22 collides with ssh.port on every host but the one that listens elsewhere.
    const c = { ...withHost(0, { sshPort: 2222 }), etcd: { clientPort: 22 } };
    const problems = problemsOf(c);
    expect(problems.join("\n")).not.toContain("hosts[0] (servera)");
    expect(problems.join("\n")).toContain("hosts[1] (serverb): port 22 is used twice, by ssh.port and etcd.clientPort");
    expect(parseStackConfig(withHost(0, { sshPort: 2222 }), noSecrets).hosts[0].sshPort).toBe(2222);
  });
});

describe("local stand names", () => {
  const local = {
    hostSource: "local-machines",
    hosts: seed000.hosts.map((h, i) => ({ ...h, address: `10.213.0.${11 + i}` })),
  };
  it("a stack name the machine scripts refuse is refused at preview", () => {
    expect(() => parseStackConfig(clone(local), noSecrets, "My_Stand")).toThrow(
      /stack "My_Stand": a local stand is named after its stack/,
    );
    expect(() => parseStackConfig(clone(local), noSecrets, "local")).not.toThrow();
  });
});

describe("configured secrets", () => {
  it("are refused when they would break the files they go into, without echoing them", () => {
    expect(configuredSecretProblems("haproxyStatsPassword", "abc#defghijklmn").join()).toContain(
      "a space, #, quote or backslash",
    );
    expect(configuredSecretProblems("superuserPassword", "line\nbreak-password").join()).toContain("line break");
    expect(configuredSecretProblems("superuserPassword", "short").join()).toContain("shorter than 12");
    expect(configuredSecretProblems("superuserPassword", "OnlyLettersIsFineHere")).toEqual([]);
    expect(configuredSecretProblems("haproxyStatsPassword", "abc#defghijklmn").join()).not.toContain("abc#def");
    expect(configuredSecretProblems("haproxyVrrpPassword", "vrrp pass word").join()).toContain("keepalived.conf takes");
    expect(configuredSecretProblems("haproxyVrrpPassword", "VrrpPassword-1")).toEqual([]);
    expect(configuredSecretProblems("sshPrivateKey", "not a key").join()).toContain("not a private key");
  });
});

describe("packages per host", () => {
  it("keepalived on the HAProxy hosts only with a VIP; their local machines then get CAP_NET_ADMIN", () => {
    const withVip = parseStackConfig(
      JSON.parse(JSON.stringify({ ...seed002, haproxy: { vip: { address: "10.0.26.30" } } })),
      () => false,
    );
    expect(packagesFor(withVip.hosts[0].roles, withVip)).toContain("keepalived");
    expect(packagesFor(withVip.hosts[1].roles, withVip)).not.toContain("keepalived");
    const without = parseStackConfig(JSON.parse(JSON.stringify(seed002)), () => false);
    expect(packagesFor(without.hosts[0].roles, without)).not.toContain("keepalived");
    expect(machineCapabilitiesFor(["etcd", "haproxy"], withVip)).toEqual(["CAP_NET_ADMIN"]);
    expect(machineCapabilitiesFor(["etcd", "postgres", "pgbouncer"], withVip)).toEqual([]);
    expect(machineCapabilitiesFor(["etcd", "haproxy"], without)).toEqual([]);
  });

  it("follow the roles and are sorted", () => {
    const c = parseStackConfig(JSON.parse(JSON.stringify({ ...seed002, tls: { enabled: true } })), () => false);
    expect(packagesFor(c.hosts[0].roles, c)).toEqual([
      "curl",
      "etcd-client",
      "etcd-server",
      "haproxy",
      "jq",
      "socat",
      "ssl-cert",
    ]);
    expect(packagesFor(c.hosts[1].roles, c)).toEqual(
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
        "ssl-cert",
      ].sort(),
    );
  });

  it("with a monitor host: its Prometheus and Alertmanager, and each host the exporters of its roles", () => {
    const c = parseStackConfig(
      clone({ ...seed002, hosts: [...seed002.hosts, { name: "mon", address: "10.0.26.20", roles: ["monitor"] }] }),
      () => false,
    );
    expect(packagesFor(["monitor"], c)).toEqual([
      "curl",
      "jq",
      "prometheus",
      "prometheus-alertmanager",
      "prometheus-node-exporter",
    ]);
    expect(packagesFor(c.hosts[1].roles, c).filter((p) => p.startsWith("prometheus"))).toEqual([
      "prometheus-node-exporter",
      "prometheus-pgbouncer-exporter",
      "prometheus-postgres-exporter",
    ]);
    expect(packagesFor(c.hosts[0].roles, c).filter((p) => p.startsWith("prometheus"))).toEqual([
      "prometheus-node-exporter",
    ]);
  });
});

describe("configured secrets of outside services", () => {
  it("an SMTP password is optional, never generated or rotated, and may be short", () => {
    const monitored = {
      ...withMonitor(),
      monitor: { alertmanager: { email: { to: ["a@b.org"], from: "c@d.org", smarthost: "m:25", authUsername: "u" } } },
    };
    expect(
      problemsOf({ ...clone(monitored), alertmanagerSmtpPassword: "pw" }, (k) => k === "alertmanagerSmtpPassword"),
    ).toEqual([]);
    expect(configuredSecretProblems("alertmanagerSmtpPassword", "pw")).toEqual([]);
    expect(problemsOf({ ...seed000, passwordRotation: { alertmanagerSmtpPassword: 1 } }).join()).toContain(
      "passwordRotation.alertmanagerSmtpPassword: not a generated password",
    );
  });
});
