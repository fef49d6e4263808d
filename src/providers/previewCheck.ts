// PreviewCheck: a question asked of a host before anything is deployed. Its
// script runs in the provider's check, so `pulumi preview` (and the start
// of `pulumi up`) fails with the script's output when it exits non-zero,
// and nothing that depends on it runs. Used where the configuration can only
// be judged against what is on a host: a restore's target against the
// repository's backups and WAL, a new stanza that must be empty.
// The script gets PREVIOUSLY_CREATED=1 once the resource exists in the
// state (this stack has deployed it before), 0 for a new stack.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { runScript } from "./remoteScript";
import { SshConnection } from "./ssh";
import { storedProvider } from "./storedProvider";

export interface PreviewCheckInputs {
  /** What is checked, for messages. */
  description: string;
  /** Where the script runs; absent: the controller. */
  connection?: SshConnection;
  script: string;
}

// The engine's placeholder for a value not known yet (preview).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const previewCheckProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<PreviewCheckInputs> | undefined, news: PreviewCheckInputs) {
    if (JSON.stringify([news.connection ?? null, news.script]).includes(UNKNOWN)) return { inputs: news };
    const created = typeof olds?.script === "string";
    const result = await runScript(
      { description: news.description, connection: news.connection, timeoutSeconds: 120 },
      `export PREVIOUSLY_CREATED=${created ? 1 : 0}\n${news.script}`,
      undefined,
      3,
      "check",
    );
    if (result.code === 0) return { inputs: news };
    const output = result.output.trim().split("\n").slice(-20).join("\n");
    return {
      inputs: news,
      failures: [{ property: "", reason: `${news.description}: refused (nothing was changed):\n${output}` }],
    };
  },
  async diff(_id: string, olds: PreviewCheckInputs, news: PreviewCheckInputs) {
    return {
      changes: JSON.stringify([olds.script, olds.description]) !== JSON.stringify([news.script, news.description]),
    };
  },
  async create(inputs: PreviewCheckInputs) {
    return { id: crypto.randomUUID(), outs: inputs };
  },
  async update(_id: string, _olds: PreviewCheckInputs, news: PreviewCheckInputs) {
    return { outs: news };
  },
};

export class PreviewCheck extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: {
      description: pulumi.Input<string>;
      connection?: pulumi.Input<SshConnection>;
      script: pulumi.Input<string>;
    },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      storedProvider("previewCheck", "previewCheckProvider", previewCheckProvider),
      name,
      args,
      { ...opts, additionalSecretOutputs: ["connection"] },
      "patroni",
      "PreviewCheck",
    );
  }
}
