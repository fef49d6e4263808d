// The commands a new user copies: the README's block of things to try after
// `npm run stand`, and the hints the stand prints when it is up. The e2e
// test runs them verbatim; lintCommand catches what can be caught without a
// stand (it is what readmeCommands.test.ts breaks on purpose).
import * as childProcess from "child_process";

export const TRY_MARKER = "<!-- readme-commands:try -->";

/** The deployment onto your own servers: the commands up to `preview` (run as one script), then `up` and a look. */
export const OWN_SERVERS_MARKER = "<!-- readme-commands:own-servers -->";
export const OWN_SERVERS_UP_MARKER = "<!-- readme-commands:own-servers-up -->";

/** The text of the sh block that follows `marker` (the marker itself must stand alone on its line). */
export function extractBlock(text: string, marker: string): string {
  const at = text.indexOf(`${marker}\n`);
  if (at < 0) throw new Error(`no ${marker} marker before the block it names`);
  const block = /```sh\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!block) throw new Error(`no \`\`\`sh block after ${marker}`);
  return block[1];
}

/** The command lines of a block (comments and blank lines left out). */
export const commandLines = (block: string): string[] =>
  block.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

/** The lines of the sh block that follows the marker. */
export function extractTryCommands(readme: string): string[] {
  if (!readme.includes(TRY_MARKER))
    throw new Error(`README.md has no ${TRY_MARKER} marker before its block of things to try`);
  return commandLines(extractBlock(readme, TRY_MARKER));
}

/** The indented command lines `npm run stand` printed after its "Try:" line. */
export function extractStandHints(output: string): string[] {
  const at = output.lastIndexOf("Try:\n");
  if (at < 0) throw new Error(`the stand printed no "Try:" hints:\n${output.slice(-2000)}`);
  return output
    .slice(at)
    .split("\n")
    .filter((l) => /^ {2}npm /.test(l))
    .map((l) => l.trim());
}

export interface LintContext {
  /** npm script names (package.json). */
  readonly scripts: readonly string[];
  /** Stacks with a Pulumi.<stack>.yaml. */
  readonly stacks: readonly string[];
  /** Host names of the local stack. */
  readonly hosts: readonly string[];
}

/** What is wrong with a command before it runs: it does not parse, or names a script, stack or host that does not exist. */
export function lintCommand(command: string, ctx: LintContext): string[] {
  const problems: string[] = [];
  const parse = childProcess.spawnSync("bash", ["-n", "-c", command], { encoding: "utf8" });
  if (parse.status !== 0) problems.push(`does not parse: ${parse.stderr.trim()}`);
  const npm = /^npm run (?:--silent )?([\w:-]+)/.exec(command);
  if (!npm) problems.push("is not an `npm run` command");
  else if (!ctx.scripts.includes(npm[1]))
    problems.push(`npm script ${npm[1]} does not exist (package.json has ${ctx.scripts.join(", ")})`);
  for (const [, stack] of command.matchAll(/--stack[ =]([\w-]+)/g)) {
    if (!ctx.stacks.includes(stack))
      problems.push(`stack ${stack} has no stack file (Pulumi.${stack}.yaml or stacks/${stack}.yaml)`);
  }
  const host = /^npm run (?:--silent )?ssh -- ([a-z0-9-]+)/.exec(command);
  if (npm?.[1] === "ssh" && (!host || !ctx.hosts.includes(host[1])))
    problems.push(`host ${host?.[1] ?? "(none)"} is not a host of the local stack`);
  if (npm?.[1] === "power") {
    const m = /-- (\w+) ([a-z0-9-]+)/.exec(command);
    if (!m || !["off", "kill", "on", "status"].includes(m[1]) || !ctx.hosts.includes(m[2]))
      problems.push("power needs off|kill|on|status and a host of the local stack");
  }
  return problems;
}

/** Why a command's run failed, or undefined: a non-zero exit, or an error message in its output. */
export function runProblem(code: number | null, output: string): string | undefined {
  if (code !== 0) return `exited ${code}`;
  const error = output
    .split("\n")
    .find((l) => /\berror\b|syntax error|command not found|No such file|Traceback/i.test(l));
  return error ? `printed an error: ${error.trim()}` : undefined;
}
