import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import { renderPgbouncerIni } from "./pgbouncerIni";
import { clientLoginSecret, renderPgbouncerUserlist } from "./pgbouncerUserlist";
import { stableScramVerifier, verifierMatches } from "../../secrets/scram";
import { renderPgbouncerHba } from "./pgbouncerHba";
import { TLS_PATHS } from "../../tls/settings";
import { stageOf } from "../../tls/stages";

const ctx = { stack: "test" };

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
      tls: { stage: "plain", paths: TLS_PATHS, allowPlainClients: false },
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
    expect(text).not.toContain("tls");
  });

  it("with TLS: clients must use it, with the host's certificate; RELOAD re-reads the files", () => {
    const base = {
      listenAddress: "10.0.0.11",
      port: 6432,
      postgresPort: 5432,
      poolMode: "session",
      defaultPoolSize: 20,
      maxClientConn: 1000,
      authType: "scram-sha-256",
      adminUsers: ["postgres"],
    };
    const parse = (text: string) =>
      Object.fromEntries(
        text
          .split("\n")
          .filter((l) => l.includes(" = "))
          .map((l) => l.split(" = ", 2) as [string, string]),
      );
    const text = renderPgbouncerIni(ctx, {
      ...base,
      tls: { stage: "tls", paths: TLS_PATHS, allowPlainClients: false },
    });
    expect(stageOf(text)).toBe("tls");
    const s = parse(text);
    expect(s.client_tls_sslmode).toBe("require");
    expect(s.client_tls_cert_file).toBe("/etc/pulumi-patroni/tls/host.crt");
    expect(s.client_tls_key_file).toBe("/etc/pulumi-patroni/tls/host.key");
    expect(s.client_tls_ca_file).toBe("/etc/pulumi-patroni/tls/ca.crt");
    // The server side stays the unix socket: no server_tls_* needed.
    expect(s["*"]).toBe("host=/var/run/postgresql port=5432");
    expect(text).not.toContain("server_tls");
    const open = parse(
      renderPgbouncerIni(ctx, { ...base, tls: { stage: "tls", paths: TLS_PATHS, allowPlainClients: true } }),
    );
    expect(open.client_tls_sslmode).toBe("prefer");
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

describe("pgbouncer_hba.conf", () => {
  const text = renderPgbouncerHba(ctx, {
    authType: "scram-sha-256",
    superuser: "postgres",
    clusterAddresses: ["10.0.0.11", "10.0.0.31"],
    adminNetworks: ["192.168.7.0/24"],
    tlsOnly: false,
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

describe("pgbouncer_hba.conf with TLS", () => {
  const lines = renderPgbouncerHba(ctx, {
    authType: "scram-sha-256",
    superuser: "postgres",
    clusterAddresses: ["10.0.0.11", "10.0.0.31"],
    adminNetworks: ["192.168.7.0/24"],
    tlsOnly: true,
  })
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));

  it("accepts TCP logins over TLS only; the reject rules still match every login they should refuse", () => {
    expect(lines).toEqual([
      "local pgbouncer postgres peer",
      "hostssl pgbouncer all 127.0.0.1/32 scram-sha-256",
      "hostssl pgbouncer all 192.168.7.0/24 scram-sha-256",
      "host pgbouncer all 0.0.0.0/0 reject",
      "hostssl all postgres 127.0.0.1/32 scram-sha-256",
      "hostssl all postgres 10.0.0.11/32 scram-sha-256",
      "hostssl all postgres 10.0.0.31/32 scram-sha-256",
      "hostssl all postgres 192.168.7.0/24 scram-sha-256",
      "host all postgres 0.0.0.0/0 reject",
      "hostssl all all 0.0.0.0/0 scram-sha-256",
    ]);
  });
});
