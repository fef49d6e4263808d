// SshKeyPair: an ed25519 key pair generated once (ssh-keygen) for the local
// stand's machines; the private key is a Pulumi secret in the state.
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";

export function generateEd25519KeyPair(comment: string): { publicKey: string; privateKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-key-"));
  try {
    fs.chmodSync(dir, 0o700);
    const file = path.join(dir, "id_ed25519");
    childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], {
      stdio: "ignore",
    });
    return { publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(), privateKey: fs.readFileSync(file, "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const sshKeyPairProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: { comment: string }, news: { comment: string }) {
    return olds.comment === news.comment ? { changes: false } : { changes: true, replaces: ["comment"] };
  },
  async create(inputs: { comment: string }) {
    return { id: crypto.randomUUID(), outs: { comment: inputs.comment, ...generateEd25519KeyPair(inputs.comment) } };
  },
};

export class SshKeyPair extends pulumi.dynamic.Resource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("sshKeyPair", "sshKeyPairProvider", sshKeyPairProvider),
      name,
      { ...args, publicKey: undefined, privateKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "patroni",
      "SshKeyPair",
    );
  }
}
