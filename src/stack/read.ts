// Reads the stack's configuration from the Pulumi runtime once and hands it
// to parseStackConfig. A problem stops the program before any resource is
// registered, with every problem listed.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT } from "../config/validate";
import { parseStackConfig, SECRET_KEYS, StackConfig } from "./stackConfig";

// @pulumi/pulumi knows which keys were set with --secret but does not export
// it publicly; this internal helper is stable across 3.x.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function readStackConfig(): { config: StackConfig; secrets: Partial<Record<string, pulumi.Output<string>>> } {
  const prefix = `${PROJECT}:`;
  const values: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) values[key.slice(prefix.length)] = parseValue(raw);
  }
  let config: StackConfig;
  try {
    config = parseStackConfig(values, (key) => isConfigSecret(`${prefix}${key}`), pulumi.getStack());
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(`${e.message}\n(see README.md, section Configuration)`);
    throw e;
  }
  const cfg = new pulumi.Config(PROJECT);
  const secrets: Partial<Record<string, pulumi.Output<string>>> = {};
  for (const key of SECRET_KEYS) {
    const value = cfg.getSecret(key);
    if (value !== undefined) secrets[key] = value;
  }
  return { config, secrets };
}
