// A Debian /etc/default file: NAME="value" lines, read by a unit's
// EnvironmentFile= (and by sh). Debian's Prometheus units run
// `ExecStart=/usr/bin/<binary> $ARGS`, which systemd splits at whitespace, so
// a flag of ARGS may hold no space and no quote.
// https://www.freedesktop.org/software/systemd/man/systemd.exec.html#EnvironmentFile=
import { ManagedFileContext, managedHeader } from "./managedHeader";

/**
 * What would end or change a double-quoted value: a quote, backslash, backtick,
 * line break, or a $ that starts a variable. A regex's $ anchor stays literal
 * (the exporters' flags hold some).
 */
const UNSAFE = /["\\`\n\r]|\$[{A-Za-z_]/;

export function renderEnvironmentFile(ctx: ManagedFileContext, vars: readonly (readonly [string, string])[]): string {
  const lines = vars.map(([name, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`environment variable name ${name} is not NAME_LIKE_THIS`);
    if (UNSAFE.test(value))
      throw new Error(`${name}: the value holds a quote, backslash, backtick, line break or $VARIABLE`);
    return `${name}="${value}"`;
  });
  return managedHeader(ctx) + lines.join("\n") + "\n";
}

/** ARGS for `ExecStart=... $ARGS`: flags joined by spaces, none of which may hold whitespace. */
export function argsValue(flags: readonly string[]): string {
  for (const f of flags)
    if (/\s/.test(f)) throw new Error(`flag ${JSON.stringify(f)} holds whitespace: $ARGS would split it`);
  return flags.join(" ");
}
