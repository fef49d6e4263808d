// The tls section: what is refused, the facts the host scripts get, a supplied CA's checks.
import { describe, expect, it } from "vitest";
import { generateCa } from "../providers/openssl";
import { seed000 } from "../../test/fixtures/topologies";
import { parseStackConfig } from "../stack/stackConfig";
import { suppliedCaProblems, tlsFacts } from "./settings";
import { certificateNames } from "./names";

const parse = (tls: object, isSecret = () => true) =>
  parseStackConfig(JSON.parse(JSON.stringify({ ...seed000, tls })), isSecret);
const problems = (tls: object, values: object = {}) => {
  try {
    parseStackConfig(JSON.parse(JSON.stringify({ ...seed000, tls, ...values })), () => false);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
};

describe("tls settings", () => {
  it("TLS is off unless set (an upgraded stack stays plain), certificates for 825 days renewed 30 days ahead, plain clients refused", () => {
    expect(parse({}).tls).toEqual({
      enabled: false,
      validityDays: 825,
      renewBeforeDays: 30,
      rotation: 0,
      caGeneration: 0,
      allowPlainClients: false,
    });
  });

  it("refuses a renewal window as long as the validity, a CA generation with a supplied CA, a CA key in clear", () => {
    expect(problems({ validityDays: 30, renewBeforeDays: 16 })).toContain(
      "tls.renewBeforeDays: must be at most half of tls.validityDays (15)",
    );
    expect(
      problems({
        caGeneration: 1,
        ca: { certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
      }),
    ).toContain("tls.caGeneration: rotates the generated cluster CA");
    expect(problems({ ca: { certificate: "not pem" } })).toContain("tls.ca.certificate: must be one PEM certificate");
    expect(problems({}, { tlsCaKey: "-----BEGIN PRIVATE KEY-----" })).toContain(
      "tlsCaKey: is stored in clear text; it must be a secret",
    );
    expect(problems({ validityDays: 4000 })).toContain("tls.validityDays");
  });

  it("a supplied CA must be a CA, with its own key", async () => {
    const [a, b] = await Promise.all([generateCa("a", 30), generateCa("b", 30)]);
    expect(suppliedCaProblems(a.certificate, a.key)).toEqual([]);
    expect(suppliedCaProblems(a.certificate, b.key)).toEqual([
      "tlsCaKey: is not the private key of tls.ca.certificate",
    ]);
    expect(suppliedCaProblems(a.certificate, undefined).join()).toContain("pulumi config set --secret tlsCaKey");
    expect(suppliedCaProblems("garbage", a.key).join()).toContain("is not a readable certificate");
  });

  it("gives the host scripts curl's config, etcdctl's certificates and libpq's verify-full; with TLS off, none of it", () => {
    const on = tlsFacts(parse({ enabled: true }));
    expect(on).toMatchObject({
      CURL_TLS: "/etc/pulumi-patroni/tls/curl.conf",
      ETCDCTL_CACERT: "/etc/pulumi-patroni/tls/ca.crt",
      ETCDCTL_CERT: "/etc/pulumi-patroni/tls/host.crt",
      ETCDCTL_KEY: "/etc/pulumi-patroni/tls/host.key",
      PG_SSL: "sslmode=verify-full sslrootcert=/etc/pulumi-patroni/tls/ca.crt",
    });
    const off = tlsFacts(parse({ enabled: false }));
    expect(off.CURL_TLS).toBe("/dev/null");
    expect(off.PG_SSL).toBe("sslmode=prefer");
    expect(Object.keys(off).filter((k) => k.startsWith("ETCDCTL"))).toEqual([]);
  });
});

describe("certificate names", () => {
  it("the host's name and address, localhost, and the entry points clients dial", () => {
    expect(
      certificateNames({ name: "pg01", address: "10.0.0.11" }, [
        { address: "10.0.0.31", name: "haproxy01" },
        { address: "10.0.0.100" },
      ]),
    ).toEqual({
      commonName: "pg01",
      dnsNames: ["pg01", "localhost", "haproxy01"],
      ipAddresses: ["10.0.0.11", "127.0.0.1", "10.0.0.31", "10.0.0.100"],
    });
  });
});
