// Hardening checks on the running e2e stand: trust on first use of a host
// key (and the refusal of a changed one), the refusal to take over a host
// that already runs a PostgreSQL cluster, and no password in any log.
import { describe, expect, it } from "vitest";
import { Stand } from "../helpers/stand";
import { pulumi, REPO } from "../helpers/pulumiCli";
import { parsePlatformReport, resolveHostPlatform } from "../../src/platform/platform";
import { scriptsIn } from "../../src/steps/stepScript";
import { packagesFor } from "../../src/stack/stackConfig";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export function hostTrustTests(stand: Stand): void {
  describe("a host without a pinned key: trust on first use", () => {
    it("records the key at the first deploy, refuses a changed one with both fingerprints, accepts it once pinned", async () => {
      const program = path.join(REPO, "test", "fixtures", "tofu-program");
      const backend = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-patroni-tofu-"));
      const env = { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "tofu-test" };
      const run = (args: string[], input?: string, allowFailure = false) =>
        pulumi([...args, "--stack", "tofu", "--non-interactive"], { cwd: program, env, input, allowFailure });
      const host = "client01";
      const restore = "cp -a /root/hostkey-backup/. /etc/ssh/ && systemctl restart ssh";
      try {
        await pulumi(["stack", "init", "tofu", "--non-interactive"], { cwd: program, env });
        await run(["config", "set", "address", stand.address(host)]);
        await run(["config", "set", "--secret", "privateKey"], stand.outputs.sshPrivateKey);
        await run(["up", "--yes", "--skip-preview"]);
        const first = JSON.parse((await run(["stack", "output", "--json"])).stdout);
        expect(first.recordedKey).toBe(stand.machine("host-key", host).split(" ").slice(0, 2).join(" "));
        expect(first.hostname).toBe(host);

        // The host now presents another key (reinstalled, or someone else answering at its address).
        stand.ssh(host, "mkdir -p /root/hostkey-backup && cp -a /etc/ssh/ssh_host_ed25519_key* /root/hostkey-backup/");
        stand.ssh(
          host,
          "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && (systemctl restart ssh &)",
        );
        await new Promise((r) => setTimeout(r, 2000));
        const presented = (await run(["preview"], undefined, true)).stdout;
        expect(presented).toContain(
          `host target (${stand.address(host)}:22) presents a host key this stack does not trust`,
        );
        expect(presented).toMatch(/it presents SHA256:\S+; the stack recorded SHA256:\S+ at its first deploy/);
        expect(presented).toContain("pulumi config set --path 'ssh.hostKeys.target'");
        const refused = await run(["up", "--yes", "--skip-preview", "--config", "run=2"], undefined, true);
        expect(refused.code).not.toBe(0);

        // Accepted on purpose: pinned.
        const newKey = /pulumi config set --path 'ssh\.hostKeys\.target' '([^']+)'/.exec(presented)![1];
        await run(["config", "set", "pinned", newKey]);
        await run(["up", "--yes", "--skip-preview"]);
        expect(JSON.parse((await run(["stack", "output", "--json"])).stdout).recordedKey).toBe(newKey);
      } finally {
        // The e2e stand pins client01's original key: put it back (the host presents the new one now).
        stand.sshUnpinned(host, restore);
        await new Promise((r) => setTimeout(r, 2000));
        await run(["destroy", "--yes", "--skip-preview"], undefined, true);
        fs.rmSync(backend, { recursive: true, force: true });
        fs.rmSync(path.join(program, "Pulumi.tofu.yaml"), { force: true });
      }
      expect(stand.ssh(host, "hostname")).toBe(host);
    });
  });

  describe("a host that already runs a PostgreSQL cluster this stack did not create", () => {
    it("is seen by the platform step and refused unless the host says adoptExisting", async () => {
      // client01 has PostgreSQL installed (pgbench) but no cluster: create one as an operator would.
      stand.ssh("client01", "pg_createcluster 17 legacy --start >/dev/null && pg_lsclusters -h");
      try {
        const packages = packagesFor(["postgres"], stand.parsedConfig());
        const platformScript = scriptsIn(path.join(REPO, "src", "roles", "host"))("platform", {
          PACKAGES: packages.join(" "),
          APT_SOURCES: "",
          APT_KEYRINGS: "",
        });
        const facts = parsePlatformReport(
          stand.ssh("client01", `bash -s`, stand.hostScript("client01", platformScript)),
        );
        expect(facts.foreign?.join()).toMatch(/PostgreSQL cluster 17\/legacy \(online, port \d+\)/);
        const refused = resolveHostPlatform(
          { hostName: "client01", roles: ["postgres"], packages, postgresVersion: 17, adoptExisting: false },
          facts,
        );
        expect(refused.problems.join()).toMatch(
          /client01 \(debian 13 trixie\): already runs PostgreSQL cluster 17\/legacy \(online, port \d+\), which this stack did not create/,
        );
        expect(refused.problems.join()).toContain("adoptExisting: true");
        expect(
          resolveHostPlatform(
            { hostName: "client01", roles: ["postgres"], packages, postgresVersion: 17, adoptExisting: true },
            facts,
          ).problems,
        ).toEqual([]);
      } finally {
        stand.ssh("client01", "pg_dropcluster 17 legacy --stop");
      }
    });
  });
}

/** Every password the stack has had (read from its state), for the log search. */
export async function passwordsInState(stand: Stand): Promise<string[]> {
  const state = JSON.parse((await stand.run(["stack", "export", "--show-secrets"])).stdout);
  const found: string[] = [];
  for (const r of state.deployment.resources ?? []) {
    if (!String(r.type).endsWith(":GeneratedPassword")) continue;
    // With --show-secrets a secret is {<sig>: ..., plaintext: "<JSON>"}.
    const v = r.outputs?.result;
    const value = typeof v === "string" ? v : typeof v?.plaintext === "string" ? JSON.parse(v.plaintext) : undefined;
    if (typeof value === "string") found.push(value);
  }
  return found;
}

export function noPasswordInLogsTests(stand: Stand, seenPasswords: () => string[]): void {
  describe("no password in any log", () => {
    it("PostgreSQL, Patroni, PgBouncer, HAProxy and the journal of every host hold none of the stack's passwords", () => {
      const passwords = [...new Set(seenPasswords())].filter((p) => p.length >= 12);
      expect(passwords.length).toBeGreaterThanOrEqual(6);
      for (const host of Object.keys(stand.outputs.hosts)) {
        // The passwords arrive on stdin, never on this command line.
        const hits = stand.ssh(
          host,
          "f=$(mktemp); cat > $f; { journalctl --no-pager -q 2>/dev/null; cat /var/log/postgresql/* /var/lib/postgresql/*/*/log/* 2>/dev/null; } | grep -c -F -f $f || true; rm -f $f",
          passwords.join("\n") + "\n",
        );
        expect(hits, host).toBe("0");
      }
    });
  });
}
