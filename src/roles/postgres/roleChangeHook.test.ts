// After a role change PgBouncer must not keep showing clients the old role's
// server parameters (in_hot_standby): Patroni calls a hook that runs
// RECONNECT on PgBouncer's admin console, which its hba admits from the
// postgres OS user on the unix socket only.
import { describe, expect, it } from "vitest";
import { renderRoleChangeHook, PATRONI_ROLE_CHANGE_HOOK } from "./patroniConfig";
import { renderPgbouncerHba } from "../pgbouncer/pgbouncerHba";
import * as childProcess from "child_process";

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
