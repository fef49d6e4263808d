// Host steps are bash scripts, one per step, kept beside the code that runs
// them (a role's in its folder, the shared ones in ./scripts), readable on
// their own like a runbook page. A step's script is its template with its
// (never secret) parameters exported first, then the host facts it names
// (one vocabulary for every script: paths, ports, the managed-file marker;
// see src/stack/hostFacts.ts), then the helpers of ./scripts/lib it calls.
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../render/shellQuote";

export type ScriptEnv = Readonly<Record<string, string | number>>;
/** Facts every script may use by name; a script gets those it names. */
export type HostFacts = ScriptEnv;

/** A template file and its parameters, or an inline one-liner. */
export interface HostScript {
  readonly name: string;
  readonly file?: string;
  readonly inline?: string;
  readonly env: ScriptEnv;
}

const SHARED_DIR = path.join(__dirname, "scripts");
const LIB_DIR = path.join(SHARED_DIR, "lib");

/** Helper file -> the function whose use pulls it in. */
const HELPERS: Readonly<Record<string, RegExp>> = {
  "wait.sh": /\bwait_until\b/,
  "owner.sh": /\bowned_here\b/,
  "etcdctl.sh": /\betcdctl\b/,
  "foreign.sh": /\bforeign_services\b/,
};

/** The scripts of folder `dir`: `scriptsIn(__dirname)("etcd-member", env)` is dir/etcd-member.sh with env. */
export const scriptsIn =
  (dir: string) =>
  (name: string, env: ScriptEnv = {}): HostScript => ({ name, file: path.join(dir, `${name}.sh`), env });

/** The shared step scripts (write-file, service, ...). */
export const sharedScript = scriptsIn(SHARED_DIR);

/** A one-line script with no template (a no-op create, say). */
export const inlineScript = (name: string, text: string): HostScript => ({ name, inline: text, env: {} });

const exportLine = (name: string, value: string | number, script: string) => {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`step ${script}: bad variable name ${name}`);
  return `export ${name}=${shellQuote(String(value))}`;
};

/** Whether `body` uses variable `name`: $NAME, ${NAME...}, or os.environ["NAME"] in an embedded python. */
const uses = (body: string, name: string) => new RegExp(`\\$\\{?${name}\\b|environ\\[["']${name}["']\\]`).test(body);

export function renderHostScript(script: HostScript, facts: HostFacts = {}): string {
  if (script.inline !== undefined) return script.inline;
  const body = fs.readFileSync(script.file!, "utf8");
  const helpers = Object.entries(HELPERS)
    .filter(([, use]) => use.test(body))
    .map(([file]) => fs.readFileSync(path.join(LIB_DIR, file), "utf8"));
  const text = [body, ...helpers].join("\n");
  const env = { ...Object.fromEntries(Object.entries(facts).filter(([k]) => uses(text, k))), ...script.env };
  const exports = Object.keys(env)
    .sort()
    .map((k) => exportLine(k, env[k], script.name));
  return [`# step: ${script.name}`, ...exports, ...helpers, body].join("\n").replace(/\n*$/, "\n");
}
