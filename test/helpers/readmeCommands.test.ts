// The README's commands, checked without a stand: extracted from README.md
// itself, each parses and names real scripts, stacks and hosts. Breaking one
// here (never in the README) shows the check fails.
import { describe, expect, it } from "vitest";
import {
  commandLines,
  extractBlock,
  extractStandHints,
  extractTryCommands,
  lintCommand,
  OWN_SERVERS_MARKER,
  OWN_SERVERS_UP_MARKER,
  runProblem,
  TRY_MARKER,
} from "./readmeCommands";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

const REPO = path.resolve(__dirname, "..", "..");
const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
const local = yaml.load(fs.readFileSync(path.join(REPO, "stacks", "local.yaml"), "utf8")) as {
  config: Record<string, { name: string }[]>;
};
const ctx = {
  scripts: Object.keys(pkg.scripts),
  // Committed stacks, and the local stack scripts/pulumi.sh makes from stacks/local.yaml.
  stacks: [
    ...fs.readdirSync(REPO).flatMap((f) => /^Pulumi\.([\w-]+)\.yaml$/.exec(f)?.[1] ?? []),
    ...fs.readdirSync(path.join(REPO, "stacks")).map((f) => f.replace(/\.yaml$/, "")),
  ],
  hosts: local.config["pulumi-patroni:hosts"].map((h) => h.name),
};
const standUp = fs.readFileSync(path.join(REPO, "scripts", "stand-up.sh"), "utf8");

describe("the README's commands", () => {
  const commands = extractTryCommands(readme);

  it("are found after the marker: the ssh, patronictl, outputs, power and up commands", () => {
    expect(commands.length).toBeGreaterThanOrEqual(6);
    expect(commands[0]).toBe("npm run --silent ssh -- client01 psql service=primary -c 'select pg_is_in_recovery()'");
    expect(commands.some((c) => c.includes("patronictl list"))).toBe(true);
    expect(commands.some((c) => c.includes("power -- kill"))).toBe(true);
  });

  it("each parses and names a real npm script, stack and host", () => {
    for (const c of commands) expect(lintCommand(c, ctx), c).toEqual([]);
  });

  it("the stand's closing hints parse and name real scripts, stacks and hosts", () => {
    const hints = extractStandHints(standUp.replace(/\$\(\(SECONDS - start\)\)/g, "60"));
    expect(hints.length).toBeGreaterThanOrEqual(4);
    expect(hints.some((h) => h.includes("haproxyStatsPassword"))).toBe(true);
    for (const h of hints) expect(lintCommand(h, ctx), h).toEqual([]);
  });

  it("a broken command is caught: unbalanced quote, unknown script, stack or host", () => {
    const broken = readme.replace(
      "npm run --silent ssh -- client01 psql service=primary -c 'select pg_is_in_recovery()'",
      "npm run --silent ssh -- client01 psql service=primary -c 'select pg_is_in_recovery()",
    );
    const first = extractTryCommands(broken)[0];
    expect(lintCommand(first, ctx).join()).toContain("does not parse");
    expect(lintCommand("npm run --silent shh -- pg01 true", ctx).join()).toContain("npm script shh does not exist");
    expect(lintCommand("npm run pulumi -- stack output --stack lokal", ctx).join()).toContain(
      "stack lokal has no stack file",
    );
    expect(lintCommand("npm run --silent ssh -- pg09 true", ctx).join()).toContain(
      "host pg09 is not a host of the local stack",
    );
    expect(lintCommand("npm run --silent power -- unplug pg01", ctx).join()).toContain("power needs");
    expect(() => extractTryCommands(readme.replace(TRY_MARKER, ""))).toThrow(/no <!-- readme-commands:try --> marker/);
  });

  it("a run fails on a non-zero exit or an error message, as the remote syntax error of the unquoted ssh did", () => {
    expect(runProblem(0, " pg_is_in_recovery \n f\n")).toBeUndefined();
    expect(runProblem(1, "")).toBe("exited 1");
    expect(runProblem(0, "bash: -c: line 1: syntax error near unexpected token `('")).toContain("printed an error");
    expect(runProblem(0, "psql: error: connection to server failed")).toContain("printed an error");
  });
});

// The e2e test (test/e2e/own-servers.test.ts) runs these against real
// servers; here only that the README has them and that they parse.
describe("the README's own-servers commands", () => {
  it("are in the README: the block up to preview parses as one script, then up for the same stack", () => {
    const block = extractBlock(readme, OWN_SERVERS_MARKER);
    expect(bashSyntax(block)).toBe("");
    expect(commandLines(block).at(-1)).toBe("npm run pulumi -- preview --stack prod");
    const up = commandLines(extractBlock(readme, OWN_SERVERS_UP_MARKER));
    expect(up[0]).toBe("npm run pulumi -- up --stack prod --yes");
    for (const c of up) expect(bashSyntax(c), c).toBe("");
  });
});

const bashSyntax = (c: string) => childProcess.spawnSync("bash", ["-n", "-c", c], { encoding: "utf8" }).stderr;
