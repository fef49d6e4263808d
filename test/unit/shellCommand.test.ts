// ShellCommand's runner, for real on the controller (no SSH server needed),
// and its SSH path against a loopback port where nothing listens.
import { describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import { failWith, fingerprintOf, projectDirectory, runScript, shellCommandProvider } from "../../src/providers/shellCommand";

const base = { description: "test step", create: "true" };

describe("runScript on the controller", () => {
  it("runs bash with stdin, strict mode and separate stdout", async () => {
    const r = await runScript(base, 'read -r line; echo "got $line"; echo oops >&2', "hello\n", 1);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("got hello\n");
    expect(r.output).toContain("oops");
  });

  it("fails on the first failing command (set -euo pipefail)", async () => {
    const r = await runScript(base, "false | true\necho unreachable", undefined, 1);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("unreachable");
  });
});

describe("runScript over SSH", () => {
  it("reports ssh's own failure (255), retries, and removes the temporary key", async () => {
    const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("pulumi-patroni-ssh-")).length;
    const started = Date.now();
    const r = await runScript({ ...base, connection: { host: "127.0.0.1", port: 1, privateKey: "not-a-key" } }, "true", undefined, 2);
    expect(r.code).toBe(255);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000); // one retry, 3 s apart
    const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("pulumi-patroni-ssh-")).length;
    expect(after).toBe(before);
  });
});

describe("fingerprintOf", () => {
  it("changes with the script, stdin or triggers, and only with them", () => {
    const a = fingerprintOf({ ...base, stdin: "x", triggers: [1] });
    expect(fingerprintOf({ ...base, stdin: "x", triggers: [1] })).toBe(a);
    expect(fingerprintOf({ ...base, description: "renamed", stdin: "x", triggers: [1] })).toBe(a);
    expect(fingerprintOf({ ...base, stdin: "y", triggers: [1] })).not.toBe(a);
    expect(fingerprintOf({ ...base, stdin: "x", triggers: [2] })).not.toBe(a);
    expect(fingerprintOf({ ...base, create: "false", stdin: "x", triggers: [1] })).not.toBe(a);
  });
});

describe("failure messages", () => {
  it("name the step, host and exit code, and mask passwords that came on stdin", async () => {
    const stdin = "password: Abc123def456ghi789\nport: 5432\n";
    const r = await runScript({ ...base, stdin }, 'echo "bad line: $(head -1)"; exit 3', stdin, 1);
    expect(r.code).toBe(3);
    expect(() => failWith({ ...base, stdin }, "create", r)).toThrow(/test step: create script failed on the controller with exit code 3/);
    try {
      failWith({ ...base, stdin }, "create", r);
    } catch (e) {
      expect(String(e)).toContain("bad line: password: [secret]");
      expect(String(e)).not.toContain("Abc123def456ghi789");
    }
  });
});

describe("controller-side scripts", () => {
  it("run in the project directory, where their relative script paths resolve", async () => {
    const r = await runScript(base, "pwd; test -x scripts/local/machine.sh", undefined, 1);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(projectDirectory());
    expect(projectDirectory(`${projectDirectory()}/src/providers`)).toBe(projectDirectory());
  });
});

describe("a changed connection", () => {
  // Nothing listens on 127.0.0.1:1: any attempt to run over SSH fails with 255.
  const conn = { host: "127.0.0.1", port: 1, user: "root", privateKey: "KEY-A", hostKey: "ssh-ed25519 AAAA" };
  const state = { ...base, create: "echo hi", connection: conn, connectAttempts: 1 };
  const olds = { ...state, fingerprint: fingerprintOf(state), stdout: "kept" };

  it("is an in-place update, never a replacement", async () => {
    const d = await shellCommandProvider.diff!("id", olds, { ...state, connection: { ...conn, port: 2222, user: "admin" } });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect((await shellCommandProvider.diff!("id", olds, state)).changes).toBe(false);
  });

  it("updates the stored connection without running the step", async () => {
    const news = { ...state, connection: { ...conn, port: 2222, privateKey: "KEY-B" } };
    const r = await shellCommandProvider.update!("id", olds, news);
    expect(r.outs.connection.port).toBe(2222);
    expect(r.outs.stdout).toBe("kept");
  });

  it("runs the step again for a new host key (a new machine) or a changed script", async () => {
    await expect(
      shellCommandProvider.update!("id", olds, { ...state, connection: { ...conn, hostKey: "ssh-ed25519 BBBB" } }),
    ).rejects.toThrow(/exit code 255/);
    await expect(shellCommandProvider.update!("id", olds, { ...state, create: "echo changed" })).rejects.toThrow(/exit code 255/);
  });
});
