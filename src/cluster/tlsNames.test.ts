// The names the certificates carry with a VIP in front of HAProxy: a client
// through the VIP verifies the VIP against PgBouncer's certificate
// (verify-full, TLS passes through HAProxy), and the stats page is https on
// the VIP with the HAProxy host's certificate.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../stack/stackConfig";
import { seed000 } from "../../test/fixtures/topologies";
import { certificateNamesOf } from "./tls";

const parse = (raw: object) => parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);
const hostOf = (c: ReturnType<typeof parse>, name: string) => c.hosts.find((h) => h.name === name)!;

describe("certificate names with haproxy.vip", () => {
  const c = parse({ ...seed000, haproxy: { vip: { address: "192.168.11.160" } } });

  it("a database host's certificate names the VIP besides every HAProxy host", () => {
    expect(certificateNamesOf(c, hostOf(c, "servera"))).toEqual({
      commonName: "servera",
      dnsNames: ["servera", "localhost", "haproxy"],
      ipAddresses: ["192.168.11.150", "127.0.0.1", "192.168.11.153", "192.168.11.160"],
    });
  });

  it("an HAProxy host's certificate names the VIP (its stats page is https there)", () => {
    expect(certificateNamesOf(c, hostOf(c, "haproxy")).ipAddresses).toEqual([
      "192.168.11.153",
      "127.0.0.1",
      "192.168.11.160",
    ]);
  });

  it("without a VIP, neither does", () => {
    const plain = parse(seed000);
    expect(certificateNamesOf(plain, hostOf(plain, "haproxy")).ipAddresses).toEqual(["192.168.11.153", "127.0.0.1"]);
    expect(certificateNamesOf(plain, hostOf(plain, "servera")).ipAddresses).not.toContain("192.168.11.160");
  });
});
