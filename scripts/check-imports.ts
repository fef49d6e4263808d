// The house's floors, checked (npm run lint): no import cycle in src/, type
// imports included; the lower floors never import the upper ones; the pure
// modules (validation, renderers, role slices) never load Pulumi, not even
// through another module (a provider, a step, a component). Prints every
// violation with the import chain and exits 1; prints the floors otherwise.
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const REPO = path.resolve(__dirname, "..");
const SRC = path.join(REPO, "src");

/** Folder (under src/) -> the src/ folders it may not import from. */
const FLOORS: Readonly<Record<string, readonly string[]>> = {
  config: ["platform", "patroni", "secrets", "tls", "providers", "steps", "roles", "stack", "local", "cluster", "ops"],
  platform: ["patroni", "tls", "providers", "steps", "roles", "stack", "local", "cluster", "ops"],
  patroni: ["config", "platform", "tls", "providers", "steps", "roles", "stack", "local", "cluster", "ops"],
  secrets: ["config", "platform", "patroni", "tls", "providers", "steps", "roles", "stack", "local", "cluster", "ops"],
  // TLS: the settings, the stages of the migration, a host's names, the rollout's plan. Pure.
  tls: ["platform", "patroni", "secrets", "providers", "steps", "roles", "stack", "local", "cluster", "ops"],
  render: [
    "config",
    "platform",
    "patroni",
    "secrets",
    "tls",
    "providers",
    "steps",
    "roles",
    "stack",
    "local",
    "cluster",
    "ops",
  ],
  providers: ["config", "platform", "steps", "roles", "stack", "local", "cluster", "ops"],
  steps: ["config", "platform", "patroni", "roles", "stack", "local", "cluster", "ops"],
  roles: ["cluster", "ops", "local"],
  stack: ["cluster", "ops"],
  local: ["cluster", "ops"],
  cluster: ["ops"],
  ops: ["cluster", "local", "stack"],
};

/**
 * Pure modules: no value import may lead, even transitively, to Pulumi.
 * Components and step groups are named for what they are
 * (…Node, …Member, …Host, …Base, …Cluster, roleArgs); everything else in a
 * role's folder is its slice and its renderers.
 */
const COMPONENT = /^src\/roles\/.*(Node|Member|Host|Base|Cluster|roleArgs)\.ts$/;
const isPure = (file: string) =>
  !file.endsWith(".test.ts") &&
  (/^src\/(config|platform|patroni|secrets|render|tls)\//.test(file) ||
    ["src/stack/stackConfig.ts", "src/stack/passwords.ts", "src/stack/hostFacts.ts", "src/local/settings.ts"].includes(
      file,
    ) ||
    (file.startsWith("src/roles/") && !COMPONENT.test(file)));
const IMPURE = (spec: string) => /^@pulumi\//.test(spec);

interface Edge {
  readonly to: string;
  /** Erased at run time (`import type`, or every name type-only). */
  readonly typeOnly: boolean;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [p] : [];
  });
}

function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    if (!spec.startsWith(".")) {
      edges.push({ to: spec, typeOnly });
      return;
    }
    const resolved = path.relative(REPO, path.resolve(path.dirname(file), spec));
    const to = fs.existsSync(path.join(REPO, `${resolved}.ts`)) ? `${resolved}.ts` : `${resolved}/index.ts`;
    edges.push({ to, typeOnly });
  };
  sf.forEachChild((node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly =
        !!clause?.isTypeOnly || (!!named && named.length > 0 && !clause?.name && named.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    }
  });
  return edges;
}

const graph = new Map<string, Edge[]>(sources(SRC).map((f) => [path.relative(REPO, f), importsOf(f)]));
const problems: string[] = [];

// 1. Floors.
for (const [file, edges] of graph) {
  const floor = file.split("/")[1];
  for (const e of edges) {
    const target = e.to.startsWith("src/") ? e.to.split("/")[1] : undefined;
    if (target && FLOORS[floor]?.includes(target))
      problems.push(`${file} imports ${e.to}: ${floor}/ may not import ${target}/`);
  }
}

// 2. Cycles (Tarjan's strongly connected components), every import counted.
let index = 0;
const order = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
function connect(v: string): void {
  order.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const { to } of graph.get(v) ?? []) {
    if (!graph.has(to)) continue;
    if (!order.has(to)) {
      connect(to);
      low.set(v, Math.min(low.get(v)!, low.get(to)!));
    } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, order.get(to)!));
  }
  if (low.get(v) === order.get(v)) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) problems.push(`import cycle: ${component.reverse().join(" -> ")}`);
  }
}
for (const v of graph.keys()) if (!order.has(v)) connect(v);

// 3. Purity: the value imports a pure module reaches.
for (const file of [...graph.keys()].filter(isPure)) {
  const seen = new Map<string, string>([[file, ""]]);
  const queue = [file];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const e of graph.get(v) ?? []) {
      if (e.typeOnly || seen.has(e.to)) continue;
      seen.set(e.to, v);
      if (IMPURE(e.to)) {
        const chain = [e.to];
        for (let u = v; u; u = seen.get(u)!) chain.unshift(u);
        problems.push(`${file} is pure but loads ${e.to}: ${chain.join(" -> ")}`);
      } else if (graph.has(e.to)) queue.push(e.to);
    }
  }
}

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  process.exit(1);
}
console.log(
  `check-imports: ${graph.size} modules, no cycle, floors respected, ${[...graph.keys()].filter(isPure).length} pure modules load no Pulumi`,
);
