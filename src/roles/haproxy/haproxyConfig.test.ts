import { describe, expect, it } from "vitest";
import { renderHaproxyConfig, HaproxyConfigInput, TOLERANT_MS, tolerantFall } from "./haproxyConfig";
import { generateCa, issueCertificate } from "../../providers/openssl";
import { HaproxyStage, stageOf } from "../../tls/stages";
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
    tls: {
      stage: "plain",
      paths: { ca: "/etc/pulumi-patroni/tls/ca.crt", haproxyPem: "/etc/pulumi-patroni/tls/haproxy.pem" },
    },
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
      expect(haproxyCheck(cfg)).toBe("ok");
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

/** haproxy -c of `text` as the controller's haproxy sees it; `files` are written to its directory first. */
function haproxyCheck(text: string, files: (dir: string) => void = () => undefined): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-test-"));
  try {
    files(dir);
    const file = path.join(dir, "haproxy.cfg");
    // Users and sockets of the target host do not exist here; check the proxy sections.
    fs.writeFileSync(file, text.replace(/^\s+(user|group|stats socket|daemon).*$/gm, ""));
    const result = childProcess.spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
    expect(result.error, "haproxy must be installed on the controller (apt-get install haproxy)").toBeUndefined();
    return result.status === 0 ? "ok" : result.stdout + result.stderr;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("haproxy.cfg with TLS", () => {
  const at = (stage: HaproxyStage, dir = "/etc/pulumi-patroni/tls") =>
    renderHaproxyConfig(
      ctx,
      haproxyInput({ tls: { stage, paths: { ca: `${dir}/ca.crt`, haproxyPem: `${dir}/haproxy.pem` } } }),
    );
  const section = (text: string, name: string) =>
    text
      .slice(text.indexOf(`listen ${name}`))
      .split("\n\n")[0]
      .split("\n")
      .map((l) => l.trim());

  it("checks Patroni over TLS: the CA, this host's certificate, the server's name (verifyhost); sessions pass through", () => {
    const text = at("tls");
    expect(stageOf(text)).toBe("tls");
    const primary = section(text, "demo-primary");
    expect(primary).toContain(
      "default-server inter 2000ms fastinter 1000ms fall 3 rise 2 on-marked-down shutdown-sessions ca-file /etc/pulumi-patroni/tls/ca.crt crt /etc/pulumi-patroni/tls/haproxy.pem verify required",
    );
    expect(primary).toContain("tcp-check connect port 8008 ssl");
    // The PgBouncer probe stays a plain SSLRequest: PgBouncer answers S.
    expect(primary.filter((l) => l.startsWith("tcp-check connect"))).toEqual([
      "tcp-check connect port 8008 ssl",
      "tcp-check connect",
    ]);
    expect(primary).toContain("server pg01 10.213.0.11:6432 check verifyhost pg01");
    expect(primary).toContain("server pg03 10.213.0.13:5432 check verifyhost pg03");
    // Never a check that accepts any certificate.
    expect(text).not.toContain("verify none");
  });

  it("serves the stats page over https with the host's certificate, on every address it binds", () => {
    const pem = "/etc/pulumi-patroni/tls/haproxy.pem";
    expect(section(at("tls"), "stats")).toContain(`bind 10.213.0.31:7000 ssl crt ${pem}`);
    expect(section(at("tls"), "stats")).toContain(`bind 127.0.0.1:7000 ssl crt ${pem}`);
    expect(section(at("plain"), "stats")).toContain("bind 10.213.0.31:7000");
    expect(section(at("plain"), "stats").join("\n")).not.toContain("ssl");
    const withVip = renderHaproxyConfig(
      ctx,
      haproxyInput({ vip: "10.213.0.30", tls: { stage: "tls", paths: { ca: "/ca.crt", haproxyPem: pem } } }),
    );
    expect(section(withVip, "stats").filter((l) => l.startsWith("bind "))).toEqual([
      `bind 10.213.0.30:7000 transparent ssl crt ${pem}`,
      `bind 10.213.0.31:7000 ssl crt ${pem}`,
      `bind 127.0.0.1:7000 ssl crt ${pem}`,
    ]);
    // The session ports pass TLS through: no ssl on their binds.
    expect(section(withVip, "demo-primary").filter((l) => l.startsWith("bind "))).toEqual([
      "bind 10.213.0.30:5000 transparent",
      "bind 10.213.0.31:5000",
      "bind 127.0.0.1:5000",
    ]);
  });

  it("tolerant (migration): the plain checks with a larger fall, TOLERANT_MS at fastinter", () => {
    const primary = section(at("tolerant"), "demo-primary");
    expect(primary).toContain(
      `default-server inter 2000ms fastinter 1000ms fall ${TOLERANT_MS / 1000} rise 2 on-marked-down shutdown-sessions`,
    );
    // main's defaults check faster: as many seconds take more checks.
    expect(tolerantFall({ fall: 2, fastCheckIntervalMs: 250 })).toBe(TOLERANT_MS / 250);
    expect(primary).toContain("tcp-check connect port 8008");
  });

  it("is accepted by haproxy -c with real certificate files (and refused without them)", async () => {
    const ca = await generateCa("test CA", 30);
    const leaf = await issueCertificate(ca, {
      commonName: "haproxy01",
      dnsNames: ["haproxy01"],
      ipAddresses: ["10.213.0.31"],
      days: 10,
    });
    const withFiles = (dir: string) => {
      fs.writeFileSync(path.join(dir, "ca.crt"), ca.certificate);
      fs.writeFileSync(path.join(dir, "haproxy.pem"), leaf.certificate + leaf.key, { mode: 0o600 });
    };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-tls-"));
    try {
      const text = at("tls", tmp);
      expect(haproxyCheck(text, () => withFiles(tmp))).toBe("ok");
      fs.rmSync(path.join(tmp, "haproxy.pem"));
      expect(haproxyCheck(text)).toMatch(/haproxy\.pem/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
