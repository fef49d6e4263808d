// ShellCommand's runner, for real on the controller (no SSH server needed),
// and its SSH path against a loopback port where nothing listens.
import { describe, expect, it } from "vitest";
import { fingerprintOf, shellCommandProvider } from "./shellCommand";
import { failWith, runScript } from "./remoteScript";
import { projectDirectory } from "./spawn";
import { redactSecrets } from "./redaction";
import * as fs from "fs";
import * as os from "os";

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
    const r = await runScript(
      { ...base, connection: { host: "127.0.0.1", port: 1, privateKey: "not-a-key" } },
      "true",
      undefined,
      2,
    );
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
  it("name the step, host and exit code, and mask exactly the secrets the step received", async () => {
    // No digit: a pattern for "password-like" tokens missed this one.
    const password = "OnlyLettersNoDigitsHere";
    const stdin = `password: ${password}\nport: 5432\n`;
    const s = { ...base, stdin, mask: [password] };
    const r = await runScript(
      s,
      'echo "bad line: $(head -1)"; echo "encoded: OnlyLettersNoDigitsHere"; exit 3',
      stdin,
      1,
    );
    expect(r.code).toBe(3);
    expect(() => failWith(s, "create", r)).toThrow(
      /test step: create script failed on the controller with exit code 3/,
    );
    const message = (() => {
      try {
        failWith(s, "create", r);
      } catch (e) {
        return String(e);
      }
    })();
    expect(message).toContain("bad line: password: [secret]");
    expect(message).not.toContain(password);
  });

  it("mask the encodings secrets take in files and URIs", () => {
    expect(redactSecrets("uri postgresql://u:a%2Fb%40c@h and pgpass h:1:*:u:a\\:b", ["a/b@c", "a:b"])).toBe(
      "uri postgresql://u:[secret]@h and pgpass h:1:*:u:[secret]",
    );
  });
});

describe("controller-side scripts", () => {
  it("run in the project directory, where their relative script paths resolve", async () => {
    const r = await runScript(base, "pwd; test -x src/local/machines/machine.sh", undefined, 1);
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
    const d = await shellCommandProvider.diff!("id", olds, {
      ...state,
      connection: { ...conn, port: 2222, user: "admin" },
    });
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
    await expect(shellCommandProvider.update!("id", olds, { ...state, create: "echo changed" })).rejects.toThrow(
      /exit code 255/,
    );
  });
});

describe("a disruptive update (runOnlyOnTriggers)", () => {
  // Nothing listens on 127.0.0.1:1: running the step would fail with 255.
  const conn = { host: "127.0.0.1", port: 1, user: "root", privateKey: "KEY-A", hostKey: "ssh-ed25519 AAAA" };
  const state = {
    ...base,
    create: "true",
    update: "systemctl restart etcd",
    triggers: ["v1"],
    runOnlyOnTriggers: true,
  };
  const olds = { ...state, connection: conn, connectAttempts: 1, fingerprint: fingerprintOf(state), stdout: "" };

  it("stores a new version of its script without running it", async () => {
    const news = { ...olds, update: "# a new version\nsystemctl restart etcd" };
    expect((await shellCommandProvider.diff!("id", olds, news)).changes).toBe(true);
    const r = await shellCommandProvider.update!("id", olds, news);
    expect(r.outs.update).toContain("a new version");
    expect((await shellCommandProvider.diff!("id", r.outs, news)).changes).toBe(false);
  });

  it("runs when its triggers change", async () => {
    const news = { ...olds, triggers: ["v2"] };
    expect((await shellCommandProvider.diff!("id", olds, news)).changes).toBe(true);
    await expect(shellCommandProvider.update!("id", olds, news)).rejects.toThrow(/exit code 255/);
  });
});

describe("bounded steps", () => {
  it("a script that outlives its timeout is stopped and fails with its last output", async () => {
    const started = Date.now();
    const r = await runScript({ ...base, timeoutSeconds: 1 }, "echo working; sleep 30; echo never", undefined, 1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(124);
    expect(r.output).toContain("working");
    expect(r.output).toContain("[timed out after 1 s]");
    expect(r.output).not.toContain("never");
  });
});
