import { describe, expect, it } from "vitest";
import {
  CLIENT_CA_BUNDLE,
  renderDatabaseConfig,
  renderGuestStanzaConfig,
  renderRepositoryConfig,
  REPOSITORY_CA_FILE,
} from "./pgbackrestConfig";

const ctx = { stack: "test" };
const pg = { dataDirectory: "/var/lib/postgresql/17/demo", port: 5432, socketDir: "/var/run/postgresql" };
const hosts = [
  { name: "pg01", address: "10.213.0.11" },
  { name: "pg02", address: "10.213.0.12" },
];

/** The ini back as section -> key -> values (a key may repeat). */
function parseIni(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    expect(eq, `a key=value line: ${line}`).toBeGreaterThan(0);
    (out[section][line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

describe("pgbackrest.conf of the repository host", () => {
  const text = renderRepositoryConfig(ctx, {
    stanza: "demo",
    address: "10.213.0.31",
    path: "/var/lib/pgbackrest",
    cipherPass: "CipherPass123",
    retentionFull: 3,
    hosts,
    pg,
  });
  const ini = parseIni(text);

  it("encrypts the repository, keeps the retention, backs up from a standby when there is one", () => {
    expect(text.split("\n")[0]).toBe(
      "# Managed by pulumi-patroni (stack test). Do not edit: change Pulumi.test.yaml and run pulumi up.",
    );
    expect(ini.global["repo1-cipher-type"]).toEqual(["aes-256-cbc"]);
    expect(ini.global["repo1-cipher-pass"]).toEqual(["CipherPass123"]);
    expect(ini.global["repo1-retention-full"]).toEqual(["3"]);
    expect(ini.global["backup-standby"]).toEqual(["prefer"]);
    expect(ini.global["repo1-path"]).toEqual(["/var/lib/pgbackrest"]);
  });

  it("serves TLS on its own address and lets each database host use only its stanza", () => {
    expect(ini.global["tls-server-address"]).toEqual(["10.213.0.31"]);
    expect(ini.global["tls-server-ca-file"]).toEqual([CLIENT_CA_BUNDLE]);
    expect(ini.global["tls-server-auth"]).toEqual(["pg01=demo", "pg02=demo"]);
  });

  it("reaches every PostgreSQL host of the stanza over TLS", () => {
    expect(ini.demo["pg1-host"]).toEqual(["10.213.0.11"]);
    expect(ini.demo["pg2-host"]).toEqual(["10.213.0.12"]);
    expect(ini.demo["pg2-host-type"]).toEqual(["tls"]);
    expect(ini.demo["pg1-path"]).toEqual(["/var/lib/postgresql/17/demo"]);
    expect(ini.demo["pg2-host-cert-file"]).toEqual(["/etc/pulumi-patroni/tls/host.crt"]);
    expect(ini.demo["pg3-host"]).toBeUndefined();
  });

  it("refuses a value that would end the line", () => {
    expect(() =>
      renderRepositoryConfig(ctx, {
        stanza: "demo",
        address: "10.213.0.31",
        path: "/var/lib/pgbackrest",
        cipherPass: "x\nrepo1-cipher-type=none",
        retentionFull: 2,
        hosts,
        pg,
      }),
    ).toThrow(/one line/);
  });
});

describe("pgbackrest.conf of a database host", () => {
  const config = (caFile: string) =>
    parseIni(
      renderDatabaseConfig(ctx, {
        stanza: "demo",
        address: "10.213.0.12",
        repository: { name: "backup01", address: "10.213.0.31", caFile },
        archivePushQueueMax: "512MiB",
        pg,
      }),
    );

  it("archives asynchronously to the repository host with the queue limit set, and holds no cipher passphrase", () => {
    const ini = config("/etc/pulumi-patroni/tls/ca.crt");
    expect(ini.global["repo1-host"]).toEqual(["10.213.0.31"]);
    expect(ini.global["repo1-host-type"]).toEqual(["tls"]);
    expect(ini.global["archive-async"]).toEqual(["y"]);
    expect(ini.global["spool-path"]).toEqual(["/var/spool/pgbackrest"]);
    expect(ini.global["archive-push-queue-max"]).toEqual(["512MiB"]);
    expect(Object.keys(ini.global).filter((k) => k.includes("cipher"))).toEqual([]);
    expect(ini.demo["pg1-path"]).toEqual(["/var/lib/postgresql/17/demo"]);
  });

  it("lets only the repository host in, for this stanza", () => {
    const ini = config("/etc/pulumi-patroni/tls/ca.crt");
    expect(ini.global["tls-server-address"]).toEqual(["10.213.0.12"]);
    expect(ini.global["tls-server-auth"]).toEqual(["backup01=demo"]);
  });

  it("trusts the repository's own CA when the repository is another stack's", () => {
    const ini = config(REPOSITORY_CA_FILE);
    expect(ini.global["repo1-host-ca-file"]).toEqual([REPOSITORY_CA_FILE]);
    expect(ini.global["tls-server-ca-file"]).toEqual([REPOSITORY_CA_FILE]);
  });
});

describe("a restored stack's stanza in the source's repository (conf.d)", () => {
  const ini = parseIni(
    renderGuestStanzaConfig(ctx, {
      stanza: "demo2",
      sourceStanza: "demo",
      retentionFull: 1,
      hosts: [{ name: "rpg01", address: "10.213.0.21" }],
      pg: { ...pg, dataDirectory: "/var/lib/postgresql/17/demo2" },
    }),
  );

  it("grants its hosts the new stanza and the source (read for the restore), nothing else", () => {
    expect(ini.global).toEqual({ "tls-server-auth": ["rpg01=demo,demo2"] });
  });

  it("has its own retention and its hosts, checked against its own CA", () => {
    expect(ini.demo2["repo1-retention-full"]).toEqual(["1"]);
    expect(ini.demo2["pg1-host"]).toEqual(["10.213.0.21"]);
    expect(ini.demo2["pg1-host-ca-file"]).toEqual(["/etc/pgbackrest/tls/ca.d/demo2.crt"]);
    expect(ini.demo2["pg1-path"]).toEqual(["/var/lib/postgresql/17/demo2"]);
    expect(ini.demo).toBeUndefined();
  });
});
