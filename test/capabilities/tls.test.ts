// TLS end to end on its own stand (Pulumi.tlsdev.yaml: two database hosts,
// etcd's third member on the HAProxy host, a client host, on their own
// bridge): it is deployed in plain text (no tls field, as a stack made before
// TLS), moved to TLS by pulumi up with tls.enabled: true and a client writing
// through HAProxy 5000, checked the way a DBA would (every hop verified,
// plain and unknown clients refused), then its certificates are renewed and
// its CA rotated (the generated one, then a CA of our own), each under load:
// no acknowledged write lost, no timeline change, no service restarted but
// etcd where its CA changed. Fresh stands with TLS from the start are the
// README's local stand, the e2e stand and the fault suite's (npm test).
import * as crypto from "crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCa } from "../../src/providers/openssl";
import { replicaBackend } from "../../src/roles/haproxy/slice";
import { TLS_DIR, TLS_PATHS } from "../../src/tls/settings";
import { patroniCluster, leaderOf, waitWhole } from "../harness/clusterState";
import { PgConnection, SslOptions } from "../harness/pgwire";
import { standTargets, withTraffic, TrafficReport } from "../harness/scenario";
import { connectAny } from "../harness/traffic";
import { ctl } from "../faults/scenarios";
import { ETCDCTL, Stand } from "../helpers/stand";

const STACK = "tlsdev";
const stand = new Stand(STACK, { PULUMI_CONFIG_PASSPHRASE: "tlsdev-stand-passphrase" });
const TLS_KEY = "pulumi-patroni:tls";
const DB = ["pg01", "pg02"];
const ssh = (host: string, command: string, input?: string) => stand.ssh(host, command, input);
const reports: Record<string, TrafficReport> = {};

/**
 * Runs `up` with a client writing through HAProxy 5000, each of its
 * connections made anew every second (so they meet every HAProxy reload):
 * 0 acknowledged writes lost, a pause under 5 s.
 */
async function upUnderLoad(label: string, ssl?: SslOptions) {
  const report = await withTraffic(stand, STACK, label, () => stand.up(label), { ssl, reconnectMs: 1000 });
  reports[label] = report;
  expect(report.acknowledged, label).toBeGreaterThan(50);
  expect(report.lostAcknowledged, label).toBe(0);
  expect(report.dualProxyRounds, label).toBe(0);
  expect(report.writePauseMs, label).toBeLessThan(5000);
  return report;
}

async function expectNoChanges() {
  const preview = await stand.run(["preview", "--expect-no-changes"], true);
  expect(preview.code, preview.stdout + preview.stderr).toBe(0);
}

const members = async () => {
  const t = standTargets(stand, STACK);
  return (await patroniCluster(t.whole.restUrls, t.whole.tls))!;
};
const timeline = async () => (await members()).find((m) => m.role === "leader")!.timeline;

/** When each service last started, and each postmaster: a restart changes it, a reload does not. */
function started(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const host of Object.keys(stand.outputs.hosts)) {
    const units = stand.outputs.hosts[host].roles.flatMap((r) =>
      r === "etcd"
        ? ["etcd"]
        : r === "postgres"
          ? ["patroni"]
          : r === "pgbouncer"
            ? ["pgbouncer"]
            : r === "haproxy"
              ? ["haproxy"]
              : [],
    );
    for (const unit of units)
      out[`${host}/${unit}`] = ssh(host, `systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`);
    if (units.includes("patroni"))
      out[`${host}/postmaster`] = ssh(
        host,
        `runuser -u postgres -- psql -X -At -h /var/run/postgresql -c "select pg_postmaster_start_time()"`,
      );
  }
  return out;
}

/** The serial each TLS port of `host` presents (openssl s_client on the host itself, with its certificate). */
function liveSerials(host: string): Record<string, string> {
  const address = stand.address(host);
  const roles = stand.outputs.hosts[host].roles;
  const ports: [string, string][] = [
    ...(roles.includes("etcd")
      ? ([
          ["2379", ""],
          ["2380", ""],
        ] as [string, string][])
      : []),
    ...(roles.includes("postgres")
      ? ([
          ["8008", ""],
          ["5432", "-starttls postgres"],
        ] as [string, string][])
      : []),
    ...(roles.includes("pgbouncer") ? ([["6432", "-starttls postgres"]] as [string, string][]) : []),
    ...(roles.includes("haproxy") ? ([["7000", ""]] as [string, string][]) : []),
  ];
  const tls = `-CAfile ${TLS_PATHS.ca} -cert ${TLS_PATHS.cert} -key ${TLS_PATHS.key}`;
  return Object.fromEntries(
    ports.map(([port, starttls]) => [
      port,
      ssh(
        host,
        `openssl s_client -connect ${address}:${port} ${starttls} ${tls} </dev/null 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2 | sed 's/^0*//'`,
      ),
    ]),
  );
}

const outputSerial = (host: string) =>
  (stand.outputs.tlsCertificates as Record<string, { serial: string }>)[host].serial.replace(/^0+/, "");

/** Every TLS port of every host presents the certificate the stack's outputs name. */
function expectLiveCertificates() {
  for (const host of Object.keys(stand.outputs.hosts)) {
    const serials = liveSerials(host);
    for (const [port, serial] of Object.entries(serials)) expect(serial, `${host}:${port}`).toBe(outputSerial(host));
  }
}

beforeAll(async () => {
  await stand.select();
  const leftover = await stand.run(["destroy", "--yes", "--skip-preview"], true);
  if (leftover.code !== 0)
    throw new Error(`could not destroy a leftover ${STACK} stand:\n${leftover.stdout}${leftover.stderr}`);
  stand.editConfig((c) => delete c[TLS_KEY]);
  await stand.up("pulumi up, plain text (no tls field)");
});

afterAll(async () => {
  await stand.run(["destroy", "--yes", "--skip-preview"], true);
  stand.cleanup();
  console.log(`[tls] timings: ${JSON.stringify(stand.timings)}`);
  console.log(
    `[tls] write pauses (ms): ${JSON.stringify(Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, r.writePauseMs])))}`,
  );
});

describe("a running plain-text stand moves to TLS", () => {
  it("pulumi up with tls.enabled: true: writes pause under 5 s, nothing lost, same leader and timeline, PostgreSQL never restarts", async () => {
    const leader = leaderOf(await members());
    const tl = await timeline();
    const before = started();
    expect(ssh("pg01", "grep -c https /etc/default/etcd || true")).toBe("0");
    stand.editConfig((c) => (c[TLS_KEY] = { enabled: true }));
    // The writer negotiates TLS as libpq's default does: plain before, TLS once offered.
    await upUnderLoad("migration to TLS", { mode: "prefer" });
    expect(leaderOf(await members())).toBe(leader);
    expect(await timeline()).toBe(tl);
    const after = started();
    for (const host of DB) expect(after[`${host}/postmaster`], host).toBe(before[`${host}/postmaster`]);
    // etcd restarted twice per member, Patroni once under pause; PgBouncer and HAProxy only reloaded.
    for (const key of Object.keys(before).filter((k) => /\/(pgbouncer|haproxy)$/.test(k)))
      expect(after[key], key).toBe(before[key]);
    const peers = ssh("pg01", `${ETCDCTL} --endpoints=https://${stand.address("pg01")}:2379 member list`);
    expect(peers.match(/https:\/\/[\d.]+:2380/g)).toHaveLength(3);
    expect(peers).not.toMatch(/http:\/\//);
    await expectNoChanges();
  });
});

describe("TLS on every hop, as a DBA checks it", () => {
  const ca = `sslrootcert=${TLS_PATHS.ca}`;

  it("sslmode=disable from the client host is refused, through HAProxy (PgBouncer) and straight to PostgreSQL", () => {
    const plain = (conn: string) =>
      ssh("client01", `psql -X -At "${conn} user=postgres dbname=postgres sslmode=disable" -c "select 1" 2>&1 || true`);
    const proxy = stand.address("haproxy01");
    expect(plain(`host=${proxy} port=5000`)).toContain("SSL required");
    expect(plain(`host=${stand.address("pg01")} port=5432`)).toMatch(/no pg_hba.conf entry .* no encryption/);
    expect(plain(`host=${stand.address("pg01")} port=6432`)).toContain("SSL required");
  });

  it("psql service=primary verifies the server; a certificate for another name is rejected", () => {
    expect(ssh("client01", "grep -c 'sslmode=verify-full' /etc/postgresql-common/pg_service.conf")).toBe("2");
    expect(stand.psql("client01", "service=primary", "select pg_is_in_recovery()")).toBe("f");
    // pg02's PgBouncer, dialled as pg01: libpq checks the name it was given against pg02's certificate.
    const wrongName = ssh(
      "client01",
      `psql -X -At "hostaddr=${stand.address("pg02")} host=pg01 port=6432 user=postgres dbname=postgres sslmode=verify-full ${ca}" -c "select 1" 2>&1 || true`,
    );
    expect(wrongName).toMatch(/server certificate for "pg02".* does not match host name "pg01"/);
    // A CA the cluster does not use: refused.
    const otherCa = ssh(
      "client01",
      `f=$(mktemp); cat > $f; psql -X -At "host=${stand.address("haproxy01")} port=5000 user=postgres dbname=postgres sslmode=verify-full sslrootcert=$f" -c "select 1" 2>&1 || true; rm -f $f`,
      ssh(
        "haproxy01",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=other -days 1 2>/dev/null",
      ),
    );
    expect(otherCa).toMatch(/certificate verify failed/);
  });

  it("pg_stat_ssl: every replication connection is TLS with the replica's certificate; clients through HAProxy reach PgBouncer over TLS", async () => {
    const leader = leaderOf(await members())!;
    const replication = ssh(
      leader,
      `runuser -u postgres -- psql -X -At -h /var/run/postgresql -c "select r.application_name, s.ssl, s.version, s.client_dn from pg_stat_replication r join pg_stat_ssl s using (pid)"`,
    ).split("\n");
    expect(replication.sort()).toEqual(DB.filter((h) => h !== leader).map((h) => `${h}|t|TLSv1.3|/CN=${h}`));
    // A session through HAProxy 5000, verified like libpq's verify-full (the HAProxy address is in PgBouncer's certificate).
    const t = standTargets(stand, STACK);
    const session = await connectAny(t.primary, t.creds, 10_000, "tls-e2e-through-haproxy");
    try {
      expect(session.encrypted).toBe(true);
      const clients = ssh(
        leader,
        `runuser -u postgres -- psql -X -A -F '|' -h /var/run/postgresql -p 6432 -d pgbouncer -c "SHOW CLIENTS"`,
      ).split("\n");
      const header = clients[0].split("|");
      const row = clients
        .map((l) => l.split("|"))
        .find((f) => f[header.indexOf("application_name")] === "tls-e2e-through-haproxy");
      expect(row, clients.join("\n")).toBeDefined();
      expect(row![header.indexOf("addr")]).toBe(stand.address("haproxy01"));
      expect(row![header.indexOf("tls")]).toMatch(/^TLSv1\.3\//);
      // PgBouncer reaches PostgreSQL over its unix socket: no network hop to encrypt.
      expect(ssh(leader, "grep '^\\*' /etc/pgbouncer/pgbouncer.ini")).toBe("* = host=/var/run/postgresql port=5432");
    } finally {
      await session.close();
    }
    // Straight to PostgreSQL over TCP, verified: pg_stat_ssl says TLS.
    const direct = await PgConnection.connect({ host: stand.address(leader), port: 5432, ...t.creds });
    try {
      expect((await direct.query("select ssl, version from pg_stat_ssl where pid = pg_backend_pid()"))[0]).toEqual([
        "t",
        "TLSv1.3",
      ]);
    } finally {
      await direct.close();
    }
  });

  it("etcd refuses a client without a certificate; /health answers on the plain metrics listener only", () => {
    const address = stand.address("pg01");
    const noCert = ssh(
      "pg01",
      `etcdctl --endpoints=https://${address}:2379 --cacert=${TLS_PATHS.ca} --command-timeout=3s endpoint health 2>&1 || true`,
    );
    expect(noCert).toContain("is unhealthy");
    expect(ssh("pg01", `${ETCDCTL} --endpoints=https://${address}:2379 endpoint health 2>&1`)).toContain("is healthy");
    expect(ssh("client01", `curl -sS --cacert ${TLS_PATHS.ca} https://${address}:2379/version 2>&1 || true`)).toMatch(
      /certificate required|alert|Connection reset by peer/,
    );
    expect(ssh("client01", `curl -sS http://${address}:2379/version 2>&1 || true`)).toMatch(/Empty reply|reset/);
    expect(ssh("client01", `curl -sS http://${address}:2381/health`)).toContain('"health":"true"');
  });

  it("curl to the REST API without the CA fails verification; with it but without a certificate, refused", () => {
    const url = `https://${stand.address("pg01")}:8008/patroni`;
    expect(ssh("client01", `curl -sS ${url} 2>&1 || true`)).toMatch(/SSL certificate problem/);
    expect(ssh("client01", `curl -sS --cacert ${TLS_PATHS.ca} ${url} 2>&1 || true`)).toMatch(
      /certificate required|alert|Connection reset by peer/,
    );
    expect(JSON.parse(ssh("pg02", `curl -fsS -K ${TLS_PATHS.curlConfig} ${url}`)).state).toBe("running");
  });

  it("HAProxy marks a member DOWN when its REST certificate names another host, and UP again with its own", async () => {
    const leader = leaderOf(await members())!;
    const replica = DB.find((h) => h !== leader)!;
    const backend = replicaBackend(STACK);
    const stat = () => {
      const csv = ssh("haproxy01", "echo 'show stat' | socat stdio /run/haproxy/admin.sock").split("\n");
      const header = csv[0].replace(/^# /, "").split(",");
      const row = csv.map((l) => l.split(",")).find((f) => f[0] === backend && f[1] === replica);
      if (!row) throw new Error(`no server ${replica} in ${backend}: ${csv.join("\n")}`);
      return { status: row[header.indexOf("status")], check: row[header.indexOf("last_chk")] };
    };
    // Patroni takes a new REST certificate on SIGHUP in its main loop; HAProxy
    // then needs fall checks at fastinter: 30 s bounds both on a loaded stand.
    const waitState = async (want: string) => {
      const started = Date.now();
      let s = stat();
      while (!s.status.startsWith(want) && Date.now() - started < 30_000) {
        await new Promise((r) => setTimeout(r, 500));
        s = stat();
      }
      return { ...s, ms: Date.now() - started };
    };
    // The replica presents the leader's certificate (same CA, another name).
    ssh(replica, `cp -a ${TLS_PATHS.cert} ${TLS_PATHS.key} /root/`);
    try {
      ssh(replica, `cat > ${TLS_PATHS.cert}`, ssh(leader, `cat ${TLS_PATHS.cert}`));
      ssh(replica, `cat > ${TLS_PATHS.key}`, ssh(leader, `cat ${TLS_PATHS.key}`));
      ssh(replica, "systemctl reload patroni");
      const down = await waitState("DOWN");
      console.log(`[e2e] ${replica} with ${leader}'s certificate: ${down.status} after ${down.ms} ms (${down.check})`);
      expect(down.status).toBe("DOWN");
      expect(down.check).toMatch(/SSL certificate different from the configured one/);
    } finally {
      ssh(replica, `cp -a /root/host.crt /root/host.key ${TLS_DIR}/ && rm -f /root/host.crt /root/host.key`);
      ssh(replica, "systemctl reload patroni");
    }
    expect((await waitState("UP")).status).toBe("UP");
  });

  it("npm run ctl -- status shows the members and each host's certificate with its days left", async () => {
    const r = await ctl(stand, "status");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^cluster tlsdev: leader pg0\d on timeline \d+, 1 of 1 replicas streaming$/m);
    for (const host of Object.keys(stand.outputs.hosts))
      expect(r.out).toMatch(new RegExp(`^${host} +\\d{4}-\\d\\d-\\d\\d +82[0-9] +36[0-9]{2}, 36[0-9]{2}$`, "m"));
  });

  it("turning TLS off again is refused at preview, naming the field", async () => {
    stand.editConfig((c) => (c[TLS_KEY] = { enabled: false }));
    const preview = await stand.run(["preview"], true);
    stand.editConfig((c) => (c[TLS_KEY] = { enabled: true }));
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toContain(
      "tls.enabled: turning TLS off on a stack that runs it is not supported",
    );
    await expectNoChanges();
  });
});

describe("certificates renewed and CAs rotated, a client writing through HAProxy", () => {
  it("a preview a month before the certificates end says which it renews, and leaves the CA", async () => {
    // validityDays 825, renewBeforeDays 30: 800 days on, every leaf is due; the CA (10 years) is not.
    const at = new Date(Date.now() + 800 * 86_400_000).toISOString();
    const r = await stand.run(["preview"], true, { env: { PULUMI_PATRONI_NOW: at } });
    const preview = r.stdout + r.stderr;
    expect(r.code, preview).toBe(0);
    for (const host of Object.keys(stand.outputs.hosts))
      expect(preview, host).toMatch(new RegExp(`cluster-${host}-tls-certificate\\s+replace`));
    expect(preview).not.toMatch(/cluster-tls-ca\s+(update|replace)/);
  });

  it("every certificate re-issued (tls.rotation, tls.validityDays): services reload it, nothing restarts, not even etcd", async () => {
    const before = started();
    const tl = await timeline();
    const serials = Object.fromEntries(Object.keys(stand.outputs.hosts).map((h) => [h, outputSerial(h)]));
    stand.editConfig((c) => (c[TLS_KEY] = { enabled: true, rotation: 1, validityDays: 400 }));
    await upUnderLoad("every certificate re-issued");
    expect(await timeline()).toBe(tl);
    expect(started()).toEqual(before);
    for (const host of Object.keys(serials)) expect(outputSerial(host), host).not.toBe(serials[host]);
    const certs = stand.outputs.tlsCertificates as Record<string, { daysLeft: number }>;
    for (const host of Object.keys(certs)) expect(certs[host].daysLeft, host).toBe(399);
    expectLiveCertificates();
    await expectNoChanges();
  });

  it("the cluster CA rotated (tls.caGeneration): the next CA, trusted since the deploy, issues every certificate; the old one is dropped", async () => {
    const before = started();
    const tl = await timeline();
    const oldTrust = stand.outputs.tlsCaCertificate!;
    const [oldCa, nextCa] = oldTrust.split(/(?<=-----END CERTIFICATE-----\n)/);
    // A certificate of the old CA, to show it is refused afterwards: the client host's.
    const oldLeaf = { cert: ssh("client01", `cat ${TLS_PATHS.cert}`), key: ssh("client01", `cat ${TLS_PATHS.key}`) };
    // A client that took the trust bundle from the outputs before the rotation keeps verifying through it.
    stand.editConfig((c) => (c[TLS_KEY] = { ...c[TLS_KEY], caGeneration: 1 }));
    await upUnderLoad("CA rotated (generated)", { mode: "verify-full", ca: oldTrust });
    expect(await timeline()).toBe(tl);
    const after = started();
    for (const key of Object.keys(before))
      if (!key.endsWith("/etcd")) expect(after[key], `${key} was not restarted`).toBe(before[key]);
    const newTrust = stand.outputs.tlsCaCertificate!;
    expect(newTrust.startsWith(nextCa)).toBe(true);
    expect(newTrust).not.toContain(oldCa.trim());
    for (const host of Object.keys(stand.outputs.hosts))
      expect(ssh(host, `cat ${TLS_PATHS.ca}`), host).toBe(newTrust.trim());
    expectLiveCertificates();
    expectRefused(oldLeaf);
    await expectNoChanges();
  });

  it("a CA of our own (tls.ca): trusted everywhere first, new certificates, the generated CAs dropped", async () => {
    const own = await generateCa("our own CA", 3650);
    const before = started();
    const tl = await timeline();
    const oldTrust = stand.outputs.tlsCaCertificate!;
    await stand.run(["config", "set", "--secret", "tlsCaKey"], false, { input: own.key });
    stand.editConfig((c) => (c[TLS_KEY] = { ...c[TLS_KEY], caGeneration: 0, ca: { certificate: own.certificate } }));
    // Clients trust the new CA before it is used (here: the writer trusts both).
    await upUnderLoad("CA of our own", { mode: "verify-full", ca: oldTrust + own.certificate });
    expect(await timeline()).toBe(tl);
    const after = started();
    for (const key of Object.keys(before))
      if (!key.endsWith("/etcd")) expect(after[key], `${key} was not restarted`).toBe(before[key]);
    expect(stand.outputs.tlsCaCertificate!.trim()).toBe(own.certificate.trim());
    for (const host of Object.keys(stand.outputs.hosts)) {
      expect(ssh(host, `cat ${TLS_PATHS.ca}`), host).toBe(own.certificate.trim());
      expect(
        new crypto.X509Certificate(ssh(host, `cat ${TLS_PATHS.cert}`)).checkIssued(
          new crypto.X509Certificate(own.certificate),
        ),
        host,
      ).toBe(true);
    }
    expectLiveCertificates();
    await expectNoChanges();
  });

  it("tls.allowPlainClients: plain sessions accepted through HAProxy and at PostgreSQL; replication stays TLS", async () => {
    stand.editConfig((c) => (c[TLS_KEY] = { ...c[TLS_KEY], allowPlainClients: true }));
    await stand.up("allowPlainClients: true");
    // The Patroni reload step returns once Patroni has rewritten pg_hba
    // (patroni-reload.sh); PgBouncer's reload is synchronous. The bound is a
    // safety net and the printed figure shows how soon after the up it held.
    const bound = 15_000;
    for (const [host, port] of [
      ["haproxy01", 5000],
      ["pg01", 5432],
    ] as const) {
      const started = Date.now();
      let plain = "";
      while (Date.now() - started < bound) {
        plain = ssh(
          "client01",
          `PGPASSWORD="$(cat)" psql -X -At "host=${stand.address(host)} port=${port} user=postgres dbname=postgres sslmode=disable connect_timeout=3" -c "select 'plain ok'" 2>&1 || true`,
          stand.superuserPassword,
        );
        if (plain === "plain ok") break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(plain, `${host}:${port} within ${bound} ms of the up`).toBe("plain ok");
      console.log(`[e2e] plain session at ${host}:${port} accepted ${Date.now() - started} ms after the up`);
    }
    const leader = leaderOf(await members())!;
    expect(
      ssh(
        leader,
        `runuser -u postgres -- psql -X -At -h /var/run/postgresql -c "select bool_and(ssl) from pg_stat_ssl join pg_stat_replication using (pid)"`,
      ),
    ).toBe("t");
    await waitWhole(standTargets(stand, STACK).whole, 60_000);
  });
});

/** A certificate (and key) from a CA no longer trusted: etcd and the REST API refuse it as a client. */
function expectRefused(leaf: { cert: string; key: string }): void {
  const files = `d=$(mktemp -d); umask 077; printf '%s\\n' "$(cat)" > $d/both; awk '/BEGIN CERT/,/END CERT/' $d/both > $d/c; awk '/BEGIN PRIVATE/,/END PRIVATE/' $d/both > $d/k`;
  const address = stand.address("pg01");
  const out = ssh(
    "pg01",
    `${files}; curl -sS --cacert ${TLS_PATHS.ca} --cert $d/c --key $d/k https://${address}:8008/patroni 2>&1; echo; ` +
      `etcdctl --endpoints=https://${address}:2379 --cacert=${TLS_PATHS.ca} --cert=$d/c --key=$d/k --command-timeout=3s endpoint health 2>&1; rm -rf $d; true`,
    `${leaf.cert}\n${leaf.key}\n`,
  );
  expect(out).toMatch(/unknown ca|certificate unknown|alert/i);
  expect(out).toContain("is unhealthy");
  expect(out).not.toContain('"state"');
}
