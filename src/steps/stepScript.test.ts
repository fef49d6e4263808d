import { describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as path from "path";
import { inlineScript, renderHostScript, scriptsIn, sharedScript } from "./stepScript";

const REPO = path.join(__dirname, "..", "..");

describe("host scripts", () => {
  it("export quoted parameters before the template", () => {
    const script = renderHostScript(sharedScript("service", { UNIT: "patroni", ACTION: "it's" }));
    expect(script.split("\n").slice(0, 3)).toEqual([
      "# step: service",
      "export ACTION='it'\\''s'",
      "export UNIT='patroni'",
    ]);
  });

  it("get exactly the host facts they name, and the helpers they call", () => {
    const facts = { OWNER_FILE: "/etc/pulumi-patroni/owner", PG_PORT: 5432, HOST_OWNER: "s/h" };
    const remove = renderHostScript(sharedScript("remove-file", { TARGET: "/etc/x" }), facts);
    // remove-file.sh calls owned_here (lib/owner.sh), which names OWNER_FILE and HOST_OWNER.
    expect(remove).toContain("export OWNER_FILE='/etc/pulumi-patroni/owner'");
    expect(remove).toContain("export HOST_OWNER='s/h'");
    expect(remove).toContain("owned_here() {");
    expect(remove).not.toContain("PG_PORT");
    const service = renderHostScript(sharedScript("service", { UNIT: "x", ACTION: "start" }), facts);
    expect(service).not.toContain("OWNER_FILE");
    expect(service).not.toContain("owned_here() {");
  });

  it("a fact read by embedded python (os.environ) is exported too", () => {
    const facts = { PATRONI_CONFIG: "/etc/patroni/config.yml", PG_PORT: 5432 };
    const leave = renderHostScript(scriptsIn(path.join(REPO, "src", "roles", "postgres"))("patroni-leave"), facts);
    // Without it the leave step could not read the REST credentials and left the slot for 30 min.
    expect(leave).toContain("export PATRONI_CONFIG='/etc/patroni/config.yml'");
  });

  it("a parameter wins over a fact of the same name; a bad name is refused", () => {
    const dir = path.join(REPO, "src", "roles", "postgres");
    expect(renderHostScript(scriptsIn(dir)("restart-member", { CLUSTER: "mine" }), { CLUSTER: "facts" })).toContain(
      "export CLUSTER='mine'",
    );
    expect(() => renderHostScript(sharedScript("service", { "bad-name": 1 }))).toThrow(/bad variable name bad-name/);
  });

  it("an inline script is its text", () => {
    expect(renderHostScript(inlineScript("noop", "true"), { STACK: "x" })).toBe("true");
  });

  it("every host script of the repository is valid bash", () => {
    const scripts = childProcess
      .execFileSync("git", ["ls-files", "*.sh"], { cwd: REPO, encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    expect(scripts.length).toBeGreaterThan(30);
    for (const file of scripts) {
      const result = childProcess.spawnSync("bash", ["-n", path.join(REPO, file)], { encoding: "utf8" });
      expect(result.status, `${file}: ${result.stderr}`).toBe(0);
    }
  });
});
