// What every host gets before its roles: the SSH reachability gate, its
// platform (release and package versions, read once apt has the configured
// sources), then its roles' packages in one apt transaction (two roles
// installing in parallel would fight over the dpkg lock). The install waits
// for every host's platform to be accepted, so a refused host leaves every
// host as it was.
import * as pulumi from "@pulumi/pulumi";
import { hasRole, Topology } from "../../config/topology";
import { HostPlatform, parsePlatformReport, PlatformReport, resolveHostPlatform } from "../../platform/platform";
import { ShellCommand } from "../../providers/shellCommand";
import { HostConfig, packagesFor, StackConfig } from "../../stack/stackConfig";
import { HostSteps, StepHost } from "../../steps/hostSteps";
import { HostFacts, renderHostScript, scriptsIn } from "../../steps/stepScript";
import * as path from "path";
import { ETCD_ROLE } from "../etcd/slice";
import { POSTGRES_ROLE } from "../postgres/slice";

const script = scriptsIn(__dirname);
const tlsScript = scriptsIn(path.join(__dirname, "..", "..", "tls"));

/** What HostSurvey runs on an existing host before its first deploy (survey.sh): reads only. */
export const surveyScript = (facts: HostFacts): string => renderHostScript(script("survey"), facts);

export interface HostBaseArgs {
  readonly config: StackConfig;
  readonly host: StepHost & { readonly roles: StackConfig["hosts"][number]["roles"] };
  /** The facts every host script may use by name. */
  readonly facts: HostFacts;
  /** Resources that must exist first (the local machine). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class HostBase extends pulumi.ComponentResource {
  /** What the host reported: release and package versions. */
  readonly report: pulumi.Output<PlatformReport>;
  /** Every role step of this host depends on this (set by installPackages). */
  ready!: ShellCommand;
  /**
   * What the etcd role's steps depend on: its own packages, installed first
   * when the host has other roles too, so that etcd forms its cluster (an
   * election timeout, then the members agreeing on a version: about 10 s)
   * while PostgreSQL and Patroni install. Else `ready`.
   */
  etcdReady!: ShellCommand;
  /** This host's TLS files (with TLS on): every role's first step waits for them too. */
  tls?: ShellCommand;
  private readonly steps: HostSteps;
  /** The platform step: the host answers and runs a Debian we know (the TLS rollout reads hosts after it). */
  readonly platform: ShellCommand;
  private readonly packages: string[];
  /** The etcd role's packages when they are installed in a transaction of their own (see etcdReady). */
  private readonly etcdPackages?: string[];

  constructor(name: string, args: HostBaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:HostBase", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:HostBase" }] });
    const { config, host } = args;
    this.steps = new HostSteps(this, name, host, args.facts);
    this.packages = packagesFor(host.roles, config);
    const etcdPackages = packagesFor([ETCD_ROLE], config);
    if (host.roles.includes(ETCD_ROLE) && this.packages.length > etcdPackages.length) this.etcdPackages = etcdPackages;
    const reachable = this.steps.command(
      "reachable",
      {
        description: "reachable over SSH",
        create: script("reachable"),
        // A freshly booted host may need a while before sshd answers.
        connectAttempts: 40,
      },
      { legacyName: `${host.name}-reachable`, dependsOn: args.dependsOn },
    );
    const keyrings = Object.keys(config.cluster.aptKeyrings)
      .sort()
      .map((k) => `${k} ${Buffer.from(config.cluster.aptKeyrings[k]).toString("base64")}`);
    this.platform = this.steps.command(
      "platform",
      {
        description: "read the platform",
        create: script("platform", {
          PACKAGES: this.packages.join(" "),
          APT_SOURCES: config.cluster.aptSources.join("\n"),
          APT_KEYRINGS: keyrings.join("\n"),
        }),
        captureStdout: true,
      },
      { legacyName: `${host.name}-platform`, dependsOn: [reachable] },
    );
    this.report = this.platform.stdout.apply(parsePlatformReport);
  }

  /** Installs the packages once `accepted` resolves (every host's platform passed its check) and `after` is done. */
  installPackages(accepted: pulumi.Input<string>, after: pulumi.Resource[] = []): ShellCommand {
    // Two apt transactions on one host run one after the other (the dpkg lock).
    const first = this.etcdPackages
      ? [
          this.steps.command(
            "etcd-packages",
            {
              description: "install etcd's packages",
              create: script("install-packages", { PACKAGES: this.etcdPackages.join(" ") }),
              triggers: [accepted],
            },
            { dependsOn: [this.platform, ...after] },
          ),
        ]
      : [];
    this.ready = this.steps.command(
      "packages",
      {
        description: "install packages",
        create: script("install-packages", { PACKAGES: this.packages.join(" ") }),
        triggers: [accepted],
      },
      { legacyName: `${this.steps.host.name}-packages`, dependsOn: [this.platform, ...after, ...first] },
    );
    this.etcdReady = first[0] ?? this.ready;
    this.registerOutputs({ facts: this.report, ready: this.ready.id });
    return this.ready;
  }

  /**
   * This host's TLS files (tls-files.sh's stdin: secret), once the packages
   * that bring the key's group and etcd's user are in (the first
   * transaction), and `after` (the TLS rollout, which has the running hosts'
   * files as they should be by then: this step only writes a new host's).
   */
  writeTlsFiles(files: pulumi.Input<string>, keys: pulumi.Input<string[]>, after: pulumi.Resource[]): ShellCommand {
    this.tls = this.steps.command(
      "tls-files",
      {
        description: "write the TLS files",
        create: tlsScript("tls-files"),
        stdin: pulumi.secret(files),
        mask: keys,
      },
      { dependsOn: [this.etcdReady, ...after] },
    );
    return this.tls;
  }
}

/**
 * Every host's platform, or an error naming each host that cannot run its
 * roles. Package installs wait for this, so a refused host changes no host.
 */
export function acceptPlatforms(
  config: StackConfig,
  bases: ReadonlyMap<string, HostBase>,
  parent: pulumi.Resource,
): pulumi.Output<Record<string, HostPlatform>> {
  return pulumi.all(Object.fromEntries([...bases].map(([h, base]) => [h, base.report]))).apply((facts) => {
    const accepted: Record<string, HostPlatform> = {};
    const problems: string[] = [];
    for (const h of config.hosts) {
      const r = resolveHostPlatform(
        {
          hostName: h.name,
          roles: h.roles,
          packages: packagesFor(h.roles, config),
          postgresVersion: config.cluster.postgresVersion,
          adoptExisting: h.adoptExisting,
        },
        facts[h.name],
      );
      problems.push(...r.problems);
      if (r.platform) accepted[h.name] = r.platform;
    }
    if (problems.length > 0) {
      throw new pulumi.ResourceError(
        `no host was changed; these hosts cannot run their roles:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
        parent,
      );
    }
    return accepted;
  });
}

/**
 * Packages on every host once every platform is accepted: the database hosts
 * first when the hosts share the controller's CPU (local machines), the
 * others while the database bootstraps. Returns the accepted platforms.
 */
export function installPackages(
  config: StackConfig,
  topology: Topology<HostConfig>,
  bases: ReadonlyMap<string, HostBase>,
  parent: pulumi.Resource,
): pulumi.Output<Record<string, HostPlatform>> {
  const platforms = acceptPlatforms(config, bases, parent);
  const accepted = platforms.apply(() => "every host's platform accepted");
  const isDatabaseHost = (h: HostConfig) => hasRole(h, POSTGRES_ROLE) || hasRole(h, ETCD_ROLE);
  const databasePackages = config.hosts.filter(isDatabaseHost).map((h) => bases.get(h.name)!.installPackages(accepted));
  for (const h of config.hosts.filter((h) => !isDatabaseHost(h))) {
    bases.get(h.name)!.installPackages(accepted, topology.hostsShareCpu ? databasePackages : []);
  }
  return platforms;
}
