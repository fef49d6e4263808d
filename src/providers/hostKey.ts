// HostKey: trust on first use for a host without a pinned key. The first
// deploy records the key the host presents (ssh-keyscan) in the state; every
// step then connects with strict checking against it, and every preview asks
// the host again: a different key fails with the host, both fingerprints and
// how to accept the new key on purpose (pin it in ssh.hostKeys).
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";

export interface HostKeyInputs {
  hostName: string;
  address: string;
  port: number;
  /** ssh.hostKeys[hostName]: a pinned key wins over anything recorded or presented. */
  pinned?: string;
}

interface HostKeyOutputs extends HostKeyInputs {
  /** "ssh-ed25519 AAAA...": the key steps connect with. */
  key: string;
}

/** OpenSSH's fingerprint of a key line: SHA256:<base64, no padding>. */
export function fingerprint(keyLine: string): string {
  const blob = Buffer.from(keyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The keys the host presents, best type first ("type base64" lines); [] when it does not answer. */
export async function presentedKeys(address: string, port: number): Promise<string[]> {
  const out = await new Promise<string>((resolve) =>
    childProcess.execFile(
      "ssh-keyscan",
      ["-T", "10", "-p", String(port), "-t", "ed25519,ecdsa,rsa", address],
      { timeout: 20_000 },
      (_err, stdout) => resolve(String(stdout ?? "")),
    ),
  );
  const rank = (t: string) => ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"].indexOf(t);
  return out
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(/\s+/).slice(1, 3).join(" "))
    .filter((l) => rank(l.split(" ")[0]) >= 0)
    .sort((a, b) => rank(a.split(" ")[0]) - rank(b.split(" ")[0]));
}

/** Why the host's presented keys do not match the recorded one, or undefined when one does (or it did not answer). */
export function hostKeyMismatch(
  inputs: HostKeyInputs,
  recorded: string,
  presented: readonly string[],
): string | undefined {
  if (presented.length === 0 || presented.some((k) => k.split(" ")[1] === recorded.split(" ")[1])) return undefined;
  return (
    `host ${inputs.hostName} (${inputs.address}:${inputs.port}) presents a host key this stack does not trust: ` +
    `it presents ${presented.map(fingerprint).join(", ")}; the stack recorded ${fingerprint(recorded)} at its first deploy. ` +
    `Nothing was sent to it. If the host was reinstalled on purpose, check the new fingerprint on its console ` +
    `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and accept it with: ` +
    `pulumi config set --path 'ssh.hostKeys.${inputs.hostName}' '${presented[0]}'`
  );
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const hostKeyProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: HostKeyOutputs, news: HostKeyInputs) {
    if (news.address !== olds.address || news.port !== olds.port) return { changes: true };
    // Pinning the very key the stack trusts already changes nothing (no step runs again).
    if (news.pinned !== olds.pinned && news.pinned !== olds.key) return { changes: true };
    if (news.pinned) return { changes: false };
    const problem = hostKeyMismatch(news, olds.key, await presentedKeys(news.address, news.port));
    if (problem) throw new Error(problem);
    return { changes: false };
  },
  async create(inputs: HostKeyInputs) {
    return { id: crypto.randomUUID(), outs: { ...inputs, key: await firstKey(inputs) } };
  },
  async update(_id: string, olds: HostKeyOutputs, news: HostKeyInputs) {
    if (news.pinned) return { outs: { ...news, key: news.pinned } };
    // A pin removed or the address changed: keep the recorded key if the host still presents it.
    const presented = await presentedKeys(news.address, news.port);
    const problem = hostKeyMismatch(news, olds.key, presented);
    if (problem) throw new Error(problem);
    return { outs: { ...news, key: olds.key } };
  },
};

async function firstKey(inputs: HostKeyInputs): Promise<string> {
  if (inputs.pinned) return inputs.pinned;
  const keys = await presentedKeys(inputs.address, inputs.port);
  if (keys.length === 0)
    throw new Error(
      `host ${inputs.hostName} (${inputs.address}:${inputs.port}) did not present an SSH host key (ssh-keyscan): is sshd running there?`,
    );
  return keys[0];
}

export class HostKey extends pulumi.dynamic.Resource {
  declare readonly key: pulumi.Output<string>;

  constructor(
    name: string,
    args: { hostName: string; address: string; port: number; pinned?: string },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      storedProvider("hostKey", "hostKeyProvider", hostKeyProvider),
      name,
      { ...args, key: undefined },
      opts,
      "patroni",
      "HostKey",
    );
  }
}
