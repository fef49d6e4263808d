// The component graph with pulumi.runtime.setMocks: which resources a
// topology registers, with which inputs. No host is touched.
import { beforeAll, describe, expect, it } from "vitest";
import { ClusterPasswords } from "../stack/passwords";
import type { PostgresClusterArgs } from "./postgresCluster";
import { seed000, seed001, seed002 } from "../../test/fixtures/topologies";
import { parseStackConfig } from "../stack/stackConfig";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { generateCa, issueCertificate } from "../providers/openssl";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
let registered: Registered[] = [];
const dependsOn = new Map<
  string,
  pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined
>();
/** Names of the resources `name` waits for. */
async function waitsFor(name: string): Promise<string[]> {
  const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
  const raw = await value(pulumi.output(dependsOn.get(name) as any));
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as pulumi.Resource[];
  return Promise.all(list.map(async (r) => (await value(r.urn)).split("::").pop()!));
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const isSecret = (v: any) =>
  typeof v === "object" && v !== null && v[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
/** Mocks see secrets wrapped; tests read the value inside. */
const unwrap = (v: any): any => (isSecret(v) ? unwrap(v.value) : v);

/** What a Debian 13 host reports from its platform step: every package available. */
export const DEBIAN_13_VERSIONS: Record<string, string> = {
  patroni: "4.0.7-3~deb13u1",
  "postgresql-17": "17.12-0+deb13u1",
  pgbouncer: "1.24.1-1+deb13u2",
  haproxy: "3.0.11-1+deb13u4",
  "etcd-server": "3.5.16-4",
};
function mockStdout(name: string, inputs: Record<string, any>): string {
  if (!name.endsWith("-platform")) return "";
  const packages = String(inputs.create)
    .match(/export PACKAGES='([^']*)'/)![1]
    .split(" ");
  return JSON.stringify({
    id: "debian",
    versionId: "13",
    codename: "trixie",
    packages: Object.fromEntries(
      packages.map((p) => [p, { installed: "", candidate: DEBIAN_13_VERSIONS[p] ?? "1.0-1" }]),
    ),
  });
}

/** What the certificate resources return under mocks: real PEM, made once. */
let tlsOutputs: { ca: Record<string, string>; host: Record<string, string> };

beforeAll(async () => {
  const [ca, next] = await Promise.all([generateCa("mock CA", 30), generateCa("mock next CA", 30)]);
  const leaf = await issueCertificate(ca, { commonName: "h", dnsNames: ["h"], ipAddresses: [], days: 10 });
  tlsOutputs = {
    ca: {
      certificate: ca.certificate,
      key: ca.key,
      notAfter: "2036-01-01T00:00:00.000Z",
      nextCertificate: next.certificate,
      nextKey: next.key,
    },
    host: {
      certificate: leaf.certificate,
      twinCertificate: leaf.twin,
      key: leaf.key,
      serial: "AB",
      twinSerial: "CD",
      notAfter: "2029-01-01T00:00:00.000Z",
    },
  };
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({
          type: args.type,
          name: args.name,
          inputs: { ...args.inputs, stdin: unwrap(args.inputs.stdin), rawStdin: args.inputs.stdin },
        });
        const tls = args.type.endsWith(":ClusterCa")
          ? tlsOutputs.ca
          : args.type.endsWith(":HostCertificate")
            ? tlsOutputs.host
            : {};
        return {
          id: `${args.name}-id`,
          state: { ...args.inputs, stdout: mockStdout(args.name, args.inputs), fingerprint: "f", ...tls },
        };
      },
      call: () => ({}),
    },
    "pulumi-patroni",
    "test",
    false,
  );
});

const PASSWORDS = {
  superuser: "SUPERpw0000000000000001",
  replication: "REPLpw00000000000000002",
  rewind: "REWINDpw000000000000003",
  restApi: "RESTpw00000000000000004",
  pgbouncerAuth: "BOUNCERpw00000000000005",
  haproxyStats: "STATSpw0000000000000006",
  haproxyVrrp: "VRRPpw00000000000000008",
  backupCipher: "CIPHERpw00000000000000008",
  alertmanagerSmtp: "SMTPpw00000000000000009",
  users: { app: "APPpw000000000000000007" },
};

async function deploy(raw: object, extra: Partial<Pick<PostgresClusterArgs, "externalRepository">> = {}) {
  registered = [];
  const { PostgresCluster } = await import("./postgresCluster");
  const config = parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
  const connections = Object.fromEntries(
    config.hosts.map((h) => [h.name, pulumi.secret({ host: h.address, privateKey: "PRIVATE-KEY-MATERIAL" })]),
  );
  const passwords: pulumi.Output<ClusterPasswords> = pulumi.secret(pulumi.output<ClusterPasswords>(PASSWORDS));
  dependsOn.clear();
  const cluster = new PostgresCluster(
    "cluster",
    { config, stack: "test", connections, passwords, ...extra },
    {
      // Record what every step waits for (mocks do not see dependencies).
      transformations: [
        (a) => {
          dependsOn.set(a.name, a.opts.dependsOn);
          return undefined;
        },
      ],
    },
  );
  const uri = await new Promise<string>((resolve) => cluster.primaryUri.apply(resolve));
  // Let every registration settle.
  await new Promise((r) => setTimeout(r, 200));
  const commands = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/patroni:ShellCommand");
  return { config, cluster, uri, commands, byName: (n: string) => commands.find((c) => c.name === n) };
}

describe("PostgresCluster, seed 000 topology", () => {
  it("registers one component per host role and the steps of each host in runbook order", async () => {
    const { commands } = await deploy(seed000);
    const components = registered
      .filter((r) => r.type.startsWith("pulumi-patroni:"))
      .map((r) => `${r.type.split(":")[2]} ${r.name}`);
    expect(components.sort()).toEqual(
      [
        "PostgresCluster cluster",
        ...["servera", "serverb", "serverc", "haproxy"].map((h) => `HostBase cluster-${h}`),
        ...["servera", "serverb", "serverc"].flatMap((h) => [
          `EtcdMember cluster-${h}-etcd`,
          `PatroniNode cluster-${h}-patroni`,
          `PgbouncerNode cluster-${h}-pgbouncer`,
        ]),
        "HaproxyNode cluster-haproxy-haproxy",
      ].sort(),
    );
    const names = commands.map((c) => c.name).sort();
    expect(names).toEqual(
      [
        ...["servera", "serverb", "serverc", "haproxy"].flatMap((h) => [
          `cluster-${h}-reachable`,
          `cluster-${h}-platform`,
          `cluster-${h}-packages`,
          `cluster-${h}-tls-files`,
        ]),
        ...["servera", "serverb", "serverc"].flatMap((h) => [
          `cluster-${h}-etcd-packages`,
          `cluster-${h}-internal-roles`,
          `cluster-${h}-etcd-restart`,
          `cluster-${h}-patroni-pgpass-cleanup`,
          `cluster-${h}-patroni-role-change-hook`,
          `cluster-${h}-patroni-etcd-leader-away-script`,
          `cluster-${h}-patroni-etcd-leader-away-unit`,
          `cluster-${h}-patroni-etcd-leader-away`,
          `cluster-${h}-patroni-watchdog`,
          `cluster-${h}-etcd-env`,
          `cluster-${h}-etcd-dropin`,
          `cluster-${h}-etcd-service`,
          `cluster-${h}-patroni-config`,
          `cluster-${h}-patroni-config-links`,
          `cluster-${h}-patroni-dropin`,
          `cluster-${h}-patroni-service`,
          `cluster-${h}-pgbouncer-ini`,
          `cluster-${h}-pgbouncer-userlist`,
          `cluster-${h}-pgbouncer-hba`,
          `cluster-${h}-pgbouncer-dropin`,
          `cluster-${h}-pgbouncer-service`,
          `cluster-${h}-pgbouncer-gate`,
        ]),
        "cluster-etcd-gate",
        "cluster-leader-gate",
        "cluster-patroni-gate",
        "cluster-leader-handover",
        "cluster-dynamic-config",
        "cluster-roles-and-databases",
        "cluster-haproxy-haproxy-config",
        "cluster-haproxy-haproxy-dropin",
        "cluster-haproxy-haproxy-service",
        "cluster-haproxy-haproxy-gate",
      ].sort(),
    );
  });

  it("never puts a password or the private key in a script, only on stdin or in the connection", async () => {
    const { commands } = await deploy(seed000);
    const secrets = [
      ...Object.values(PASSWORDS).filter((v): v is string => typeof v === "string"),
      PASSWORDS.users.app,
      "PRIVATE-KEY-MATERIAL",
    ];
    for (const c of commands) {
      for (const field of ["create", "update", "delete", "check", "description"]) {
        const text = String(c.inputs[field] ?? "");
        for (const s of secrets) expect(text, `${c.name}.${field}`).not.toContain(s);
      }
    }
    // The secrets do reach the hosts, through stdin.
    const patroni = commands.find((c) => c.name === "cluster-servera-patroni-config")!;
    expect(patroni.inputs.stdin).toContain(PASSWORDS.replication);
    // ...and stay secrets in the state.
    for (const name of [
      "cluster-servera-patroni-config",
      "cluster-servera-pgbouncer-userlist",
      "cluster-haproxy-haproxy-config",
      "cluster-roles-and-databases",
    ]) {
      expect(isSecret(commands.find((c) => c.name === name)!.inputs.rawStdin), name).toBe(true);
    }
  });

  it("masks, in any output it shows, every password a step receives on stdin", async () => {
    const { commands } = await deploy(seed000);
    const passwords = [
      ...Object.values(PASSWORDS).filter((v): v is string => typeof v === "string"),
      PASSWORDS.users.app,
    ];
    let checked = 0;
    for (const c of commands) {
      const given = passwords.filter((p) => String(c.inputs.stdin ?? "").includes(p));
      if (given.length === 0) continue;
      checked++;
      const mask = unwrap(c.inputs.mask) ?? [];
      for (const p of given) expect(mask, `${c.name} masks what it receives`).toContain(p);
    }
    // Patroni's config, PgBouncer's userlist and gate, HAProxy's config, the Patroni gate...
    expect(checked).toBeGreaterThan(10);
  });

  it("writes patroni.yml 0600 postgres and validates haproxy.cfg before use", async () => {
    const { byName } = await deploy(seed000);
    const patroni = byName("cluster-serverb-patroni-config")!;
    expect(patroni.inputs.create).toContain("export FILE_MODE='0600'");
    expect(patroni.inputs.create).toContain("export FILE_OWNER='postgres'");
    expect(patroni.inputs.create).toContain("export TARGET='/etc/patroni/config.yml'");
    const doc = yaml.load(patroni.inputs.stdin) as any;
    expect(doc.name).toBe("serverb");
    const haproxy = byName("cluster-haproxy-haproxy-config")!;
    expect(haproxy.inputs.create).toContain("export VALIDATE='haproxy -c -q -f %s'");
    expect(haproxy.inputs.stdin).toContain("server serverc 192.168.11.152:6432 check verifyhost serverc");
  });

  it("reloads Patroni, PgBouncer and HAProxy on change; etcd members restart one at a time, each after the previous", async () => {
    const { byName } = await deploy(seed000);
    // Patroni's reload returns once its main loop applied the file (pg_hba rewritten, PostgreSQL reloaded).
    expect(byName("cluster-servera-patroni-service")!.inputs.update).toContain("systemctl reload patroni");
    expect(byName("cluster-servera-patroni-service")!.inputs.update).toContain("Reloading PostgreSQL configuration");
    expect(byName("cluster-servera-pgbouncer-service")!.inputs.update).toContain("export ACTION='reload'");
    expect(byName("cluster-haproxy-haproxy-service")!.inputs.update).toContain("export ACTION='reload'");
    // A changed etcd setting never restarts every member at once: the unit is only kept running...
    expect(byName("cluster-servera-etcd-service")!.inputs.update).toContain("export ACTION='ensure'");
    // ...members start (or join) one after the other, and leave through the etcd API.
    expect(byName("cluster-servera-etcd-service")!.inputs.delete).toContain("export ACTION='leave'");
    expect(await waitsFor("cluster-serverb-etcd-env")).toContain("cluster-servera-etcd-service");
    // ...and each member's restart step waits for the previous member's.
    expect(byName("cluster-servera-etcd-restart")!.inputs.update).toContain("systemctl restart etcd");
    expect(await waitsFor("cluster-serverb-etcd-restart")).toEqual(["cluster-servera-etcd-restart"]);
    expect(await waitsFor("cluster-serverc-etcd-restart")).toEqual(["cluster-serverb-etcd-restart"]);
  });

  it("etcd installs and starts while the rest of a database host's packages install", async () => {
    const { byName } = await deploy(seed000);
    expect(byName("cluster-servera-etcd-packages")!.inputs.create).toContain(
      "export PACKAGES='curl etcd-client etcd-server jq ssl-cert'",
    );
    expect(await waitsFor("cluster-servera-packages")).toContain("cluster-servera-etcd-packages");
    expect(await waitsFor("cluster-servera-etcd-env")).toContain("cluster-servera-etcd-packages");
    expect(await waitsFor("cluster-servera-etcd-env")).not.toContain("cluster-servera-packages");
    // Patroni needs everything.
    expect(await waitsFor("cluster-servera-patroni-config")).toContain("cluster-servera-packages");
  });

  it("the first member's Patroni starts alone; the others once it leads, after every patroni.yml is written", async () => {
    await deploy(seed000);
    const first = await waitsFor("cluster-servera-patroni-service");
    for (const h of ["servera", "serverb", "serverc"]) expect(first).toContain(`cluster-${h}-patroni-config`);
    expect(first).not.toContain("cluster-leader-gate");
    expect(await waitsFor("cluster-leader-gate")).toEqual(["cluster-servera-patroni-service"]);
    for (const h of ["serverb", "serverc"]) {
      const waits = await waitsFor(`cluster-${h}-patroni-service`);
      expect(waits, h).toContain("cluster-leader-gate");
      for (const other of ["servera", "serverb", "serverc"])
        expect(waits, h).toContain(`cluster-${other}-patroni-config`);
    }
  });

  it("a rotated password reaches the primary before any patroni.yml: every config waits for every internal-roles step", async () => {
    await deploy(seed000);
    for (const h of ["servera", "serverb", "serverc"]) {
      const waits = await waitsFor(`cluster-${h}-patroni-config`);
      for (const other of ["servera", "serverb", "serverc"])
        expect(waits, h).toContain(`cluster-${other}-internal-roles`);
    }
  });

  it("destroy removes every file that holds a secret", async () => {
    const { byName } = await deploy(seed000);
    for (const name of [
      "cluster-servera-patroni-config",
      "cluster-servera-pgbouncer-userlist",
      "cluster-haproxy-haproxy-config",
      "cluster-servera-patroni-pgpass-cleanup",
      "cluster-servera-patroni-role-change-hook",
    ]) {
      expect(byName(name)!.inputs.delete, name).toMatch(/# step: remove-file/);
    }
  });

  it("exports a primary URI through HAProxy 5000", async () => {
    const { uri } = await deploy(seed000);
    expect(uri).toBe(`postgresql://postgres:${PASSWORDS.superuser}@192.168.11.153:5000/postgres?sslmode=verify-full`);
  });
});

describe("TLS", () => {
  const tlsFiles = (stdin: string) =>
    Object.fromEntries(
      stdin
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map(([path, mode, owner, group, b64]) => [
          path,
          { mode, owner, group, content: Buffer.from(b64, "base64").toString() },
        ]),
    );

  it("every host gets its files, the key 0640 root:ssl-cert, before any of its roles' steps; the stdin is secret", async () => {
    const { byName, commands } = await deploy(seed000);
    const files = tlsFiles(byName("cluster-haproxy-tls-files")!.inputs.stdin);
    expect(Object.keys(files)).toEqual([
      "/etc/pulumi-patroni/tls/ca.crt",
      "/etc/pulumi-patroni/tls/host.key",
      "/etc/pulumi-patroni/tls/host.crt",
      "/etc/pulumi-patroni/tls/haproxy.pem",
      "/etc/pulumi-patroni/tls/curl.conf",
    ]);
    expect(files["/etc/pulumi-patroni/tls/host.key"]).toMatchObject({ mode: "0640", owner: "root", group: "ssl-cert" });
    expect(files["/etc/pulumi-patroni/tls/haproxy.pem"]).toMatchObject({ mode: "0600", owner: "root", group: "root" });
    expect(files["/etc/pulumi-patroni/tls/haproxy.pem"].content).toBe(
      tlsOutputs.host.certificate + tlsOutputs.host.key,
    );
    // The trust: the current CA and the next one.
    expect(files["/etc/pulumi-patroni/tls/ca.crt"].content.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(files["/etc/pulumi-patroni/tls/curl.conf"].content).toContain('key = "/etc/pulumi-patroni/tls/host.key"');
    // Only HAProxy hosts get a pem.
    expect(Object.keys(tlsFiles(byName("cluster-servera-tls-files")!.inputs.stdin))).not.toContain(
      "/etc/pulumi-patroni/tls/haproxy.pem",
    );
    for (const c of commands.filter((x) => x.name.endsWith("-tls-files"))) {
      expect(isSecret(c.inputs.rawStdin), c.name).toBe(true);
      expect(unwrap(c.inputs.mask), c.name).toContain(tlsOutputs.host.key);
    }
    expect(await waitsFor("cluster-servera-etcd-env")).toContain("cluster-servera-tls-files");
    expect(await waitsFor("cluster-servera-patroni-config")).toContain("cluster-servera-tls-files");
    expect(await waitsFor("cluster-haproxy-haproxy-config")).toContain("cluster-haproxy-tls-files");
    // After etcd's packages (its user joins the key's group), and after the rollout.
    expect(await waitsFor("cluster-servera-tls-files")).toEqual([
      "cluster-servera-etcd-packages",
      "cluster-tls-rollout",
    ]);
  });

  it("the rollout reads every host once it answers, and carries the hosts' connections and files as a secret", async () => {
    await deploy(seed000);
    expect((await waitsFor("cluster-tls-rollout")).sort()).toEqual(
      ["servera", "serverb", "serverc", "haproxy"].map((h) => `cluster-${h}-platform`).sort(),
    );
    const rollout = registered.find((r) => r.name === "cluster-tls-rollout")!;
    expect(isSecret(rollout.inputs.spec)).toBe(true);
    const spec = unwrap(rollout.inputs.spec);
    expect(spec.enabled).toBe(true);
    const servera = spec.hosts.find((h: any) => h.name === "servera");
    // The last stage of each file is what the roles' steps write.
    const { byName } = await deploy(seed000);
    expect(servera.stages.patroni.tls).toBe(byName("cluster-servera-patroni-config")!.inputs.stdin);
    expect(servera.stages.etcd.tls).toBe(byName("cluster-servera-etcd-env")!.inputs.stdin);
    expect(servera.stages.pgbouncer.tls[0].content).toBe(byName("cluster-servera-pgbouncer-ini")!.inputs.stdin);
    expect(spec.mask).toContain(PASSWORDS.restApi);
  });

  it("a database host's certificate names HAProxy's address and name too; HAProxy's, its own", async () => {
    await deploy(seed000);
    const cert = (h: string) => registered.find((r) => r.name === `cluster-${h}-tls-certificate`)!.inputs;
    expect(cert("servera")).toMatchObject({
      commonName: "servera",
      dnsNames: ["servera", "localhost", "haproxy"],
      ipAddresses: ["192.168.11.150", "127.0.0.1", "192.168.11.153"],
    });
    expect(cert("haproxy")).toMatchObject({
      dnsNames: ["haproxy", "localhost"],
      ipAddresses: ["192.168.11.153", "127.0.0.1"],
    });
    expect(isSecret(cert("servera").caKey)).toBe(true);
  });

  it("with tls.enabled false: no certificate, no TLS files, plain configuration", async () => {
    const { byName, commands } = await deploy({ ...seed000, tls: { enabled: false } });
    expect(registered.filter((r) => /ClusterCa|HostCertificate/.test(r.type))).toEqual([]);
    expect(commands.filter((c) => c.name.endsWith("-tls-files"))).toEqual([]);
    expect(byName("cluster-servera-patroni-config")!.inputs.stdin).not.toMatch(/ssl|certfile/);
    expect(byName("cluster-haproxy-haproxy-config")!.inputs.stdin).not.toContain("verifyhost");
    expect(unwrap(registered.find((r) => r.name === "cluster-tls-rollout")!.inputs.spec).enabled).toBe(false);
  });
});

describe("other seed topologies", () => {
  it("seed 001: etcd on its own host, PostgreSQL without PgBouncer, a client host", async () => {
    const { commands, byName } = await deploy(seed001);
    expect(commands.filter((c) => c.name.endsWith("-etcd-service")).map((c) => c.name)).toEqual([
      "cluster-etcd-etcd-service",
    ]);
    expect(commands.some((c) => c.name.includes("pgbouncer") && !c.name.includes("packages"))).toBe(false);
    expect(byName("cluster-haproxy-haproxy-config")!.inputs.stdin).toContain(
      "server pg01 192.168.11.121:5432 check verifyhost pg01",
    );
    expect(byName("cluster-pgclient-client-pg-service")!.inputs.stdin).toContain("host=192.168.11.150\nport=5000");
    expect(byName("cluster-pgclient-client-pgpass")!.inputs.create).toContain("export FILE_MODE='0600'");
    expect(byName("cluster-pgclient-packages")!.inputs.create).toContain("postgresql-17");
  });

  it("seed 002: the proxy host runs etcd and HAProxy", async () => {
    const { byName } = await deploy(seed002);
    expect(byName("cluster-proxy-etcd-service")).toBeDefined();
    expect(byName("cluster-proxy-haproxy-service")).toBeDefined();
    const gate = byName("cluster-haproxy-haproxy-gate") ?? byName("cluster-proxy-haproxy-gate")!;
    expect(gate.inputs.create).toContain("export REPLICAS='1'");
    const patroni = yaml.load(byName("cluster-pg1-patroni-config")!.inputs.stdin) as any;
    expect(patroni.etcd3.hosts).toEqual(["10.0.26.10:2379"]);
  });
});

describe("a stack with a backup host", () => {
  // pgBackRest speaks TLS with the cluster's certificates: backups need tls.enabled.
  const withBackup = {
    cluster: { name: "demo" },
    tls: { enabled: true },
    hosts: [
      { name: "pg01", address: "10.0.0.11", roles: ["etcd", "postgres"] },
      { name: "pg02", address: "10.0.0.12", roles: ["etcd", "postgres"] },
      { name: "backup01", address: "10.0.0.31", roles: ["etcd", "haproxy", "backup"] },
    ],
  };

  it("puts pgBackRest on every PostgreSQL host before its Patroni starts, and the repository on the backup host", async () => {
    const { byName, commands } = await deploy(withBackup);
    for (const h of ["pg01", "pg02"]) {
      expect(await waitsFor(`cluster-${h}-patroni-config`)).toContain(`cluster-${h}-pgbackrest-server`);
      expect(byName(`cluster-${h}-pgbackrest-config`)!.inputs.stdin).toContain("repo1-host=10.0.0.31");
      expect(byName(`cluster-${h}-packages`)!.inputs.create).toContain("pgbackrest");
    }
    const repo = byName("cluster-backup01-backup-config")!;
    expect(repo.inputs.stdin).toContain(`repo1-cipher-pass=${PASSWORDS.backupCipher}`);
    expect(isSecret(repo.inputs.rawStdin)).toBe(true);
    expect(repo.inputs.create).toContain(
      "export VALIDATE='/usr/local/lib/pulumi-patroni/pp-validate-repository-config %s'",
    );
    expect(unwrap(repo.inputs.mask)).toContain(PASSWORDS.backupCipher);
    // The cipher passphrase never reaches a database host.
    for (const c of commands.filter((c) => /pg0\d/.test(c.name)))
      expect(String(c.inputs.stdin ?? ""), c.name).not.toContain(PASSWORDS.backupCipher);
    expect(byName("cluster-backup01-backup-repository")!.inputs.delete).not.toContain("rm -rf");
    expect(byName("cluster-backup01-backup-repository")!.inputs.announceDelete).toBe(true);
  });

  it("creates the stanza and the first full backup once the cluster runs with archiving in force, then the timers", async () => {
    await deploy(withBackup);
    const stanza = await waitsFor("cluster-backup-stanza");
    expect(stanza).toContain("cluster-rolling-restart");
    expect(stanza).toContain("cluster-backup01-backup-server");
    for (const t of ["full", "diff"])
      expect(await waitsFor(`cluster-backup-${t}-timer-unit`)).toContain("cluster-backup-stanza");
  });

  it("a stack without one archives nothing and has no backup step", async () => {
    const { commands } = await deploy(seed000);
    expect(commands.filter((c) => /backup|pgbackrest/.test(c.name)).map((c) => c.name)).toEqual([]);
  });
});

describe("a restored stack", () => {
  const restoredStack = {
    cluster: { name: "demo2" },
    tls: { enabled: true },
    restore: { source: { stack: "prod", stanza: "demo" }, target: { type: "name", value: "drill" } },
    hosts: [{ name: "rpg01", address: "10.0.0.21", roles: ["etcd", "postgres", "haproxy"] }],
  };
  const external = {
    stack: "prod",
    name: pulumi.output("backup01"),
    address: pulumi.output("10.0.0.31"),
    connection: pulumi.secret({ host: "10.0.0.31", privateKey: "SOURCE-KEY-MATERIAL" }),
  };

  it("writes its stanza into the source's repository before its Patroni restores, and waits for the restore", async () => {
    const { byName } = await deploy(restoredStack, { externalRepository: external });
    expect(byName("cluster-backup-stanza-config")!.inputs.stdin).toContain("tls-server-auth=rpg01=demo,demo2");
    expect(await waitsFor("cluster-rpg01-patroni-config")).toContain("cluster-backup-stanza-trust");
    // The cluster's CA is read from the file the TLS step writes.
    expect(await waitsFor("cluster-rpg01-backup-cluster-ca")).toContain("cluster-rpg01-tls-files");
    expect(await waitsFor("cluster-restore-gate")).toEqual(["cluster-rpg01-patroni-service"]);
    expect(byName("cluster-leader-gate")).toBeUndefined();
    expect(byName("cluster-rpg01-pgbackrest-restore-wrapper")).toBeDefined();
    const config = await new Promise<string>((r) =>
      pulumi.output(byName("cluster-rpg01-pgbackrest-config")!.inputs.stdin).apply(r),
    );
    expect(config).toContain("repo1-host=10.0.0.31");
    expect(config).toContain("tls-server-auth=backup01=demo2");
    // The source's key only ever travels in a connection.
    for (const c of registered)
      for (const field of ["create", "update", "delete", "stdin"])
        expect(String(c.inputs[field] ?? ""), `${c.name}.${field}`).not.toContain("SOURCE-KEY-MATERIAL");
  });
});

describe("a stack with a monitor host", () => {
  const withMonitor = {
    cluster: { name: "demo" },
    tls: { enabled: true },
    hosts: [
      { name: "pg01", address: "10.0.0.11", roles: ["etcd", "postgres", "pgbouncer"] },
      { name: "pg02", address: "10.0.0.12", roles: ["etcd", "postgres", "pgbouncer"] },
      { name: "proxy01", address: "10.0.0.31", roles: ["etcd", "haproxy"] },
      { name: "mon01", address: "10.0.0.41", roles: ["client", "monitor"] },
    ],
  };

  it("puts the exporters on every host once its roles run, and gates the monitor on all of them", async () => {
    const { byName, cluster } = await deploy(withMonitor);
    expect(byName("cluster-pg01-packages")!.inputs.create).toContain("prometheus-postgres-exporter");
    expect(byName("cluster-pg01-packages")!.inputs.create).toContain("prometheus-pgbouncer-exporter");
    expect(byName("cluster-proxy01-packages")!.inputs.create).toContain("prometheus-node-exporter");
    expect(byName("cluster-proxy01-packages")!.inputs.create).not.toContain("prometheus-postgres-exporter");
    expect(byName("cluster-mon01-packages")!.inputs.create).toContain("prometheus-alertmanager");
    // A database host's exporters start once PgBouncer serves (the postgres exporter's login exists by then).
    const pg01 = await waitsFor("cluster-pg01-exporters-files");
    expect(pg01).toContain("cluster-roles-and-databases");
    expect(pg01).toContain("cluster-pg01-pgbouncer-gate");
    expect(await waitsFor("cluster-proxy01-exporters-files")).toContain("cluster-proxy01-haproxy-gate");
    const gate = await waitsFor("cluster-mon01-monitor-gate");
    for (const h of ["pg01", "pg02", "proxy01", "mon01"]) expect(gate).toContain(`cluster-${h}-exporters-gate`);
    // With TLS both listeners serve https only.
    expect(cluster.monitoring).toEqual({
      prometheusUrl: "https://10.0.0.41:9090",
      alertmanagerUrl: "https://10.0.0.41:9093",
      clusterPageUrl: "https://10.0.0.41:9090/consoles/pg-cluster.html",
    });
  });

  it("with TLS: https scrapes of Patroni and HAProxy, the monitor's gate looking the same way, Prometheus in ssl-cert", async () => {
    const { byName } = await deploy(withMonitor);
    const config = String(byName("cluster-mon01-monitor-config")!.inputs.stdin);
    expect(config).toMatch(
      /job_name: patroni\n\s+scheme: https\n\s+tls_config:\n\s+ca_file: \/etc\/pulumi-patroni\/tls\/ca.crt/,
    );
    const files = JSON.parse(String(byName("cluster-mon01-monitor-files")!.inputs.stdin)) as {
      path: string;
      content: string;
    }[];
    const dropIn = files.find((f) => f.path.startsWith("/etc/systemd/system/prometheus.service.d/"))!;
    expect(dropIn.content).toContain("SupplementaryGroups=ssl-cert");
    // Both listeners serve https with the web configuration and monitor.pem (Alertmanager needs no ssl-cert).
    expect(
      files.find((f) => f.path.startsWith("/etc/systemd/system/prometheus-alertmanager.service.d/")),
    ).toBeUndefined();
    for (const unit of ["prometheus", "prometheus-alertmanager"])
      expect(files.find((f) => f.path === `/etc/default/${unit}`)!.content).toContain(
        "--web.config.file=/etc/prometheus/web-tls.yml",
      );
    expect(String(byName("cluster-mon01-monitor-web-config")!.inputs.stdin)).toContain(
      "key_file: /etc/pulumi-patroni/tls/monitor.pem",
    );
    // monitor.pem: the monitor host's certificate and key, root:prometheus 0640, with its TLS files only.
    const tlsFiles = (name: string) => String(byName(`cluster-${name}-tls-files`)!.inputs.stdin);
    expect(tlsFiles("mon01")).toMatch(/\/etc\/pulumi-patroni\/tls\/monitor.pem 0640 root prometheus /);
    expect(tlsFiles("pg01")).not.toContain("monitor.pem");
    const gate = String(byName("cluster-mon01-monitor-gate")!.inputs.create);
    expect(gate).toContain("patroni=10.0.0.11:8008");
    expect(gate).toMatch(/TARGET_SCHEMES='https https /);
    expect(gate).toContain("PROMETHEUS='https://10.0.0.41:9090'");
    expect(gate).toContain("CURL_TLS=");
    // HAProxy's exporter answers the monitor only, over TLS.
    expect(String(byName("cluster-proxy01-haproxy-config")!.inputs.stdin)).toContain(
      "bind 10.0.0.31:8405 ssl crt /etc/pulumi-patroni/tls/haproxy.pem",
    );
  });
});
