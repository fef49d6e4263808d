// SCRAM-SHA-256 against RFC 7677's test vector, and the verifiers the
// cluster SQL sets instead of passwords.
import { describe, expect, it } from "vitest";
import { ScramClient, scramVerifier, stableScramVerifier, verifierMatches } from "./scram";

describe("SCRAM-SHA-256", () => {
  it("computes RFC 7677's client proof and accepts its server signature", () => {
    const client = new ScramClient("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
    expect(client.first()).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    expect(client.final(serverFirst)).toBe(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    expect(() => client.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).not.toThrow();
    expect(() => client.verify("v=AAAA")).toThrow(/signature does not match/);
  });

  it("a verifier has PostgreSQL's format and matches only its password", () => {
    const v = scramVerifier("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"));
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(verifierMatches(v, "pencil")).toBe(true);
    expect(verifierMatches(v, "pencil2")).toBe(false);
  });

  it("stable verifiers stay the same for a password and change with it, the role or the cluster", () => {
    const a = stableScramVerifier("app", "pw-1", "demo");
    expect(stableScramVerifier("app", "pw-1", "demo")).toBe(a);
    expect(stableScramVerifier("app", "pw-2", "demo")).not.toBe(a);
    expect(stableScramVerifier("other", "pw-1", "demo")).not.toBe(a);
    expect(stableScramVerifier("app", "pw-1", "prod")).not.toBe(a);
    expect(verifierMatches(a, "pw-1")).toBe(true);
  });
});
