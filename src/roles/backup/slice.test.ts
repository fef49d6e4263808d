// The backup and restore sections as the whole configuration validates them,
// and what they put into patroni.yml.
import { describe, expect, it } from "vitest";
import * as yaml from "js-yaml";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../config/validate";
import { parseStackConfig, topologyOf } from "../../stack/stackConfig";
import { etcdClientHostPorts } from "../etcd/slice";
import { renderDynamicConfig, renderPatroniConfig } from "../postgres/patroniConfig";
import { archivingOf } from "./patroniArchiving";
import { TLS_PATHS } from "../../tls/settings";

// Backups need TLS (pgBackRest shows the hosts' certificates).
const base = {
  cluster: { name: "demo" },
  tls: { enabled: true },
  hosts: [
    { name: "pg01", address: "10.0.0.11", roles: ["etcd", "postgres"] },
    { name: "pg02", address: "10.0.0.12", roles: ["etcd", "postgres"] },
    { name: "backup01", address: "10.0.0.31", roles: ["etcd", "haproxy", "backup"] },
  ],
};
const restored = {
  cluster: { name: "demo2" },
  tls: { enabled: true },
  restore: { source: { stack: "prod", stanza: "demo" }, target: { type: "name", value: "before-drop" } },
  hosts: [{ name: "rpg01", address: "10.0.0.21", roles: ["etcd", "postgres", "haproxy"] }],
};
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

function problemsOf(values: object): string[] {
  try {
    parseStackConfig(clone(values) as Record<string, unknown>, () => false);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe("the backup section", () => {
  it("needs TLS: pgBackRest reaches the repository with the cluster's certificates", () => {
    expect(problemsOf({ ...base, tls: { enabled: false } })).toContainEqual(
      expect.stringMatching(/^tls\.enabled: backups/),
    );
    expect(problemsOf({ ...restored, tls: undefined })).toContainEqual(expect.stringMatching(/^tls\.enabled: backups/));
    expect(problemsOf(base)).toEqual([]);
  });

  it("has deliberate defaults", () => {
    const c = parseStackConfig(clone(base), () => false);
    expect(c.backup).toEqual({
      path: "/var/lib/pgbackrest",
      retentionFull: 2,
      fullSchedule: "Sun *-*-* 01:00:00",
      diffSchedule: "Mon..Sat *-*-* 01:00:00",
      archivePushQueueMax: "1GiB",
      archiveTimeout: 60,
    });
    expect(c.restore).toBeUndefined();
  });

  it.each([
    [
      "two repository hosts",
      { hosts: [...base.hosts, { name: "b2", address: "10.0.0.32", roles: ["backup"] }] },
      "a stack has one repository host",
    ],
    [
      "the repository on a database host",
      {
        hosts: [
          { ...base.hosts[0], roles: ["etcd", "postgres", "backup"] },
          base.hosts[1],
          { ...base.hosts[2], roles: ["etcd", "haproxy"] },
        ],
      },
      "off the database hosts' disks",
    ],
    [
      "archive_command set by hand",
      { cluster: { name: "demo", parameters: { archive_command: "cp %p /mnt" } } },
      "cluster.parameters.archive_command: set by the backup role",
    ],
    [
      "archive_timeout set by hand",
      { cluster: { name: "demo", parameters: { archive_timeout: "5min" } } },
      "use backup.archiveTimeout",
    ],
    [
      "a queue size pgBackRest does not read",
      { backup: { archivePushQueueMax: "1GB" } },
      "backup.archivePushQueueMax: must be a size like 512MiB",
    ],
    [
      "a schedule with a line break",
      { backup: { fullSchedule: "daily\nExecStart=/bin/sh" } },
      "backup.fullSchedule: must be a systemd calendar expression",
    ],
    [
      "a schedule systemd's timer would refuse",
      { backup: { diffSchedule: "Mon..Sat *-*-* 25:00" } },
      "backup.diffSchedule: must be a systemd calendar expression like 'Sun *-*-* 01:00:00' or 'daily': '25' is not a valid hour (0 to 23",
    ],
    ["no full backup kept", { backup: { retentionFull: 0 } }, "backup.retentionFull"],
    [
      "the cipher passphrase rotated",
      { passwordRotation: { backupCipherPassphrase: 1 } },
      "passwordRotation.backupCipherPassphrase: cannot be rotated",
    ],
  ])("refuses %s", (_name, patch, fragment) => {
    expect(problemsOf({ ...base, ...patch }).join("\n")).toContain(fragment);
  });
});

describe("the restore section", () => {
  it("parses with the target's defaults", () => {
    const c = parseStackConfig(clone({ ...restored, restore: { source: restored.restore.source } }), () => false);
    expect(c.restore).toEqual({
      source: { stack: "prod", stanza: "demo" },
      target: { type: "latest" },
      action: "promote",
    });
  });

  it.each([
    ["its own stanza named like the source", { cluster: { name: "demo" } }, "needs its own stanza"],
    [
      "a repository host of its own",
      { hosts: [...restored.hosts, { name: "b", address: "10.0.0.32", roles: ["backup"] }] },
      "keeps its stanza in the source's repository",
    ],
    [
      "a time in the future",
      { restore: { ...restored.restore, target: { type: "time", value: "2999-01-01 00:00:00+00" } } },
      "restore.target: 2999-01-01 00:00:00+00 is in the future",
    ],
    [
      "a time without its zone",
      { restore: { ...restored.restore, target: { type: "time", value: "2026-01-01 00:00:00" } } },
      "with its zone",
    ],
    ["pause at the target", { restore: { ...restored.restore, action: "pause" } }, "restore.action: pause is refused"],
    [
      "shutdown at the target",
      { restore: { ...restored.restore, action: "shutdown" } },
      "restore.action: shutdown is refused",
    ],
    [
      "an unknown target type",
      { restore: { ...restored.restore, target: { type: "immediate" } } },
      "restore.target.type",
    ],
  ])("refuses %s", (_name, patch, fragment) => {
    expect(problemsOf({ ...restored, ...patch }).join("\n")).toContain(fragment);
  });
});

describe("patroni.yml of a stack that archives", () => {
  const render = (raw: object, hostIndex = 0) => {
    const c = parseStackConfig(clone(raw) as Record<string, unknown>, () => false);
    const topo = topologyOf(c);
    const host = topo.withRole("postgres")[hostIndex];
    const text = renderPatroniConfig(
      { stack: "test" },
      {
        cluster: c.cluster,
        host,
        clusterAddresses: c.hosts.map((h) => h.address),
        replicationAddresses: topo.withRole("postgres").map((h) => h.address),
        etcdHosts: etcdClientHostPorts(c),
        passwords: { superuser: "a", replication: "b", rewind: "c", restApi: "d" },
        archiving: archivingOf(c),
        tls: { stage: "tls", paths: TLS_PATHS, allowPlainClients: false },
      },
    );
    return { c, doc: yaml.load(text) as any };
  };

  it("archives through pgBackRest from whichever member leads (the DCS), with the timeout configured", () => {
    const { c, doc } = render({ ...base, backup: { archiveTimeout: 30 } });
    expect(doc.bootstrap.dcs.postgresql.parameters).toMatchObject({
      archive_mode: "on",
      archive_command: "/usr/local/lib/pulumi-patroni/pp-pgbackrest-archive-push demo %p",
      archive_timeout: "30s",
    });
    expect(renderDynamicConfig(c.cluster, archivingOf(c))).toEqual(doc.bootstrap.dcs);
    expect(doc.bootstrap.method).toBeUndefined();
  });

  it("makes replicas from the repository first, the primary's base backup when it has none", () => {
    const { doc } = render(base, 1);
    expect(doc.postgresql.create_replica_methods).toEqual(["pgbackrest", "basebackup"]);
    expect(doc.postgresql.pgbackrest).toEqual({
      command: "pgbackrest --stanza=demo --delta restore",
      keep_data: true,
      no_params: true,
    });
    expect(doc.postgresql.recovery_conf).toEqual({ restore_command: 'pgbackrest --stanza=demo archive-get %f "%p"' });
  });

  it("leaves a stack without a repository as it was", () => {
    const { c, doc } = render({
      ...base,
      hosts: base.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== "backup") })),
    });
    expect(doc.postgresql.create_replica_methods).toEqual(["basebackup"]);
    expect(doc.postgresql.recovery_conf).toBeUndefined();
    expect(Object.keys(renderDynamicConfig(c.cluster).postgresql as object)).not.toContain("archive_mode");
    expect((renderDynamicConfig(c.cluster) as any).postgresql.parameters.archive_mode).toBeUndefined();
  });

  it("bootstraps a restored stack through the wrapper, archiving into its own stanza only", () => {
    const { doc } = render(restored);
    expect(doc.bootstrap.method).toBe("pgbackrest");
    expect(doc.bootstrap.pgbackrest).toEqual({
      command:
        "'/usr/local/lib/pulumi-patroni/pp-restore-bootstrap' 'demo' 'demo2' '/var/lib/postgresql/17/demo2' '--type=name' '--target=before-drop' '--target-action=promote'",
      keep_existing_recovery_conf: true,
      no_params: true,
    });
    expect(doc.bootstrap.dcs.postgresql.parameters.archive_command).toBe(
      "/usr/local/lib/pulumi-patroni/pp-pgbackrest-archive-push demo2 %p",
    );
    expect(doc.postgresql.pgbackrest.command).toBe("pgbackrest --stanza=demo2 --delta restore");
  });
});

describe("the committed backup stacks", () => {
  it.each(["Pulumi.bkcap.yaml", "Pulumi.bkcapr.yaml"])("%s is valid", (file) => {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", "..", file), "utf8")) as {
      config: Record<string, unknown>;
    };
    const values = Object.fromEntries(
      Object.entries(doc.config).map(([k, v]) => [k.replace(/^pulumi-patroni:/, ""), v]),
    );
    expect(problemsOf(values)).toEqual([]);
  });
});
