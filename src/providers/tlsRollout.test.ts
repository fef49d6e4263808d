// The rollout's diff at preview: a spec that is not known yet (Pulumi's
// unknown marker in place of the whole object, or inside a host) plans an
// update instead of failing the preview; a known, equal spec plans none.
import { describe, expect, it } from "vitest";
import { UNKNOWN } from "./shellCommand";
import { HostTlsState } from "../tls/rollout";
import { ownStages, RolloutOutputs, RolloutProps, TlsRolloutInputs, tlsPorts, tlsRolloutProvider } from "./tlsRollout";

const spec = {
  enabled: true,
  trust: "ca",
  ports: { etcd: 2379 },
  hosts: [{ name: "pg01", roles: ["postgres"], files: [], serials: {}, stages: {} }],
} as unknown as TlsRolloutInputs;
const olds = { spec, log: [] } as unknown as RolloutOutputs;
const diff = (news: unknown) => tlsRolloutProvider.diff!("id", olds, { spec: news } as unknown as RolloutProps);

describe("TLS rollout diff", () => {
  it("plans an update when the whole spec is unknown (a machine powered on again)", async () => {
    expect((await diff(UNKNOWN)).changes).toBe(true);
  });

  it("plans an update when a host's inputs are unknown", async () => {
    expect((await diff({ ...spec, hosts: [{ ...spec.hosts[0], files: UNKNOWN }] })).changes).toBe(true);
  });

  it("plans nothing when the known spec is the same", async () => {
    expect((await diff(spec)).changes).toBe(false);
  });
});

describe("the TLS state read from a host", () => {
  const report = {
    trust: "",
    certificate: "",
    etcd: { stage: "plain", active: true },
    patroni: { stage: "plain", active: true },
    pgbouncer: { stage: "plain", active: true },
    haproxy: { stage: "tls", active: true },
  };

  it("counts only the components the stack runs there (packages installed by others are not ours to migrate)", () => {
    const haproxyHost = { stages: { haproxy: { tolerant: {}, tls: {} } } } as unknown as Parameters<
      typeof ownStages
    >[0];
    expect(ownStages(haproxyHost, report)).toEqual({
      etcd: "none",
      patroni: "none",
      pgbouncer: "none",
      haproxy: "tls",
    });
  });

  it("keeps the observed stage of a component the stack runs", () => {
    const dbHost = { stages: { etcd: {}, patroni: {}, pgbouncer: {} } } as unknown as Parameters<typeof ownStages>[0];
    expect(ownStages(dbHost, report)).toEqual({ etcd: "plain", patroni: "plain", pgbouncer: "plain", haproxy: "none" });
  });
});

describe("the ports a reload waits on", () => {
  const inputs = { ports: { rest: 8008, postgres: 5432, pgbouncer: 6432, stats: 7000 } } as unknown as TlsRolloutInputs;
  const host: HostTlsState = {
    name: "rpg01",
    roles: ["etcd", "postgres", "haproxy"],
    trust: [],
    etcd: "tls",
    patroni: "tls",
    pgbouncer: "none",
    haproxy: "tls",
    running: ["etcd", "patroni", "haproxy"],
  };

  it("waits for every running service to present the new certificate", () => {
    expect(tlsPorts(inputs, host)).toEqual({
      units: ["patroni", "haproxy", "pgbackrest"],
      ports: ["5432:postgres", "8008:-", "7000:-"],
    });
  });

  // A restored stack whose first restore failed has Patroni stopped: the retry's rollout
  // wrote the files and then waited 60 s for a PostgreSQL that was not there.
  it("does not wait on a stopped Patroni, which reads its files when it starts", () => {
    expect(tlsPorts(inputs, { ...host, running: ["etcd", "haproxy"] })).toEqual({
      units: ["haproxy", "pgbackrest"],
      ports: ["7000:-"],
    });
  });
});
