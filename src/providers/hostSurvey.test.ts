// The survey of a host before its first deploy, without a host: the
// refusal's words, a host that does not answer (left to the steps), and a
// host surveyed before (never again). test/e2e/own-servers.test.ts runs it
// against real servers.
import { describe, expect, it } from "vitest";
import { hostSurveyProvider, surveyProblems } from "./hostSurvey";

const inputs = {
  hostName: "db1",
  // Nothing listens on port 1: ssh-keyscan is refused at once, no traffic leaves the controller.
  address: "127.0.0.1",
  port: 1,
  user: "debian",
  privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot used\n-----END OPENSSH PRIVATE KEY-----",
  script: "echo 'PostgreSQL cluster 17/main (online, port 5432)'",
  refusal: "hosts db1: already runs {found}; set hosts[].adoptExisting: true for db1",
};

describe("the survey of a host before its first deploy", () => {
  it("turns each finding into the refusal's words, or nothing without a refusal", () => {
    expect(surveyProblems(inputs.refusal, ["etcd (running)", "Patroni"])).toEqual([
      "hosts db1: already runs etcd (running); set hosts[].adoptExisting: true for db1",
      "hosts db1: already runs Patroni; set hosts[].adoptExisting: true for db1",
    ]);
    expect(surveyProblems(undefined, ["etcd (running)"])).toEqual([]);
  });

  it("leaves a host that does not answer to the steps, and never stores the key or the script", async () => {
    const r = await hostSurveyProvider.check!({}, inputs);
    expect(r.failures ?? []).toEqual([]);
    expect(r.inputs).toEqual({
      hostName: "db1",
      address: "127.0.0.1",
      port: 1,
      user: "debian",
      refusal: inputs.refusal,
      found: [],
    });
  });

  it("surveys a host once: after its first deploy it keeps what it found then", async () => {
    const olds = { hostName: "db1", address: "127.0.0.1", port: 1, user: "debian", found: ["etcd (running)"] };
    const r = await hostSurveyProvider.check!(olds, { ...inputs, refusal: undefined });
    expect(r.failures ?? []).toEqual([]);
    expect(r.inputs).toMatchObject({ found: ["etcd (running)"] });
    expect(r.inputs).not.toHaveProperty("privateKey");
    expect(await hostSurveyProvider.diff!("id", olds, { ...olds, pinned: "ssh-ed25519 AAAA" })).toEqual({
      changes: false,
    });
  });
});
