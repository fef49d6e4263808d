// HostSurvey: what already runs on an existing host, read before this
// stack's first deploy there. Its check runs at preview, and again at the
// start of `pulumi up`, before any step: it logs in as every step will (the
// configured user, key and port; sudo for a user other than root), runs a
// read-only script and records each line it prints (a service found there).
// With `refusal` set, every finding fails the check, so `pulumi preview`
// names the host and what runs there, and `pulumi up` stops before any host
// changes (every host's first step waits for every survey).
//
// Only a host's first contact is surveyed: once the stack has deployed onto
// it, what runs there is the stack's own. A host that does not answer at
// all (ssh-keyscan) is left to the steps, whose first one fails with the
// reason; one that answers but refuses the login, or whose sudo asks for a
// password, fails the survey with ssh's or sudo's words.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { presentedKeys } from "./hostKey";
import { runScript } from "./remoteScript";
import { UNKNOWN } from "./shellCommand";
import { storedProvider } from "./storedProvider";

export interface HostSurveyInputs {
  hostName: string;
  address: string;
  port: number;
  user: string;
  /** The stack's private key: used by the check, never stored. */
  privateKey?: string;
  /** ssh.hostKeys[hostName]; without one, the key the host presents now (nothing secret is sent). */
  pinned?: string;
  /** The read-only script: one line per service found (never stored). */
  script?: string;
  /** The problem a finding is, "{found}" standing for it; absent: findings are only recorded. */
  refusal?: string;
  /** What the first contact found (set by the check); [] also when the host did not answer. */
  found?: string[];
}

/** What stands for a finding in `refusal`. */
export const FOUND = "{found}";

/** The problems the findings are: each finding in the refusal's words, or none without a refusal. */
export function surveyProblems(refusal: string | undefined, found: readonly string[]): string[] {
  return refusal ? found.map((f) => refusal.split(FOUND).join(f)) : [];
}

/** What the state keeps of the inputs: no key, no script. */
const kept = (i: HostSurveyInputs): HostSurveyInputs => {
  const { privateKey: _key, script: _script, ...rest } = i;
  return rest;
};

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const hostSurveyProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<HostSurveyInputs>, news: HostSurveyInputs) {
    // Surveyed before: the stack has deployed here since.
    if (olds.hostName !== undefined) return { inputs: { ...kept(news), found: olds.found ?? [] } };
    if (JSON.stringify(news).includes(UNKNOWN) || !news.privateKey || !news.script) return { inputs: kept(news) };
    const keys = news.pinned ? [news.pinned] : await presentedKeys(news.address, news.port);
    if (keys.length === 0) return { inputs: { ...kept(news), found: [] } };
    const target = `${news.user}@${news.address}:${news.port}`;
    const r = await runScript(
      {
        description: `${news.hostName}: what runs there before the first deploy`,
        connection: {
          host: news.address,
          port: news.port,
          user: news.user,
          privateKey: news.privateKey,
          hostKey: keys[0],
        },
        timeoutSeconds: 60,
      },
      news.script,
      undefined,
      1,
      "survey",
    );
    if (r.code !== 0) {
      const tail = r.output.trim().split("\n").slice(-5).join(" / ");
      return {
        inputs: kept(news),
        failures: [
          {
            property: "",
            reason:
              `hosts ${news.hostName}: could not read what runs there (as ${target}, exit code ${r.code}): ${tail}. ` +
              `Every step logs in the same way: check the address, the port (ssh.port, hosts[].sshPort), ssh.user ` +
              `(root, or a user with passwordless sudo) and sshPrivateKey. Nothing on the hosts was changed.`,
          },
        ],
      };
    }
    const found = r.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
    const problems = surveyProblems(news.refusal, found);
    return {
      inputs: { ...kept(news), found },
      failures: problems.map((p) => ({ property: "", reason: `${p}. Nothing on the hosts was changed.` })),
    };
  },
  async diff() {
    // Read once: a later change (a pinned key, adoptExisting) changes nothing on the host.
    return { changes: false };
  },
  async create(inputs: HostSurveyInputs) {
    return { id: crypto.randomUUID(), outs: kept(inputs) };
  },
};

export class HostSurvey extends pulumi.dynamic.Resource {
  /** What the first contact found there (the services it took over, when adoptExisting said so). */
  declare readonly found: pulumi.Output<string[]>;

  constructor(
    name: string,
    args: {
      hostName: string;
      address: string;
      port: number;
      user: string;
      privateKey: pulumi.Input<string>;
      pinned?: string;
      script: string;
      refusal?: string;
    },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      storedProvider("hostSurvey", "hostSurveyProvider", hostSurveyProvider),
      name,
      { ...args, found: undefined },
      opts,
      "patroni",
      "HostSurvey",
    );
  }
}
