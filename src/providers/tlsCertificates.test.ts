// The CA and host certificates as the providers make them: real openssl,
// then what a later diff and update decide.
import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import {
  caRotationReason,
  certificateReplaces,
  clusterCaProvider,
  daysLeft,
  hostCertificateProvider,
} from "./tlsCertificates";

type Outs = Record<string, any>;
const create = async (p: typeof clusterCaProvider, inputs: object): Promise<Outs> => (await p.create!(inputs)).outs;

describe("the cluster CA", () => {
  const inputs = { commonName: "test CA", generation: 0, validityDays: 3650, renewBeforeDays: 30 };

  it("is a CA with a next one already made; a new generation promotes the next and makes another", async () => {
    const ca = await create(clusterCaProvider, inputs);
    const cert = new crypto.X509Certificate(ca.certificate);
    expect(cert.ca).toBe(true);
    expect(cert.checkPrivateKey(crypto.createPrivateKey(ca.key))).toBe(true);
    expect(new crypto.X509Certificate(ca.nextCertificate).subject).toBe("CN=test CA 1");
    expect(daysLeft(ca.notAfter)).toBe(3649);
    // Nothing to do while the generation stays and the CA is far from its end.
    expect((await clusterCaProvider.diff!("id", ca, inputs)).changes).toBe(false);
    const rotated = (await clusterCaProvider.update!("id", ca, { ...inputs, generation: 1 })).outs as Outs;
    expect(rotated.certificate).toBe(ca.nextCertificate);
    expect(rotated.key).toBe(ca.nextKey);
    expect(rotated.retiredCertificate).toBe(ca.certificate);
    expect(rotated.nextCertificate).not.toBe(ca.nextCertificate);
  });

  it("is rotated once inside its renewal window", () => {
    const olds = { ...inputs, notAfter: "2036-12-01T00:00:00.000Z" } as never;
    expect(caRotationReason(olds, inputs, Date.parse("2036-10-01T00:00:00Z"))).toBeUndefined();
    expect(caRotationReason(olds, inputs, Date.parse("2036-11-15T00:00:00Z"))).toBe(
      "the cluster CA expires on 2036-12-01",
    );
    expect(caRotationReason(olds, { ...inputs, generation: 2 })).toBe("tls.caGeneration 0 -> 2");
  });
});

describe("a host's certificate", () => {
  it("names the host as asked, comes with a twin (same key, another serial), and is replaced when it must", async () => {
    const ca = await create(clusterCaProvider, {
      commonName: "ca",
      generation: 0,
      validityDays: 100,
      renewBeforeDays: 10,
    });
    const inputs = {
      caCertificate: ca.certificate,
      caKey: ca.key,
      commonName: "pg01",
      dnsNames: ["pg01", "localhost", "haproxy01"],
      ipAddresses: ["10.0.0.11", "127.0.0.1", "10.0.0.31"],
      validityDays: 90,
      renewBeforeDays: 10,
      generation: 0,
    };
    const leaf = await create(hostCertificateProvider, inputs);
    const cert = new crypto.X509Certificate(leaf.certificate);
    const twin = new crypto.X509Certificate(leaf.twinCertificate);
    expect(cert.subjectAltName).toBe(
      "DNS:pg01, DNS:localhost, DNS:haproxy01, IP Address:10.0.0.11, IP Address:127.0.0.1, IP Address:10.0.0.31",
    );
    expect(cert.checkIssued(new crypto.X509Certificate(ca.certificate))).toBe(true);
    expect(cert.checkPrivateKey(crypto.createPrivateKey(leaf.key))).toBe(true);
    expect(twin.checkPrivateKey(crypto.createPrivateKey(leaf.key))).toBe(true);
    expect(twin.serialNumber).not.toBe(cert.serialNumber);
    expect(leaf.serial).toBe(cert.serialNumber.toUpperCase());
    // Unchanged: nothing. A new name, CA, validity or generation: a new certificate.
    expect((await hostCertificateProvider.diff!("id", leaf, inputs)).changes).toBe(false);
    expect(certificateReplaces(leaf as never, { ...inputs, dnsNames: ["pg01"] })).toEqual(["dnsNames"]);
    expect(certificateReplaces(leaf as never, { ...inputs, generation: 1 })).toEqual(["generation"]);
    expect(certificateReplaces(leaf as never, { ...inputs, validityDays: 60 })).toEqual(["validityDays"]);
    // Inside the window (what a pulumi up 85 days from now would see): renewed.
    expect(certificateReplaces(leaf as never, inputs, Date.now() + 85 * 86_400_000)).toEqual(["notAfter"]);
    expect(certificateReplaces(leaf as never, inputs, Date.now() + 70 * 86_400_000)).toEqual([]);
  });

  it("refuses a name that is not a DNS name or an address", async () => {
    const ca = await create(clusterCaProvider, {
      commonName: "ca",
      generation: 0,
      validityDays: 10,
      renewBeforeDays: 1,
    });
    const bad = {
      caCertificate: ca.certificate,
      caKey: ca.key,
      commonName: "x",
      dnsNames: ["a b;rm"],
      ipAddresses: [],
    };
    await expect(
      hostCertificateProvider.create!({ ...bad, validityDays: 5, renewBeforeDays: 1, generation: 0 }),
    ).rejects.toThrow(/is not a DNS name/);
  });
});
