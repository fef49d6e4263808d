import { expect, it } from "vitest";
import { withConfigTable } from "./config-docs";
import * as fs from "fs";
import * as path from "path";

it("the configuration table (docs/configuration.md) matches the schema (npm run config-docs to update)", () => {
  const file = path.join(__dirname, "..", "docs", "configuration.md");
  const current = fs.readFileSync(file, "utf8");
  const wanted = withConfigTable(current);
  if (process.env.UPDATE_CONFIG_DOCS === "1") fs.writeFileSync(file, wanted);
  else expect(current).toBe(wanted);
  expect(wanted).toContain("| `cluster.dcs.ttl` | integer | `30` |");
});
