// The etcd-leader-away check run against a stand-in etcdctl that answers as
// the local stand's etcd does (same `endpoint status` format, etcd 3.5).
import { describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderEtcdLeaderAway, renderEtcdLeaderAwayUnit } from "./etcdLeaderAway";
import { renderRoleChangeHook } from "./patroniConfig";

const ENDPOINTS = ["http://10.0.0.11:2379", "http://10.0.0.12:2379", "http://10.0.0.13:2379"];
const script = renderEtcdLeaderAway(
  { stack: "t" },
  { member: "pg01", leaderKey: "/service/demo/leader", endpoints: ENDPOINTS, ownEndpoint: ENDPOINTS[0] },
);

/**
 * Runs the check once with etcdctl answering: Patroni's leader, the etcd
 * leader's endpoint; returns the calls (and, in `seen`, the certificate
 * variables each call had).
 */
function runOnce(
  patroniLeader: string,
  etcdLeader: string,
  away = script,
  endpoints = ENDPOINTS,
  seen: string[] = [],
): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "away-"));
  const ids = ["12bc743f2b2ea684", "437f349e30e2b826", "67eb6e4e627ac0ea"];
  const status = endpoints
    .map((e, i) => `${e}, ${ids[i]}, 3.5.16, 49 kB, ${e === etcdLeader}, false, 2, 85, 85, `)
    .join("\n");
  fs.writeFileSync(
    path.join(dir, "etcdctl"),
    [
      "#!/bin/bash",
      `echo "$*" >> ${dir}/calls`,
      `echo "\${ETCDCTL_CACERT:-} \${ETCDCTL_CERT:-} \${ETCDCTL_KEY:-}" >> ${dir}/env`,
      'case "$*" in',
      `  *" get "*) echo ${patroniLeader} ;;`,
      `  *"endpoint status"*) printf '%s\\n' '${status.split("\n").join("' '")}' ;;`,
      "esac",
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(dir, "logger"), "#!/bin/sh\n", { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "away"), away, { mode: 0o755 });
  const run = childProcess.spawnSync("bash", [path.join(dir, "away"), "--once"], {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    encoding: "utf8",
  });
  expect(run.status).toBe(0);
  const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8") : "";
  if (fs.existsSync(path.join(dir, "env")))
    seen.push(...fs.readFileSync(path.join(dir, "env"), "utf8").trim().split("\n"));
  fs.rmSync(dir, { recursive: true });
  return calls.trim().split("\n").filter(Boolean);
}

describe("keeping the etcd leader off Patroni's leader", () => {
  it("with TLS, every etcdctl call shows this host's certificate (etcd refuses a client without one)", () => {
    const tlsEndpoints = ENDPOINTS.map((e) => e.replace("http:", "https:"));
    const tls = { ca: "/tls/ca.crt", cert: "/tls/host.crt", key: "/tls/host.key" };
    const away = renderEtcdLeaderAway(
      { stack: "t" },
      { member: "pg01", leaderKey: "/service/demo/leader", endpoints: tlsEndpoints, ownEndpoint: tlsEndpoints[0], tls },
    );
    const seen: string[] = [];
    const calls = runOnce("pg01", tlsEndpoints[0], away, tlsEndpoints, seen);
    expect(calls.at(-1)).toBe(`--endpoints=${tlsEndpoints[0]} --command-timeout=5s move-leader 437f349e30e2b826`);
    expect(seen).toEqual(calls.map(() => "/tls/ca.crt /tls/host.crt /tls/host.key"));
    // Without TLS, none of them.
    const plain: string[] = [];
    runOnce("pg01", ENDPOINTS[0], script, ENDPOINTS, plain);
    expect(plain.every((l) => l.trim() === "")).toBe(true);
  });

  it("moves the etcd leadership to a follower when both leaders are on this host", () => {
    const calls = runOnce("pg01", ENDPOINTS[0]);
    expect(calls.at(-1)).toBe(`--endpoints=${ENDPOINTS[0]} --command-timeout=5s move-leader 437f349e30e2b826`);
  });

  it("does nothing when the etcd leader is elsewhere, or when this host's Patroni does not lead", () => {
    expect(runOnce("pg01", ENDPOINTS[1]).some((c) => c.includes("move-leader"))).toBe(false);
    const notLeading = runOnce("pg02", ENDPOINTS[0]);
    expect(notLeading).toHaveLength(1);
    expect(notLeading[0]).toContain("get --print-value-only /service/demo/leader");
  });

  it("is a service run as postgres, restarted if it ends; the hook runs one check after a promotion", () => {
    const unit = renderEtcdLeaderAwayUnit({ stack: "t" });
    expect(unit).toContain("User=postgres");
    expect(unit).toContain("Restart=always");
    const hook = renderRoleChangeHook({ stack: "t" }, undefined, "/usr/local/lib/pulumi-patroni/etcd-leader-away");
    expect(hook).toContain('case "$2" in primary|master) /usr/local/lib/pulumi-patroni/etcd-leader-away --once');
    expect(childProcess.spawnSync("sh", ["-n"], { input: hook }).status).toBe(0);
    expect(renderRoleChangeHook({ stack: "t" })).not.toContain("etcd-leader-away");
  });
});
