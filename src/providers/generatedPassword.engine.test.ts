// GeneratedPassword through the real engine: a tiny program is brought up,
// updated with nothing changed, then destroyed on a throwaway file backend.
import { afterAll, describe, expect, it } from "vitest";
import { pulumi, REPO } from "../../test/helpers/pulumiCli";
import { randomAlphanumeric } from "./generatedPassword";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const program = path.join(REPO, "test", "fixtures", "secret-program");
const backend = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-engine-"));
const env = { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "engine-test" };
const run = (...args: string[]) => pulumi([...args, "--stack", "engine", "--non-interactive"], { cwd: program, env });

afterAll(() => {
  fs.rmSync(backend, { recursive: true, force: true });
  fs.rmSync(path.join(program, "Pulumi.engine.yaml"), { force: true });
});

describe("randomAlphanumeric", () => {
  it("has the requested length, only letters and digits, and differs each time", () => {
    const a = randomAlphanumeric(40);
    expect(a).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(randomAlphanumeric(40)).not.toBe(a);
  });
});

describe("GeneratedPassword through the engine", () => {
  it("is created once, kept as a secret, stable across updates, replaced when its length changes, destroyed", async () => {
    await pulumi(["stack", "init", "engine", "--non-interactive"], { cwd: program, env });
    await run("up", "--yes", "--skip-preview");
    const first = JSON.parse((await run("stack", "output", "--json", "--show-secrets")).stdout);
    expect(first.secret).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(first.secretLength).toBe(24);

    // Secret in the outputs and encrypted in the state file.
    expect(JSON.parse((await run("stack", "output", "--json")).stdout).secret).toBe("[secret]");
    const state = (await run("stack", "export")).stdout;
    expect(state).not.toContain(first.secret);
    expect(state).toContain("ciphertext");
    // The state stores a loader of the provider, not its code (storedProvider.ts), and the
    // create, update, replace and delete below all run through it.
    const stored = JSON.parse(state).deployment.resources.find((r: { type: string }) =>
      r.type.endsWith("GeneratedPassword"),
    );
    expect(stored.inputs.__provider.length).toBeLessThan(4000);
    expect(stored.inputs.__provider).toContain("generatedPasswordProvider");
    expect(stored.inputs.__provider).not.toContain("randomBytes");

    // Nothing changed: no changes, same password.
    const preview = await run("preview", "--diff", "--expect-no-changes");
    expect(preview.code).toBe(0);
    await run("up", "--yes", "--skip-preview");
    expect(JSON.parse((await run("stack", "output", "--json", "--show-secrets")).stdout).secret).toBe(first.secret);

    // A new length is a new password.
    await run("config", "set", "length", "30");
    await run("up", "--yes", "--skip-preview");
    const second = JSON.parse((await run("stack", "output", "--json", "--show-secrets")).stdout);
    expect(second.secret).toMatch(/^[A-Za-z0-9]{30}$/);
    expect(second.secret).not.toBe(first.secret);

    await run("destroy", "--yes", "--skip-preview");
    const after = JSON.parse((await run("stack", "export")).stdout);
    expect(after.deployment.resources ?? []).toEqual([]);
    await run("stack", "rm", "--yes");
  });
});
