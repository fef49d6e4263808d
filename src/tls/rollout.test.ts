// The TLS rollout's plan from what the hosts say of themselves.
import { describe, expect, it } from "vitest";
import { describeStep, HostTlsState, planRollout, WantedTls } from "./rollout";

const host = (name: string, roles: string[], patch: Partial<HostTlsState> = {}): HostTlsState => ({
  name,
  roles,
  trust: ["CUR", "NEXT"],
  serial: `${name}-final`,
  etcd: roles.includes("etcd") ? "tls" : "none",
  patroni: roles.includes("postgres") ? "tls" : "none",
  pgbouncer: roles.includes("pgbouncer") ? "tls" : "none",
  haproxy: roles.includes("haproxy") ? "tls" : "none",
  ...patch,
});
const DB = ["etcd", "postgres", "pgbouncer"];
const cluster = (patch: (h: HostTlsState) => Partial<HostTlsState> = () => ({})) =>
  [
    host("pg01", DB),
    host("pg02", DB),
    host("pg03", DB),
    host("haproxy01", ["haproxy"]),
    host("client01", ["client"]),
  ].map((h) => ({ ...h, ...patch(h) }));
const serials = (suffix = "") =>
  Object.fromEntries(
    ["pg01", "pg02", "pg03", "haproxy01", "client01"].map((h) => [
      h,
      { final: `${h}-final${suffix}`, twin: `${h}-twin${suffix}` },
    ]),
  );
const wanted: WantedTls = { trust: ["CUR", "NEXT"], issuer: "CUR", serials: serials() };
const steps = (s: ReturnType<typeof planRollout>) => s.map(describeStep);

describe("the TLS rollout's plan", () => {
  it("nothing when every host is where the stack wants it, or has nothing yet", () => {
    expect(planRollout(cluster(), wanted)).toEqual([]);
    const fresh = cluster(() => ({
      trust: [],
      serial: undefined,
      etcd: "none",
      patroni: "none",
      pgbouncer: "none",
      haproxy: "none",
    }));
    expect(planRollout(fresh, wanted)).toEqual([]);
  });

  it("new certificates (same CAs): database hosts first, HAProxy's after, each reloaded; nothing restarts", () => {
    const plan = planRollout(
      cluster(() => ({ serial: "old" })),
      wanted,
    );
    expect(steps(plan)).toEqual([
      "pg01: final TLS files, reloaded",
      "pg02: final TLS files, reloaded",
      "pg03: final TLS files, reloaded",
      "haproxy01: final TLS files, reloaded",
      "client01: final TLS files",
    ]);
  });

  it("a CA rotation whose new CA is trusted already (the generated next one): twins, then the final files, etcd one by one", () => {
    const next: WantedTls = { trust: ["NEXT", "NEW"], issuer: "NEXT", serials: serials("2") };
    const plan = steps(planRollout(cluster(), next));
    expect(plan).toEqual([
      "pg01: certificate from the new CA, reloaded",
      "pg02: certificate from the new CA, reloaded",
      "pg03: certificate from the new CA, reloaded",
      "haproxy01: certificate from the new CA, reloaded",
      "client01: certificate from the new CA",
      "pg01: final TLS files, reloaded",
      "pg02: final TLS files, reloaded",
      "pg03: final TLS files, reloaded",
      "haproxy01: final TLS files, reloaded",
      "client01: final TLS files",
      "pg01: etcd restarted for its trust",
      "pg02: etcd restarted for its trust",
      "pg03: etcd restarted for its trust",
    ]);
  });

  it("a CA nobody trusts yet (a supplied one): every host trusts it first, etcd restarted one by one, then as above", () => {
    const other: WantedTls = { trust: ["OTHER"], issuer: "OTHER", serials: serials("2") };
    const plan = steps(planRollout(cluster(), other));
    expect(plan.slice(0, 8)).toEqual([
      "pg01: trusts the new CA too",
      "pg02: trusts the new CA too",
      "pg03: trusts the new CA too",
      "haproxy01: trusts the new CA too",
      "client01: trusts the new CA too",
      "pg01: etcd restarted for its trust",
      "pg02: etcd restarted for its trust",
      "pg03: etcd restarted for its trust",
    ]);
    expect(plan[8]).toBe("pg01: certificate from the new CA, reloaded");
    expect(plan.at(-1)).toBe("pg03: etcd restarted for its trust");
  });

  it("an interrupted rotation resumes: hosts that have their twin already skip it", () => {
    const next: WantedTls = { trust: ["NEXT", "NEW"], issuer: "NEXT", serials: serials("2") };
    const plan = steps(
      planRollout(
        cluster((h) => (h.name === "pg01" ? { serial: "pg01-twin2" } : {})),
        next,
      ),
    );
    expect(plan).not.toContain("pg01: certificate from the new CA, reloaded");
    expect(plan).toContain("pg02: certificate from the new CA, reloaded");
  });

  it("a plain-text cluster migrates in the order that keeps writes and etcd's quorum", () => {
    const plain = cluster((h) => ({
      trust: [],
      serial: undefined,
      etcd: h.etcd === "none" ? "none" : "plain",
      patroni: h.patroni === "none" ? "none" : "plain",
      pgbouncer: h.pgbouncer === "none" ? "none" : "plain",
      haproxy: h.haproxy === "none" ? "none" : "plain",
    }));
    const plan = steps(planRollout(plain, wanted, "pg02"));
    expect(plan).toEqual([
      "pg01: final TLS files",
      "pg02: final TLS files",
      "pg03: final TLS files",
      "haproxy01: final TLS files",
      "haproxy01: HAProxy tolerant checks",
      "pg01: etcd serves https next to http",
      "pg02: etcd serves https next to http",
      "pg03: etcd serves https next to http",
      "Patroni paused",
      // The leader first.
      "pg02: Patroni etcd client and PostgreSQL on TLS (restart)",
      "pg01: Patroni etcd client and PostgreSQL on TLS (restart)",
      "pg03: Patroni etcd client and PostgreSQL on TLS (restart)",
      "Patroni resumed",
      "pg01: etcd https only, peers on https",
      "pg02: etcd https only, peers on https",
      "pg03: etcd https only, peers on https",
      "pg01: PgBouncer client TLS",
      "pg02: PgBouncer client TLS",
      "pg03: PgBouncer client TLS",
      "pg01, pg02, pg03: Patroni REST API on https, hostssl (reload), every REST API answering https",
      "haproxy01: HAProxy checks over TLS",
    ]);
  });

  it("an interrupted migration resumes where it stopped", () => {
    const partial = cluster((h) => ({
      etcd: h.etcd === "none" ? "none" : h.name === "pg01" ? "tls" : "dual",
      patroni: h.patroni === "none" ? "none" : "etcd",
      pgbouncer: h.pgbouncer === "none" ? "none" : "plain",
      haproxy: h.haproxy === "none" ? "none" : "tolerant",
    }));
    const plan = steps(planRollout(partial, wanted, "pg01"));
    expect(plan).not.toContain("Patroni paused");
    expect(plan).not.toContain("haproxy01: HAProxy tolerant checks");
    expect(plan).not.toContain("pg01: etcd https only, peers on https");
    expect(plan).toContain("pg02: etcd https only, peers on https");
    expect(plan.at(-1)).toBe("haproxy01: HAProxy checks over TLS");
  });
});
