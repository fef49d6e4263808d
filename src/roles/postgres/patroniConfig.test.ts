import { describe, expect, it } from "vitest";
import { renderPatroniConfig, renderDynamicConfig, renderPgHba } from "./patroniConfig";
import { seed000, seed001 } from "../../../test/fixtures/topologies";
import { parseStackConfig, topologyOf } from "../../stack/stackConfig";
import { etcdClientHostPorts } from "../etcd/slice";
import { TLS_PATHS } from "../../tls/settings";
import { PatroniStage, stageOf } from "../../tls/stages";
import * as yaml from "js-yaml";

const ctx = { stack: "test" };
const passwords = { superuser: "SuperPw1", replication: "ReplPw2", rewind: "RewindPw3", restApi: "RestPw4" };
const HEADER = "# Managed by pulumi-patroni (stack test). Do not edit: change Pulumi.test.yaml and run pulumi up.";

function patroniFor(raw: object, hostIndex: number, stage: PatroniStage = "plain", allowPlainClients = false) {
  const c = parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
  const topo = topologyOf(c);
  const host = topo.withRole("postgres")[hostIndex];
  const input = {
    cluster: c.cluster,
    host,
    clusterAddresses: c.hosts.map((h) => h.address),
    replicationAddresses: topo.withRole("postgres").map((h) => h.address),
    etcdHosts: etcdClientHostPorts(c),
    passwords,
    tls: { stage, paths: TLS_PATHS, allowPlainClients },
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

  it("watchdog: automatic by default, mode and margin from the stack ('off' quoted, or YAML reads false)", () => {
    expect((yaml.load(patroniFor(seed000, 0).text) as any).watchdog).toEqual({
      mode: "automatic",
      device: "/dev/watchdog",
      safety_margin: 5,
    });
    const off = patroniFor(
      { ...seed000, cluster: { ...seed000.cluster, watchdog: { mode: "off", safetyMargin: 3 } } },
      0,
    );
    expect(off.text).toMatch(/^ {2}mode: 'off'$/m);
    expect((yaml.load(off.text) as any).watchdog).toMatchObject({ mode: "off", safety_margin: 3 });
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
        cluster: {
          pgHba: [{ type: "hostssl", database: "app", user: "app", address: "10.9.0.0/16", method: "scram-sha-256" }],
        },
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
      JSON.parse(
        JSON.stringify({
          ...seed000,
          cluster: { dcs: { synchronousMode: true }, parameters: { max_connections: 150 } },
        }),
      ),
      () => false,
    );
    const dcs = renderDynamicConfig(c.cluster) as any;
    expect(dcs.synchronous_mode).toBe(true);
    expect(dcs.postgresql.parameters.max_connections).toBe(150);
    expect(dcs.postgresql.use_slots).toBe(true);
  });
});

describe("patroni.yml with TLS", () => {
  const doc = (stage: PatroniStage, allowPlain = false) => {
    const { text } = patroniFor(seed000, 1, stage, allowPlain);
    expect(stageOf(text)).toBe(stage);
    return yaml.load(text) as any;
  };
  const files = {
    ca: "/etc/pulumi-patroni/tls/ca.crt",
    cert: "/etc/pulumi-patroni/tls/host.crt",
    key: "/etc/pulumi-patroni/tls/host.key",
  };

  it("plain: no TLS setting anywhere", () => {
    const text = patroniFor(seed000, 1).text;
    expect(text).not.toMatch(/ssl|https|certfile|cacert/);
  });

  it("tls: REST over https with client certificates required; patronictl and the etcd client verify and show the host's", () => {
    const d = doc("tls");
    expect(d.restapi).toMatchObject({
      certfile: files.cert,
      keyfile: files.key,
      cafile: files.ca,
      verify_client: "required",
    });
    expect(d.ctl).toMatchObject({ cacert: files.ca, certfile: files.cert, keyfile: files.key, insecure: false });
    expect(d.etcd3).toMatchObject({ protocol: "https", cacert: files.ca, cert: files.cert, key: files.key });
    expect(d.etcd3.hosts).toEqual(["192.168.11.150:2379", "192.168.11.151:2379", "192.168.11.152:2379"]);
  });

  it("tls: PostgreSQL's ssl on (TLS 1.2 at least), replication and pg_rewind with verify-full and the host's certificate", () => {
    const d = doc("tls");
    expect(d.postgresql.parameters).toEqual({
      unix_socket_directories: "/var/run/postgresql",
      ssl: "on",
      ssl_cert_file: files.cert,
      ssl_key_file: files.key,
      ssl_ca_file: files.ca,
      ssl_min_protocol_version: "TLSv1.2",
    });
    for (const role of ["replication", "rewind"])
      expect(d.postgresql.authentication[role]).toMatchObject({
        sslmode: "verify-full",
        sslrootcert: files.ca,
        sslcert: files.cert,
        sslkey: files.key,
      });
  });

  it("tls: remote rules are hostssl (plain sessions refused), replication also needs a certificate", () => {
    const hba = doc("tls").postgresql.pg_hba as string[];
    expect(hba.filter((l) => l.includes(" replication "))).toEqual([
      "host replication replicator 127.0.0.1/32 scram-sha-256",
      "hostssl replication replicator 192.168.11.150/32 scram-sha-256 clientcert=verify-ca",
      "hostssl replication replicator 192.168.11.151/32 scram-sha-256 clientcert=verify-ca",
      "hostssl replication replicator 192.168.11.152/32 scram-sha-256 clientcert=verify-ca",
    ]);
    expect(hba).toContain("hostssl all all 192.168.11.153/32 scram-sha-256");
    expect(hba.filter((l) => /^host all all (?!127\.0\.0\.1)/.test(l))).toEqual([]);
    // allowPlainClients: sessions on host rules (TLS or not), replication still TLS with a certificate.
    const open = doc("tls", true).postgresql.pg_hba as string[];
    expect(open).toContain("host all all 192.168.11.153/32 scram-sha-256");
    expect(open).toContain("hostssl replication replicator 192.168.11.150/32 scram-sha-256 clientcert=verify-ca");
  });

  it("etcd (migration): the etcd client, ssl and TLS replication; REST and pg_hba as before", () => {
    const d = doc("etcd");
    expect(d.etcd3.protocol).toBe("https");
    expect(d.postgresql.parameters.ssl).toBe("on");
    expect(d.postgresql.authentication.replication.sslmode).toBe("verify-full");
    expect(d.restapi.certfile).toBeUndefined();
    expect((d.postgresql.pg_hba as string[]).filter((l) => l.startsWith("hostssl"))).toEqual([]);
  });
});
