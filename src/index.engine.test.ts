// The real program (src/index.ts) through the engine, without touching any
// host: `pulumi preview` of the dev stack (existing servers) and of broken
// configurations. Preview never runs a create script, and the survey of the
// hosts (HostSurvey) is pointed at a closed local port: no traffic leaves.
import { afterAll, describe, expect, it } from "vitest";
import { pulumi, REPO, scratchProject } from "../test/helpers/pulumiCli";
import { generateEd25519KeyPair } from "./providers/sshKeyPair";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

const work = scratchProject();
const env = { PULUMI_BACKEND_URL: `file://${work}/state`, PULUMI_CONFIG_PASSPHRASE: "program-test" };
fs.mkdirSync(path.join(work, "state"));

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A stack of the scratch project with the given config (secrets set with --secret, from stdin). */
async function stackWith(name: string, config: Record<string, unknown>, secrets: Record<string, string> = {}) {
  fs.writeFileSync(path.join(work, `Pulumi.${name}.yaml`), yaml.dump({ config }));
  const run = (args: string[], allowFailure = false, input?: string) =>
    pulumi([...args, "--stack", name, "--non-interactive"], { cwd: work, env, allowFailure, input });
  await pulumi(["stack", "init", name, "--non-interactive"], { cwd: work, env });
  // `config set` reads the value from stdin when none is given: never on a command line.
  for (const [key, value] of Object.entries(secrets)) await run(["config", "set", "--secret", key], false, value);
  return run;
}

describe("the program through the engine", () => {
  it("previews the dev stack (seed 000 servers) with every resource planned and nothing applied", async () => {
    const dev = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    // Its servers are real and not ours: the controller reaches them at a closed local port, so the
    // preview's survey of each host (HostSurvey) finds nothing answering and no traffic leaves.
    const config = {
      ...dev.config,
      "pulumi-patroni:ssh": { ...(dev.config["pulumi-patroni:ssh"] as object), port: 1 },
      "pulumi-patroni:hosts": (dev.config["pulumi-patroni:hosts"] as object[]).map((h) => ({
        ...h,
        sshAddress: "127.0.0.1",
      })),
    };
    const run = await stackWith("dev", config, { sshPrivateKey: generateEd25519KeyPair("test").privateKey });
    const out = (await run(["preview", "--diff"])).stdout;
    expect(out).toMatch(/\+ (\d+) to create/);
    const planned = Number(out.match(/\+ (\d+) to create/)![1]);
    expect(planned).toBeGreaterThan(60);
    for (const name of [
      "cluster-servera-patroni-config",
      "cluster-haproxy-haproxy-gate",
      "cluster-roles-and-databases",
      "superuser-password",
    ])
      expect(out).toContain(name);
    expect(out).not.toContain("BEGIN OPENSSH PRIVATE KEY");
  });

  it("stops a broken configuration before any resource is created, naming the field", async () => {
    const dev = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, any>;
    };
    const hosts = dev.config["pulumi-patroni:hosts"].map((h: any, i: number) =>
      i === 2 ? { ...h, roles: ["postgres"] } : h,
    );
    const run = await stackWith("broken", {
      ...dev.config,
      "pulumi-patroni:hosts": hosts,
      "pulumi-patroni:superuserPassword": "in-clear-text",
    });
    const r = await run(["up", "--yes", "--skip-preview"], true);
    expect(r.code).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toContain("invalid stack configuration");
    expect(text).toContain("hosts: 2 hosts have the etcd role; etcd needs an odd number of members");
    expect(text).toContain("superuserPassword: is stored in clear text; it must be a secret");
    const state = JSON.parse((await run(["stack", "export"])).stdout);
    const created = (state.deployment.resources ?? []).filter((r: any) => r.type !== "pulumi:pulumi:Stack");
    expect(created).toEqual([]);
  });
});
