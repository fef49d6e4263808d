// After a role change PgBouncer must not keep showing clients the old role's
// server parameters (in_hot_standby): Patroni calls a hook that runs
// RECONNECT on PgBouncer's admin console, which its hba admits from the
// postgres OS user on the unix socket only.
import { describe, expect, it } from "vitest";
import { renderRoleChangeHook, PATRONI_ROLE_CHANGE_HOOK } from "./patroniConfig";
import { renderPgbouncerHba } from "../pgbouncer/pgbouncerHba";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

describe("Patroni's role-change hook", () => {
  const hook = renderRoleChangeHook({ stack: "local" });

  it("is a POSIX shell script that sends RECONNECT to the local PgBouncer and never fails Patroni's callback", () => {
    expect(hook.startsWith("#!/bin/sh\n# Managed by pulumi-patroni")).toBe(true);
    expect(hook).toContain("-d pgbouncer -c RECONNECT");
    expect(hook).toMatch(/PGCONNECT_TIMEOUT=5 timeout 10 psql /);
    expect(hook.trimEnd().endsWith("exit 0")).toBe(true);
    expect(childProcess.spawnSync("sh", ["-n"], { input: hook }).status).toBe(0);
    expect(PATRONI_ROLE_CHANGE_HOOK).toBe("/etc/patroni/on-role-change");
  });

  it("on a promotion waits (bounded) until PostgreSQL left recovery, then RECONNECTs: no login caches the standby's parameters", () => {
    const withPort = renderRoleChangeHook({ stack: "local" }, undefined, undefined, 5433);
    const wait = withPort.indexOf("SELECT pg_is_in_recovery()");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThan(withPort.indexOf("-c RECONNECT"));
    expect(withPort).toContain("-p 5433 -d postgres");
    expect(withPort).toMatch(/case "\$2" in primary\|master\)\n {2}end=\$\(\(\$\(date \+%s\) \+ 30\)\)\n/);
    expect(withPort).toContain('[ "$(date +%s)" -lt "$end" ]');
    // Run it as Patroni would, with psql answering "in recovery" twice, then not: it waits, then RECONNECTs once.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "hook-"));
    const calls = path.join(bin, "calls");
    fs.writeFileSync(
      path.join(bin, "psql"),
      `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *pg_is_in_recovery*) [ "$(grep -c recovery ${calls})" -ge 3 ] && echo f || echo t ;; esac\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(bin, "pgbouncer.ini"), "listen_port = 6432\n");
    const script = withPort.replace("/etc/pgbouncer/pgbouncer.ini", path.join(bin, "pgbouncer.ini"));
    const r = childProcess.spawnSync("sh", ["-s", "on_role_change", "primary", "c"], {
      input: script,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(calls, "utf8").trim().split("\n");
    expect(lines.filter((l) => l.includes("pg_is_in_recovery")).length).toBe(3);
    expect(lines[lines.length - 1]).toContain("-c RECONNECT");
    fs.rmSync(bin, { recursive: true });
  });

  it("reaches the admin console by peer on the unix socket, the first hba line", () => {
    const hba = renderPgbouncerHba(
      { stack: "local" },
      { authType: "scram-sha-256", superuser: "postgres", clusterAddresses: [], adminNetworks: [], tlsOnly: true },
    );
    const rules = hba.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(rules[0]).toBe("local pgbouncer postgres peer");
    expect(rules.filter((l) => l.startsWith("local"))).toEqual(["local pgbouncer postgres peer"]);
  });
});
