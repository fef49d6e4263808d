// Supported platforms: which hosts are accepted, which are refused and why,
// and what the renderers do differently per version.
import { describe, expect, it } from "vitest";
import {
  PlatformReport,
  parsePlatformReport,
  pgbouncerHasAuthDbname,
  resolveHostPlatform,
  upstreamVersion,
} from "./platform";
import { renderPgbouncerIni } from "../roles/pgbouncer/pgbouncerIni";
import { packagesFor, parseStackConfig } from "../stack/stackConfig";
import { seed000 } from "../../test/fixtures/topologies";

const DB_ROLES = ["etcd", "postgres", "pgbouncer"];

/** The packages the roles' slices name for a cluster of PostgreSQL `pg`. */
const packagesOf = (roles: readonly string[], pg: number) =>
  packagesFor(
    roles,
    parseStackConfig({ ...seed000, cluster: { ...seed000.cluster, postgresVersion: pg } }, () => false),
  );

/** A platform request: the host, its roles and their packages. */
const request = (hostName: string, roles: readonly string[], postgresVersion: number, adoptExisting?: boolean) => ({
  hostName,
  roles,
  packages: packagesOf(roles, postgresVersion),
  postgresVersion,
  adoptExisting,
});

function facts(
  codename: string,
  versionId: string,
  versions: Record<string, string>,
  roles = DB_ROLES,
  pg = 17,
): PlatformReport {
  return {
    id: "debian",
    versionId,
    codename,
    packages: Object.fromEntries(
      packagesOf(roles, pg).map((p) => [p, { installed: "", candidate: versions[p] ?? "1.0-1" }]),
    ),
  };
}

const DEBIAN_13 = {
  patroni: "4.0.7-3~deb13u1",
  "postgresql-17": "17.12-0+deb13u1",
  pgbouncer: "1.24.1-1+deb13u2",
  "etcd-server": "3.5.16-4",
  haproxy: "3.0.11-1+deb13u4",
};
const DEBIAN_12 = {
  patroni: "3.0.2-1",
  "postgresql-15": "15.14-0+deb12u1",
  pgbouncer: "1.18.0-1",
  "etcd-server": "3.4.23-4+b6",
  haproxy: "2.6.12-1+deb12u2",
};
// Debian 12 with the PostgreSQL project's repository (apt.postgresql.org): its Patroni, PostgreSQL and PgBouncer win.
const DEBIAN_12_PGDG = {
  ...DEBIAN_12,
  patroni: "4.1.0-1.pgdg120+1",
  "postgresql-17": "17.7-1.pgdg120+1",
  pgbouncer: "1.25.0-1.pgdg120+1",
};

describe("supported platforms", () => {
  it("Debian 13 is supported as is: Patroni 4.0.7, PostgreSQL 17, PgBouncer 1.24", () => {
    const r = resolveHostPlatform(request("pg01", DB_ROLES, 17), facts("trixie", "13", DEBIAN_13));
    expect(r.problems).toEqual([]);
    expect(r.platform).toEqual({
      codename: "trixie",
      debianVersion: 13,
      patroni: "4.0.7",
      postgres: "17.12",
      pgbouncer: "1.24.1",
      etcd: "3.5.16",
      haproxy: undefined,
    });
  });

  it("Debian 12 with the PostgreSQL project's repository is supported", () => {
    const r = resolveHostPlatform(request("pg01", DB_ROLES, 17), facts("bookworm", "12", DEBIAN_12_PGDG));
    expect(r.problems).toEqual([]);
    expect(r.platform?.patroni).toBe("4.1.0");
  });

  it("refuses Debian 12's Patroni 3.0.2, naming the data-loss bug and the way out", () => {
    const r = resolveHostPlatform(request("pg02", DB_ROLES, 15), facts("bookworm", "12", DEBIAN_12, DB_ROLES, 15));
    expect(r.platform).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    const [problem] = r.problems;
    expect(problem).toContain("hosts pg02 (debian 12 bookworm): Patroni 3.0.2 is refused");
    expect(problem).toContain("overwrites the etcd leader key");
    expect(problem).toContain("pull request 2689");
    expect(problem).toContain("Use Debian 13 (Patroni 4.0.7)");
    expect(problem).toContain("apt.postgresql.org");
  });

  it("refuses Patroni 3.x after the fix too: it cannot validate a changed patroni.yml on a running node", () => {
    const r = resolveHostPlatform(
      request("pg01", DB_ROLES, 17),
      facts("trixie", "13", { ...DEBIAN_13, patroni: "3.3.2-1" }),
    );
    expect(r.problems.join()).toContain(
      "Patroni 3.3.2 is refused: a changed patroni.yml can only be validated on a running node from Patroni 4.0.0",
    );
  });

  it("a host without the postgres role is not refused for its Patroni", () => {
    const r = resolveHostPlatform(
      request("haproxy01", ["haproxy"], 15),
      facts("bookworm", "12", DEBIAN_12, ["haproxy"], 15),
    );
    expect(r.problems).toEqual([]);
    expect(r.platform?.haproxy).toBe("2.6.12");
  });

  it("a PostgreSQL major the release does not ship is refused with what it ships", () => {
    const f = facts("trixie", "13", DEBIAN_13);
    const missing = {
      ...f,
      packages: {
        ...f.packages,
        "postgresql-15": { installed: "", candidate: "" },
        "postgresql-client-15": { installed: "", candidate: "" },
      },
    };
    const r = resolveHostPlatform(request("pg01", DB_ROLES, 15), missing);
    expect(r.problems[0]).toContain(
      "PostgreSQL 15 (package postgresql-15) is not available; Debian 13 ships PostgreSQL 17: set cluster.postgresVersion: 17",
    );
  });

  it("a host running a PostgreSQL cluster or etcd this stack did not create is refused, unless adoptExisting", () => {
    const busy = { ...facts("trixie", "13", DEBIAN_13), foreign: ["PostgreSQL cluster 15/main (online, port 5432)"] };
    const refused = resolveHostPlatform(request("pg01", DB_ROLES, 17), busy);
    expect(refused.problems[0]).toContain(
      "already runs PostgreSQL cluster 15/main (online, port 5432), which this stack did not create",
    );
    expect(refused.problems[0]).toContain("hosts[].adoptExisting: true for pg01");
    expect(resolveHostPlatform(request("pg01", DB_ROLES, 17, true), busy).problems).toEqual([]);
    // An HAProxy host takes nothing over.
    const busyLb = { ...facts("trixie", "13", DEBIAN_13, ["haproxy"]), foreign: busy.foreign };
    expect(resolveHostPlatform(request("lb", ["haproxy"], 17), busyLb).problems).toEqual([]);
  });

  it("only Debian is supported", () => {
    const r = resolveHostPlatform(request("x", ["haproxy"], 17), {
      ...facts("jammy", "22.04", DEBIAN_13, ["haproxy"]),
      id: "ubuntu",
    });
    expect(r.problems[0]).toContain("only Debian is supported");
  });

  it("an installed version wins over the candidate (installed packages are never upgraded)", () => {
    const f = facts("trixie", "13", DEBIAN_13);
    const r = resolveHostPlatform(request("pg01", DB_ROLES, 17), {
      ...f,
      packages: { ...f.packages, patroni: { installed: "4.0.6-1", candidate: "4.0.7-3~deb13u1" } },
    });
    expect(r.platform?.patroni).toBe("4.0.6");
  });

  it("reads the platform step's JSON and Debian version strings", () => {
    const parsed = parsePlatformReport(
      '{"id":"debian","versionId":"13","codename":"trixie","packages":{"jq":{"installed":"1.7.1-6+deb13u4","candidate":"1.7.1-6+deb13u4"}}}',
    );
    expect(parsed.packages.jq.installed).toBe("1.7.1-6+deb13u4");
    expect(upstreamVersion("1:4.0.7-3~deb13u1")).toBe("4.0.7");
    expect(() => parsePlatformReport('{"id":"debian"}')).toThrow(/unexpected platform facts/);
  });
});

describe("renderers per version", () => {
  const ini = (pgbouncer: string) => {
    const platform = resolveHostPlatform(
      request("pg01", DB_ROLES, 17),
      facts("trixie", "13", { ...DEBIAN_13, pgbouncer }),
    ).platform!;
    return renderPgbouncerIni(
      { stack: "test" },
      {
        listenAddress: "10.0.0.1",
        port: 6432,
        postgresPort: 5432,
        poolMode: "session",
        defaultPoolSize: 20,
        maxClientConn: 100,
        authType: "scram-sha-256",
        authDbname: pgbouncerHasAuthDbname(platform) ? "postgres" : undefined,
        adminUsers: ["postgres"],
        tls: { stage: "plain", paths: { ca: "", cert: "", key: "" }, allowPlainClients: false },
      },
    );
  };

  it("PgBouncer 1.21 and later run auth_query in one database (auth_dbname)", () => {
    expect(ini("1.24.1-1+deb13u2")).toContain("auth_dbname = postgres\n");
    expect(ini("1.18.0-1")).not.toContain("auth_dbname");
  });
});
