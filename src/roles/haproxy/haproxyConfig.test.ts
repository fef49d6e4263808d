import { describe, expect, it } from "vitest";
import { renderHaproxyConfig, HaproxyConfigInput } from "./haproxyConfig";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ctx = { stack: "test" };

function haproxyInput(overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return {
    clusterName: "demo",
    listenAddress: "10.213.0.31",
    primaryPort: 5000,
    replicaPort: 5001,
    statsPort: 7000,
    maxConn: 1000,
    restApiPort: 8008,
    replicaMaxLag: "10MB",
    checkIntervalMs: 2000,
    fastCheckIntervalMs: 1000,
    fall: 3,
    rise: 2,
    servers: [
      { name: "pg01", address: "10.213.0.11", port: 6432 },
      { name: "pg02", address: "10.213.0.12", port: 6432 },
      { name: "pg03", address: "10.213.0.13", port: 5432 },
    ],
    statsPassword: "StatsPw",
    allowedSources: ["10.213.0.0/24", "192.168.5.0/24"],
    ...overrides,
  };
}

describe("haproxy.cfg", () => {
  const text = renderHaproxyConfig(ctx, haproxyInput());

  it("routes 5000 to /primary and 5001 to /replica with the lag bound", () => {
    const primary = text.slice(text.indexOf("listen demo-primary"), text.indexOf("listen demo-replicas"));
    const replicas = text.slice(text.indexOf("listen demo-replicas"));
    expect(primary).toContain("bind 10.213.0.31:5000");
    expect(primary).toContain('tcp-check send "OPTIONS /primary HTTP/1.0\\r\\n\\r\\n"');
    expect(replicas).toContain("bind 10.213.0.31:5001");
    expect(replicas).toContain('tcp-check send "OPTIONS /replica?lag=10MB HTTP/1.0\\r\\n\\r\\n"');
    for (const part of [primary, replicas]) {
      expect(part).toContain("server pg01 10.213.0.11:6432 check");
      expect(part).toContain("server pg03 10.213.0.13:5432 check");
      expect(part).toContain("on-marked-down shutdown-sessions");
    }
  });

  it("a server whose PgBouncer does not answer the protocol is down", () => {
    // After the Patroni check, a second connect to the session port must get an answer to SSLRequest.
    const primary = text.slice(text.indexOf("listen demo-primary"), text.indexOf("listen demo-replicas"));
    const checks = primary
      .split("\n")
      .filter((l) => l.includes("tcp-check"))
      .map((l) => l.trim());
    expect(checks).toEqual([
      "option tcp-check",
      "tcp-check connect port 8008",
      'tcp-check send "OPTIONS /primary HTTP/1.0\\r\\n\\r\\n"',
      "tcp-check expect rstring ^HTTP/1\\.[01]\\ 200",
      "tcp-check connect",
      "tcp-check send-binary 0000000804d2162f",
      "tcp-check expect rbinary ^(4[Ee]|53)",
    ]);
  });

  it("admits only the allowed client networks on every port", () => {
    const rejects = text.split("\n").filter((l) => l.includes("tcp-request connection reject"));
    expect(rejects).toHaveLength(3);
    for (const r of rejects)
      expect(r.trim()).toBe("tcp-request connection reject unless { src 127.0.0.1 10.213.0.0/24 192.168.5.0/24 }");
  });

  it("stats page on 7000 with authentication", () => {
    expect(text).toContain("bind 10.213.0.31:7000");
    expect(text).toContain("stats auth admin:StatsPw");
  });

  it("is accepted by haproxy -c, with and without a VIP", () => {
    for (const cfg of [text, renderHaproxyConfig(ctx, haproxyInput({ vip: "10.213.0.30" }))]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-test-"));
      const file = path.join(dir, "haproxy.cfg");
      // Users and sockets of the target host do not exist here; check the proxy sections.
      fs.writeFileSync(file, cfg.replace(/^\s+(user|group|stats socket|daemon).*$/gm, ""));
      const result = childProcess.spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
      fs.rmSync(dir, { recursive: true, force: true });
      expect(result.error, "haproxy must be installed on the controller (apt-get install haproxy)").toBeUndefined();
      expect(result.status, result.stdout + result.stderr).toBe(0);
    }
  });

  it("with a VIP, every port binds it transparently (this host may not hold it), and the host address and loopback", () => {
    const withVip = renderHaproxyConfig(ctx, haproxyInput({ vip: "10.213.0.30" }));
    for (const port of [5000, 5001, 7000]) {
      const binds = withVip
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("bind ") && l.includes(`:${port}`));
      expect(binds).toEqual([
        `bind 10.213.0.30:${port} transparent`,
        `bind 10.213.0.31:${port}`,
        `bind 127.0.0.1:${port}`,
      ]);
    }
    expect(text).not.toContain("transparent");
  });

  it("answers /primary-up without authentication: 503 when no primary is up (keepalived's check)", () => {
    const stats = text.slice(text.indexOf("listen stats"), text.indexOf("listen demo-primary"));
    expect(stats).toContain("monitor-uri /primary-up");
    expect(stats).toContain("monitor fail if { nbsrv(demo-primary) lt 1 }");
    expect(stats.indexOf("monitor-uri")).toBeLessThan(stats.indexOf("stats auth"));
  });
});
