// SshKeyPair: an ed25519 key pair generated once (ssh-keygen) for the local
// stand's machines; the private key is a Pulumi secret in the state.
import * as pulumi from "@pulumi/pulumi";

export function generateEd25519KeyPair(comment: string): { publicKey: string; privateKey: string } {
  const childProcess: typeof import("child_process") = require("child_process");
  const fs: typeof import("fs") = require("fs");
  const os: typeof import("os") = require("os");
  const path: typeof import("path") = require("path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-key-"));
  try {
    fs.chmodSync(dir, 0o700);
    const file = path.join(dir, "id_ed25519");
    childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "ignore" });
    return { publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(), privateKey: fs.readFileSync(file, "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sshKeyPairProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: { comment: string }, news: { comment: string }) {
    return olds.comment === news.comment ? { changes: false } : { changes: true, replaces: ["comment"] };
  },
  async create(inputs: { comment: string }) {
    const crypto: typeof import("crypto") = require("crypto");
    return { id: crypto.randomUUID(), outs: { comment: inputs.comment, ...generateEd25519KeyPair(inputs.comment) } };
  },
};

export class SshKeyPair extends pulumi.dynamic.Resource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(
      sshKeyPairProvider,
      name,
      { ...args, publicKey: undefined, privateKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "patroni",
      "SshKeyPair",
    );
  }
}
