// Host steps are bash scripts in templates/steps/, one per step, readable on
// their own like a runbook page. A step's script is its template with the
// (never secret) parameters exported first, and the shared helpers of
// templates/lib/ it calls.
import * as fs from "fs";
import * as path from "path";

export const TEMPLATES_DIR = path.resolve(__dirname, "..", "..", "templates", "steps");
const LIB_DIR = path.resolve(__dirname, "..", "..", "templates", "lib");

/** Helper file -> the function whose use pulls it in. */
const HELPERS: Readonly<Record<string, RegExp>> = { "wait.sh": /\bwait_until\b/, "owner.sh": /\bowned_here\b/ };

export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

export function renderStepScript(template: string, env: Readonly<Record<string, string | number>> = {}): string {
  const body = fs.readFileSync(path.join(TEMPLATES_DIR, `${template}.sh`), "utf8");
  const exportLines = Object.keys(env)
    .sort()
    .map((k) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`step ${template}: bad variable name ${k}`);
      return `export ${k}=${shellQuote(String(env[k]))}`;
    });
  const helpers = Object.entries(HELPERS)
    .filter(([, use]) => use.test(body))
    .map(([file]) => fs.readFileSync(path.join(LIB_DIR, file), "utf8"));
  return `# step: ${template}\n${exportLines.join("\n")}${exportLines.length ? "\n" : ""}${helpers.join("")}${body}`;
}
