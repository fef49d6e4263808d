import { describe, expect, it } from "vitest";
import { verifierMatches } from "../../secrets/scram";
import { renderClusterSql } from "./clusterSql";
import { seed000 } from "../../../test/fixtures/topologies";
import { parseStackConfig } from "../../stack/stackConfig";

describe("cluster SQL", () => {
  it("creates the auth_query function in template1, postgres and every database, idempotently", () => {
    const c = parseStackConfig(
      JSON.parse(
        JSON.stringify({
          ...seed000,
          cluster: { users: [{ name: "app" }], databases: [{ name: "appdb", owner: "app" }] },
        }),
      ),
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
    const c = parseStackConfig(
      JSON.parse(JSON.stringify({ ...seed000, cluster: { users: [{ name: "app" }] } })),
      () => false,
    );
    expect(() => renderClusterSql(c.cluster, "x", {})).toThrow(/no password for cluster.users app/);
  });
});
