// What Pulumi stores of a dynamic provider: every dynamic resource's state
// carries its provider serialized with all the code it reaches, twice (inputs
// and outputs). ShellCommand's was 15 KB a copy, 68 % of a stand's 4 MB
// state, and the engine rewrites the whole state after every step (a third
// of the controller's CPU in a deploy). So the state holds a loader instead:
// a few lines that find this module's sibling file in the checkout the
// provider runs from (Pulumi starts it in the program's directory) and call
// the same method of the provider object that file exports.
//
// What that means: a delete or an update runs the checkout's code of today,
// as a diff always did; and the checkout (its src/ and node_modules) must be
// there, as it must be for `pulumi up` anyway.
// https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
import * as pulumi from "@pulumi/pulumi";

type Method = "check" | "diff" | "create" | "read" | "update" | "delete";
const METHODS: readonly Method[] = ["check", "diff", "create", "read", "update", "delete"];

/**
 * In the provider process: the provider object `exportName` of
 * src/providers/<file>.ts, TypeScript transpiled as it loads (the provider
 * process has no ts-node). Only node built-ins at the top: Pulumi serializes
 * this function's text.
 */
export function loadStoredProvider(file: string, exportName: string): pulumi.dynamic.ResourceProvider {
  const fs: typeof import("fs") = require("fs");
  const path: typeof import("path") = require("path");
  const g = globalThis as { __pulumiPatroniProviders?: Record<string, pulumi.dynamic.ResourceProvider> };
  const cache = (g.__pulumiPatroniProviders ??= {});
  const key = `${file}#${exportName}`;
  if (cache[key]) return cache[key];
  // The checkout: the first directory up from here that has the file.
  let dir = process.cwd();
  while (!fs.existsSync(path.join(dir, "src", "providers", `${file}.ts`))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`dynamic provider ${key}: no src/providers/${file}.ts above ${process.cwd()}`);
    dir = up;
  }
  const extensions = require.extensions as NodeJS.RequireExtensions;
  if (!extensions[".ts"]) {
    // Transpiled once per source text, then read from node_modules/.cache
    // (loading the compiler costs about half a second of every pulumi run).
    const crypto: typeof import("crypto") = require("crypto");
    const cacheDir = path.join(dir, "node_modules", ".cache", "pulumi-patroni-providers");
    let ts: typeof import("typescript") | undefined;
    extensions[".ts"] = (m, filename) => {
      const source = fs.readFileSync(filename, "utf8");
      const cached = path.join(
        cacheDir,
        `${crypto.createHash("sha256").update(`es2022 commonjs\n${source}`).digest("hex")}.js`,
      );
      let js = fs.existsSync(cached) ? fs.readFileSync(cached, "utf8") : undefined;
      if (js === undefined) {
        ts ??= require(require.resolve("typescript", { paths: [dir] })) as typeof import("typescript");
        // As tsconfig.json compiles: CommonJS, ES2022, esModuleInterop.
        const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
        js = ts.transpileModule(source, { compilerOptions: options, fileName: filename }).outputText;
        fs.mkdirSync(cacheDir, { recursive: true });
        fs.writeFileSync(`${cached}.${process.pid}`, js);
        fs.renameSync(`${cached}.${process.pid}`, cached);
      }
      (m as unknown as { _compile(code: string, file: string): void })._compile(js, filename);
    };
  }
  const provider = require(path.join(dir, "src", "providers", `${file}.ts`))[exportName] as
    pulumi.dynamic.ResourceProvider | undefined;
  if (!provider) throw new Error(`dynamic provider ${key}: src/providers/${file}.ts exports no ${exportName}`);
  cache[key] = provider;
  return provider;
}

/**
 * The provider to hand to `pulumi.dynamic.Resource`: it has the methods
 * `implementation` has, each a call of the same method of the object
 * `exportName` of src/providers/<file>.ts, found again in the provider
 * process. `implementation` must be that very object.
 */
export function storedProvider(
  file: string,
  exportName: string,
  implementation: pulumi.dynamic.ResourceProvider,
): pulumi.dynamic.ResourceProvider {
  const stored: Record<string, unknown> = {};
  for (const method of METHODS) {
    if (!implementation[method]) continue;
    stored[method] = (...args: unknown[]) =>
      (loadStoredProvider(file, exportName)[method] as unknown as (...a: unknown[]) => unknown)(...args);
  }
  return stored as unknown as pulumi.dynamic.ResourceProvider;
}
