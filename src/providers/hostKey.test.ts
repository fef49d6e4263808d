// Trust on first use: fingerprints as OpenSSH prints them, and the refusal
// of a key that differs from the recorded one.
import { describe, expect, it } from "vitest";
import { fingerprint, hostKeyMismatch, hostKeyProvider } from "./hostKey";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

function newKey(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostkey-test-"));
  childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
  const line = fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  const printed = childProcess
    .execFileSync("ssh-keygen", ["-lf", path.join(dir, "k.pub")], { encoding: "utf8" })
    .split(" ")[1];
  fs.rmSync(dir, { recursive: true, force: true });
  return `${line} ${printed}`;
}

describe("host keys", () => {
  const [a, b] = [newKey(), newKey()].map((k) => ({
    line: k.split(" ").slice(0, 2).join(" "),
    printed: k.split(" ")[2],
  }));
  const host = { hostName: "pg01", address: "10.0.0.11", port: 22 };

  it("fingerprints like ssh-keygen -l", () => {
    expect(fingerprint(a.line)).toBe(a.printed);
  });

  it("accept the recorded key, and a host that does not answer (its steps fail on their own)", () => {
    expect(hostKeyMismatch(host, a.line, [b.line, a.line])).toBeUndefined();
    expect(hostKeyMismatch(host, a.line, [])).toBeUndefined();
  });

  it("refuse another key, naming the host, both fingerprints and how to accept it", () => {
    const problem = hostKeyMismatch(host, a.line, [b.line])!;
    expect(problem).toContain("host pg01 (10.0.0.11:22)");
    expect(problem).toContain(`presents ${b.printed}`);
    expect(problem).toContain(`recorded ${a.printed}`);
    expect(problem).toContain(`pulumi config set --path 'ssh.hostKeys.pg01' '${b.line}'`);
  });

  it("pinning the key the stack recorded changes nothing; pinning another key replaces it", async () => {
    const olds = { ...host, key: a.line };
    // Pinned: the host is not asked (no ssh-keyscan), so these run offline.
    expect(await hostKeyProvider.diff!("id", olds, { ...host, pinned: a.line })).toEqual({ changes: false });
    expect(await hostKeyProvider.diff!("id", olds, { ...host, pinned: b.line })).toEqual({ changes: true });
    expect(await hostKeyProvider.diff!("id", olds, { ...host, port: 2222, pinned: a.line })).toEqual({ changes: true });
    expect(await hostKeyProvider.update!("id", olds, { ...host, pinned: b.line })).toEqual({
      outs: { ...host, pinned: b.line, key: b.line },
    });
  });
});
