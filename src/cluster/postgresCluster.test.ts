// The component graph with pulumi.runtime.setMocks: which resources a
// topology registers, with which inputs. No host is touched.
import { beforeAll, describe, expect, it } from "vitest";
import { ClusterPasswords } from "../stack/passwords";
import { seed000, seed001, seed002 } from "../../test/fixtures/topologies";
import { parseStackConfig } from "../stack/stackConfig";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";

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

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({
          type: args.type,
          name: args.name,
          inputs: { ...args.inputs, stdin: unwrap(args.inputs.stdin), rawStdin: args.inputs.stdin },
        });
        return {
          id: `${args.name}-id`,
          state: { ...args.inputs, stdout: mockStdout(args.name, args.inputs), fingerprint: "f" },
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
  alertmanagerSmtp: "SMTPpw00000000000000008",
  users: { app: "APPpw000000000000000007" },
};

async function deploy(raw: object) {
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
    { config, stack: "test", connections, passwords },
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
        ]),
        ...["servera", "serverb", "serverc"].flatMap((h) => [
          `cluster-${h}-etcd-packages`,
          `cluster-${h}-internal-roles`,
          `cluster-${h}-etcd-restart`,
          `cluster-${h}-patroni-pgpass-cleanup`,
          `cluster-${h}-patroni-role-change-hook`,
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
    expect(haproxy.inputs.stdin).toContain("server serverc 192.168.11.152:6432 check");
  });

  it("reloads Patroni, PgBouncer and HAProxy on change; etcd members restart one at a time, each after the previous", async () => {
    const { byName } = await deploy(seed000);
    expect(byName("cluster-servera-patroni-service")!.inputs.update).toContain("export ACTION='reload'");
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
      "export PACKAGES='curl etcd-client etcd-server jq'",
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
    expect(uri).toBe(`postgresql://postgres:${PASSWORDS.superuser}@192.168.11.153:5000/postgres`);
  });
});

describe("other seed topologies", () => {
  it("seed 001: etcd on its own host, PostgreSQL without PgBouncer, a client host", async () => {
    const { commands, byName } = await deploy(seed001);
    expect(commands.filter((c) => c.name.endsWith("-etcd-service")).map((c) => c.name)).toEqual([
      "cluster-etcd-etcd-service",
    ]);
    expect(commands.some((c) => c.name.includes("pgbouncer") && !c.name.includes("packages"))).toBe(false);
    expect(byName("cluster-haproxy-haproxy-config")!.inputs.stdin).toContain("server pg01 192.168.11.121:5432 check");
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
