import { describe, expect, it } from "vitest";
import { renderHaproxyConfig, HaproxyConfigInput, TOLERANT_MS, tolerantFall } from "./haproxyConfig";
import { generateCa, issueCertificate } from "../../providers/openssl";
import { HaproxyStage, stageOf } from "../../tls/stages";
import * as childProcess from "child_process";
import * as net from "net";
import * as tls from "tls";
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
    expect(primary).toContain("bind 0.0.0.0:5000");
    expect(primary).toContain('tcp-check send "OPTIONS /primary HTTP/1.0\\r\\n\\r\\n"');
    expect(replicas).toContain("bind 0.0.0.0:5001");
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
      expect(r.trim()).toBe(
        "tcp-request connection reject unless { src 127.0.0.1 10.213.0.0/24 192.168.5.0/24 } || { src_is_local }",
      );
  });

  it("stats page on 7000 with authentication", () => {
    expect(text).toContain("bind 0.0.0.0:7000");
    expect(text).toContain("stats auth admin:StatsPw");
  });

  it("is accepted by haproxy -c", () => {
    expect(haproxyCheck(text)).toBe("ok");
  });

  it("every port binds every address of the host: a VIP is served wherever it is, and never in haproxy.cfg", () => {
    for (const port of [5000, 5001, 7000]) {
      const binds = text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("bind ") && l.includes(`:${port}`));
      expect(binds).toEqual([`bind 0.0.0.0:${port}`]);
    }
    expect(text).not.toContain("10.213.0.30");
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
    expect(section(at("tls"), "stats").filter((l) => l.startsWith("bind "))).toEqual([
      `bind 0.0.0.0:7000 ssl crt ${pem}`,
    ]);
    expect(section(at("plain"), "stats")).toContain("bind 0.0.0.0:7000");
    expect(section(at("plain"), "stats").join("\n")).not.toContain("ssl");
    // The session ports pass TLS through: no ssl on their binds.
    expect(section(at("tls"), "demo-primary").filter((l) => l.startsWith("bind "))).toEqual(["bind 0.0.0.0:5000"]);
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

/**
 * The rendered checks run by the controller's real HAProxy against loopback
 * servers: a REST API over TLS (a certificate of our CA, the name chosen per
 * case) and a port answering PostgreSQL's SSLRequest. verifyhost is what
 * keeps a member whose certificate names another host out of the pool.
 */
describe("HAProxy's TLS check of the REST API, run by the controller's haproxy", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function serverStatus(presented: "pg01" | "pg02"): Promise<{ status: string; lastCheck: string }> {
    const ca = await generateCa("test CA", 2);
    const issue = (name: string) =>
      issueCertificate(ca, { commonName: name, dnsNames: [name], ipAddresses: ["127.0.0.1"], days: 2 });
    const [rest, client] = await Promise.all([issue(presented), issue("haproxy01")]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-verifyhost-"));
    fs.writeFileSync(path.join(dir, "ca.crt"), ca.certificate);
    fs.writeFileSync(path.join(dir, "haproxy.pem"), client.certificate + client.key, { mode: 0o600 });
    // Patroni's REST API stand-in: TLS, a client certificate required, 200 to any request.
    const api = tls.createServer(
      { key: rest.key, cert: rest.certificate, ca: ca.certificate, requestCert: true, rejectUnauthorized: true },
      (s) => s.once("data", () => s.end("HTTP/1.0 200 OK\r\n\r\n")).on("error", () => undefined),
    );
    // PgBouncer's stand-in: "N" (no TLS) to an SSLRequest.
    const bouncer = net.createServer((s) => s.once("data", () => s.end("N")).on("error", () => undefined));
    const listen = (srv: net.Server) =>
      new Promise<number>((r) => srv.listen(0, "127.0.0.1", () => r((srv.address() as net.AddressInfo).port)));
    const [restPort, bouncerPort] = await Promise.all([listen(api), listen(bouncer)]);
    const socket = path.join(dir, "admin.sock");
    const text = renderHaproxyConfig(
      ctx,
      haproxyInput({
        listenAddress: "127.0.0.2",
        // Listeners on 127.0.0.2 (free by construction: nothing else binds it here).
        primaryPort: 15000,
        replicaPort: 15001,
        statsPort: 17000,
        restApiPort: restPort,
        checkIntervalMs: 200,
        fastCheckIntervalMs: 200,
        fall: 1,
        rise: 1,
        servers: [{ name: "pg01", address: "127.0.0.1", port: bouncerPort }],
        tls: { stage: "tls", paths: { ca: path.join(dir, "ca.crt"), haproxyPem: path.join(dir, "haproxy.pem") } },
      }),
    )
      .replace(/^\s+(user|group|daemon|log \/dev\/log).*$/gm, "")
      .replace(/^\s+stats socket .*$/m, `    stats socket ${socket} mode 600 level admin`)
      // Every address's binds would collide with the controller's own listeners: 127.0.0.2 only.
      .replace(/^(\s+bind )0\.0\.0\.0:/gm, "$1127.0.0.2:");
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), text);
    const haproxy = childProcess.spawn("haproxy", ["-db", "-f", path.join(dir, "haproxy.cfg")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    haproxy.stderr!.on("data", (d) => (stderr += d));
    try {
      const stat = async () => {
        const out = await new Promise<string>((resolve) => {
          const c = net.connect(socket, () => c.end("show stat\n"));
          let data = "";
          c.on("data", (d) => (data += d))
            .on("end", () => resolve(data))
            .on("error", () => resolve(""));
        });
        const lines = out.split("\n");
        const header = (lines[0] ?? "").replace(/^# /, "").split(",");
        const row = lines.map((l) => l.split(",")).find((f) => f[0] === "demo-primary" && f[1] === "pg01");
        return row
          ? { status: row[header.indexOf("status")], lastCheck: row[header.indexOf("last_chk")] }
          : { status: "", lastCheck: "" };
      };
      // Servers start UP until their first check; rise and fall are 1 at 200 ms.
      let s = await stat();
      for (let i = 0; i < 40 && (s.status === "" || s.lastCheck === ""); i++) s = (await sleep(100), await stat());
      await sleep(600);
      const final = await stat();
      if (final.status === "") throw new Error(`haproxy gave no state: ${stderr}`);
      return final;
    } finally {
      haproxy.kill();
      api.close();
      bouncer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("marks a member DOWN when its REST certificate names another host", async () => {
    const s = await serverStatus("pg02");
    expect(s.status).toBe("DOWN");
    expect(s.lastCheck).toMatch(/SSL certificate different from the configured one/);
  });

  it("keeps it UP with a certificate naming it", async () => {
    const s = await serverStatus("pg01");
    expect(s.status).toBe("UP");
  });
});
