// Every config field has a class (what a change does to a running stack),
// and an identity field changed on a deployed stack is refused.
import { describe, expect, it } from "vitest";
import { identityAdvice, identityValues, ruleOf } from "../config/fieldClasses";
import { identityChanges } from "../providers/stackIdentity";
import { renderConfigTable } from "../../scripts/config-docs";
import { seed000 } from "../../test/fixtures/topologies";
import { FIELD_CLASSES, parseStackConfig } from "./stackConfig";

const parse = (raw: object) => parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
const guardOf = (raw: object) => {
  const fields = identityValues(FIELD_CLASSES, parse(raw));
  return { fields, advice: Object.fromEntries(Object.keys(fields).map((k) => [k, identityAdvice(FIELD_CLASSES, k)])) };
};

describe("field classes", () => {
  it("every field of the configuration table has one (the table generator refuses a field without)", () => {
    const table = renderConfigTable();
    const rows = table.split("\n").slice(2);
    expect(rows.length).toBeGreaterThan(60);
    for (const row of rows) {
      const [, key, type, , , cls] = row.split(/(?<!\\)\|/).map((c) => c.trim());
      if (type === "object") continue;
      expect(cls, key).toMatch(/^\*\*(live|rolling|identity|membership)\*\*: ./);
    }
  });

  it("every rule names a field of the configuration (no rule outlives its field)", () => {
    const keys = new Set(
      renderConfigTable()
        .split("\n")
        .slice(2)
        .map((row) =>
          row
            .split(/(?<!\\)\|/)[1]
            .trim()
            .replace(/`/g, ""),
        ),
    );
    for (const key of Object.keys(FIELD_CLASSES)) expect(keys.has(key), `${key} has a rule but no field`).toBe(true);
  });

  it("a nested field takes its nearest classified parent's rule", () => {
    expect(ruleOf(FIELD_CLASSES, "cluster.pgHba[].user")).toBe(FIELD_CLASSES["cluster.pgHba"]);
    expect(ruleOf(FIELD_CLASSES, "cluster.dcs.ttl")?.cls).toBe("live");
    expect(ruleOf(FIELD_CLASSES, "no.such.field")).toBeUndefined();
  });

  it("cluster.name, postgresVersion, the ports members meet at and a host's address are identity", () => {
    const fields = identityValues(FIELD_CLASSES, parse(seed000));
    expect(Object.keys(fields)).toEqual(
      expect.arrayContaining([
        "cluster.name",
        "cluster.postgresVersion",
        "cluster.postgresPort",
        "etcd.clientPort",
        "hosts[servera].address",
      ]),
    );
    expect(fields["cluster.name"]).toBe("patroni-cluster-otus");
  });
});

describe("the identity guard", () => {
  const before = guardOf(seed000);

  it("refuses a renamed cluster, naming the field and what to do instead", () => {
    const problems = identityChanges(before, guardOf({ ...seed000, cluster: { name: "renamed" } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('cluster.name: changed from "patroni-cluster-otus" to "renamed" on a deployed stack');
    expect(problems[0]).toContain("create a new stack");
    expect(problems[0]).toContain("Nothing on the hosts was changed");
  });

  it("refuses a new address for an existing host, but not a host added or removed", () => {
    const moved = {
      ...seed000,
      hosts: seed000.hosts.map((h, i) => (i === 1 ? { ...h, address: "192.168.11.199" } : h)),
    };
    expect(identityChanges(before, guardOf(moved)).join()).toContain("hosts[serverb].address");
    const fewer = {
      ...seed000,
      hosts: seed000.hosts
        .filter((h) => h.name !== "haproxy")
        .concat([{ ...seed000.hosts[3], name: "lb2", address: "192.168.11.160" }]),
    };
    expect(identityChanges(before, guardOf(fewer))).toEqual([]);
  });

  it("accepts live changes and a first deploy", () => {
    expect(
      identityChanges(
        before,
        guardOf({ ...seed000, cluster: { name: "patroni-cluster-otus", parameters: { work_mem: "8MB" } } }),
      ),
    ).toEqual([]);
    expect(identityChanges(undefined, before)).toEqual([]);
  });
});

describe("membership changes", () => {
  const members = (etcd: string[], postgres: string[]) => ({ fields: {}, advice: {}, members: { etcd, postgres } });
  it("refuses a change that removes every etcd member or every PostgreSQL host at once", () => {
    expect(
      identityChanges(members(["a", "b", "c"], ["a", "b", "c"]), members(["d", "e", "f"], ["a", "b", "c"])).join(),
    ).toContain("removes every etcd member at once (a, b, c)");
    expect(identityChanges(members(["a"], ["a", "b"]), members(["a"], ["c"])).join()).toContain(
      "removes every postgres member at once",
    );
  });

  it("accepts growing, shrinking and replacing members step by step", () => {
    expect(
      identityChanges(
        members(["a", "b", "c"], ["a", "b", "c"]),
        members(["a", "b", "c", "d", "e"], ["a", "b", "c", "d"]),
      ),
    ).toEqual([]);
    expect(
      identityChanges(
        members(["a", "b", "c", "d", "e"], ["a", "b", "c", "d"]),
        members(["a", "b", "c"], ["b", "c", "d"]),
      ),
    ).toEqual([]);
  });
});

describe("the entry guard: clients' URIs keep reaching an HAProxy host", () => {
  const entry = (uriHosts: string[], haproxyHosts: string[]) => ({
    fields: {},
    advice: {},
    entry: { uriHosts, haproxyHosts },
  });

  it("refuses removing every HAProxy host the URIs name (no VIP), naming them and the way round", () => {
    const problems = identityChanges(entry(["ha1"], ["ha1"]), entry(["ha2"], ["ha2"]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("removes every HAProxy host the clients' URIs name (ha1) while adding ha2");
    expect(problems[0]).toContain("set haproxy.vip first");
    expect(problems[0]).toContain("Nothing on the hosts was changed");
  });

  it("accepts keeping one of them, any change behind a VIP, and a VIP removed", () => {
    expect(identityChanges(entry(["ha1", "ha2"], ["ha1", "ha2"]), entry(["ha2", "ha3"], ["ha2", "ha3"]))).toEqual([]);
    expect(identityChanges(entry([], ["ha1", "ha2"]), entry([], ["ha3"]))).toEqual([]);
    expect(identityChanges(entry([], ["ha1", "ha2"]), entry(["ha1", "ha2"], ["ha1", "ha2"]))).toEqual([]);
    // A stack deployed before the guard existed records no entry.
    expect(identityChanges({ fields: {}, advice: {} }, entry(["ha2"], ["ha2"]))).toEqual([]);
  });
});
