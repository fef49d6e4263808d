import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { generateCa, issueCertificate } from "../../providers/openssl";
import { parseStackConfig } from "../../stack/stackConfig";
import { seed000 } from "../../../test/fixtures/topologies";
import { renderKeepalivedConfig } from "./keepalivedConfig";
import { keepalivedConfigInput, keepalivedScript } from "./keepalivedNode";
import { entryAddresses, virtualRouterId, vrrpOrder, vrrpPriority } from "./slice";

const ctx = { stack: "test" };
const twoProxies = {
  ...seed000,
  hosts: [...seed000.hosts, { name: "haproxy2", address: "192.168.11.154", roles: ["haproxy"] }],
  haproxy: { vip: { address: "192.168.11.30" } },
};
const parse = (raw: object) => parseStackConfig(JSON.parse(JSON.stringify(raw)), () => false);

/** keepalived.conf's blocks as nested maps of their lines, enough to check what matters. */
function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

describe("keepalived.conf", () => {
  const c = parse(twoProxies);
  const host = c.hosts.find((h) => h.name === "haproxy")!;
  const text = renderKeepalivedConfig(ctx, keepalivedConfigInput(c, c.haproxy.vip!, host, "eth0", "VrrpSecret123456"));
  const l = lines(text);

  it("every host starts as BACKUP with nopreempt: a returning host never takes the VIP back", () => {
    expect(l).toContain("state BACKUP");
    expect(l).toContain("nopreempt");
    expect(l).not.toContain("state MASTER");
  });

  it("unicast adverts from this host's address to every other HAProxy host, each in a file of its own", () => {
    expect(l).toContain("unicast_src_ip 192.168.11.153");
    const peers = text.slice(text.indexOf("unicast_peer {"));
    expect(lines(peers.slice(0, peers.indexOf("}")))).toEqual([
      "unicast_peer {",
      "include /etc/keepalived/unicast-peers/*.conf",
    ]);
  });

  it("the VIP with its prefix on the interface, under the VIP's last octet as virtual router id", () => {
    expect(l).toContain("192.168.11.30/32 dev eth0");
    expect(l).toContain("interface eth0");
    expect(l).toContain("virtual_router_id 30");
  });

  it("the check asks this HAProxy's /primary-up and the peers'; two failures in a row move the VIP", () => {
    expect(l).toContain(
      'script "/usr/local/lib/pulumi-patroni/keepalived-check 7000 /primary-up /etc/pulumi-patroni/tls/ca.crt 192.168.11.154"',
    );
    expect(l).toEqual(
      expect.arrayContaining(["interval 1", "fall 2", "rise 2", "track_script {", "haproxy_serves_primary"]),
    );
    expect(l).toContain("script_user nobody nogroup");
    expect(l).toContain("enable_script_security");
  });

  it("leaving MASTER (backup, fault, stop), the host closes the sessions clients opened through the VIP", () => {
    for (const n of ["notify_backup", "notify_fault", "notify_stop"])
      expect(l).toContain(`${n} "/usr/local/lib/pulumi-patroni/keepalived-release 192.168.11.30" root root`);
  });

  it("PASS authentication with the password's first 8 characters (what VRRPv2 carries)", () => {
    expect(l).toContain("auth_pass VrrpSecr");
    expect(text).not.toContain("VrrpSecret123456");
  });

  it("multicast when unicast is off; no peer block for a lone HAProxy host", () => {
    const multicast = parse({ ...twoProxies, haproxy: { vip: { address: "192.168.11.30", unicast: false } } });
    const m = renderKeepalivedConfig(
      ctx,
      keepalivedConfigInput(multicast, multicast.haproxy.vip!, host, "eth0", "x".repeat(12)),
    );
    expect(m).not.toContain("unicast");
    const alone = parse({ ...seed000, haproxy: { vip: { address: "192.168.11.30" } } });
    const a = renderKeepalivedConfig(
      ctx,
      keepalivedConfigInput(alone, alone.haproxy.vip!, host, "eth0", "x".repeat(12)),
    );
    expect(a).not.toContain("unicast_peer");
    expect(a).toContain('keepalived-check 7000 /primary-up /etc/pulumi-patroni/tls/ca.crt"');
  });
});

describe("VRRP priorities and ids", () => {
  it("hosts order, or priorityOrder first; 50 apart so two backups never take over in the same instant", () => {
    const c = parse(twoProxies);
    expect(vrrpOrder(c)).toEqual(["haproxy", "haproxy2"]);
    const reordered = parse({
      ...twoProxies,
      haproxy: { vip: { address: "192.168.11.30", priorityOrder: ["haproxy2"] } },
    });
    expect(vrrpOrder(reordered)).toEqual(["haproxy2", "haproxy"]);
    expect([0, 1, 2].map((i) => vrrpPriority(i, 3))).toEqual([250, 200, 150]);
    // Many hosts: still 1..254 and strictly decreasing.
    const many = Array.from({ length: 12 }, (_, i) => vrrpPriority(i, 12));
    expect(Math.min(...many)).toBeGreaterThan(0);
    expect(new Set(many).size).toBe(12);
  });

  it("virtual router id: configured, else the VIP's last octet", () => {
    expect(virtualRouterId({ address: "10.0.0.77", prefix: 32, priorityOrder: [], unicast: true })).toBe(77);
    expect(virtualRouterId({ address: "10.0.0.0", prefix: 32, priorityOrder: [], unicast: true })).toBe(255);
    expect(
      virtualRouterId({ address: "10.0.0.77", prefix: 32, priorityOrder: [], unicast: true, virtualRouterId: 9 }),
    ).toBe(9);
  });
});

describe("the entry's addresses (for certificates that clients verify through HAProxy)", () => {
  it("every HAProxy host's address and name, and the VIP", () => {
    expect(entryAddresses(parse(twoProxies))).toEqual([
      "192.168.11.153",
      "haproxy",
      "192.168.11.154",
      "haproxy2",
      "192.168.11.30",
    ]);
    expect(entryAddresses(parse(seed000))).toEqual(["192.168.11.153", "haproxy"]);
  });
});

describe("the VRRP check script", () => {
  it("carries the managed-file line after its shebang", () => {
    const s = keepalivedScript(ctx, "keepalived-check").split("\n");
    expect(s[0]).toBe("#!/bin/sh");
    expect(s[1]).toContain("Managed by pulumi-patroni (stack test)");
  });
});

/**
 * The check against stand-ins for HAProxy's stats port: this host's on
 * 127.0.0.1, a peer's on 127.0.0.2, each answering /primary-up with a
 * status the test sets, over http (a stack without TLS, or before the TLS
 * migration reaches HAProxy) or https with a certificate of a test CA.
 */
describe("the VRRP check script, run", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepalived-check-"));
  const check = path.join(dir, "check");
  const caFile = path.join(dir, "ca.crt");
  const servers: net.Server[] = [];
  let port = 0;
  const status: Record<string, number> = {};
  let tls: { cert: string; key: string };

  const serve = (host: string, secure: boolean) =>
    new Promise<void>((resolve) => {
      const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(req.url === "/primary-up" ? status[host] : 404);
        res.end();
      };
      const server = secure ? https.createServer(tls, answer) : http.createServer(answer);
      servers.push(server);
      server.listen(port, host, () => {
        port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stopAll = async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    servers.length = 0;
  };
  /** The check's exit code with this host answering `own` and the peer `peer` (0: no peer listed). */
  const run = (own: number, peer: number, ca = caFile) => {
    status["127.0.0.1"] = own;
    status["127.0.0.2"] = peer;
    const args = [check, String(port), "/primary-up", ca, ...(peer ? ["127.0.0.2"] : [])];
    return new Promise<number>((resolve) =>
      childProcess.execFile("sh", args, { timeout: 10_000 }, (err) => resolve(err ? Number(err.code ?? -1) : 0)),
    );
  };

  beforeAll(async () => {
    fs.writeFileSync(check, keepalivedScript(ctx, "keepalived-check"), { mode: 0o755 });
    const ca = await generateCa("check test CA", 1);
    const leaf = await issueCertificate(ca, {
      commonName: "haproxy",
      dnsNames: ["haproxy"],
      ipAddresses: ["127.0.0.1", "127.0.0.2"],
      days: 1,
    });
    fs.writeFileSync(caFile, ca.certificate);
    tls = { cert: leaf.certificate, key: leaf.key };
  });
  afterAll(async () => {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const secure of [false, true])
    it(`over ${secure ? "https (TLS)" : "http (no TLS yet)"}: ok while this HAProxy sees a primary; fail when only a peer does`, async () => {
      port = 0;
      await serve("127.0.0.1", secure);
      await serve("127.0.0.2", secure);
      expect(await run(200, 0)).toBe(0);
      expect(await run(503, 0)).toBe(0);
      expect(await run(503, 503)).toBe(0);
      expect(await run(503, 200)).toBe(1);
      expect(await run(200, 200)).toBe(0);
      if (secure) {
        // A page whose certificate the CA file does not vouch for is no answer.
        expect(await run(200, 0, path.join(dir, "absent.crt"))).toBe(1);
      }
      await stopAll();
      // Nobody answers: fail.
      expect(await run(200, 0)).toBe(1);
    });
});
