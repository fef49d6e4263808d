// GeneratedPassword: a random password created once, kept as a Pulumi secret
// in the state and stable across updates, like random.RandomPassword.
//
// Why not @pulumi/random: its provider's Go module replaces a nested ./shim
// module that the Go module proxy does not serve, so the plugin cannot be
// built here. This dynamic provider has the same contract for what we use:
// `length` in, `result` (secret) out, replaced only when `length` or
// `keepers` change.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";

export interface GeneratedPasswordArgs {
  /** Number of characters; letters and digits only, so it is safe in every config format. Default 32. */
  readonly length?: pulumi.Input<number>;
  /** Arbitrary values; changing any of them generates a new password. */
  readonly keepers?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

interface GeneratedPasswordInputs {
  length?: number;
  keepers?: Record<string, string>;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Unbiased: bytes >= 248 (= 4 * 62) are thrown away. */
export function randomAlphanumeric(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const generatedPasswordProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: GeneratedPasswordInputs, news: GeneratedPasswordInputs) {
    const length = news.length ?? 32;
    const failures =
      Number.isInteger(length) && length >= 16 && length <= 128
        ? []
        : [{ property: "length", reason: "must be an integer from 16 to 128" }];
    return { inputs: { ...news, length }, failures };
  },
  async diff(_id: string, olds: GeneratedPasswordInputs, news: GeneratedPasswordInputs) {
    const same =
      olds.length === news.length && JSON.stringify(olds.keepers ?? {}) === JSON.stringify(news.keepers ?? {});
    return same ? { changes: false } : { changes: true, replaces: ["length", "keepers"], deleteBeforeReplace: false };
  },
  async create(inputs: GeneratedPasswordInputs) {
    const length = inputs.length ?? 32;
    return { id: crypto.randomUUID(), outs: { ...inputs, length, result: randomAlphanumeric(length) } };
  },
};

export class GeneratedPassword extends pulumi.dynamic.Resource {
  declare readonly result: pulumi.Output<string>;

  constructor(name: string, args: GeneratedPasswordArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("generatedPassword", "generatedPasswordProvider", generatedPasswordProvider),
      name,
      { ...args, result: undefined },
      { ...opts, additionalSecretOutputs: ["result"] },
      "patroni",
      "GeneratedPassword",
    );
  }
}
