// The etcd steps that need every member, run from one of them: the health
// gate (every configured member healthy, one cluster version) and the
// rolling restart that applies changed settings one member at a time.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand, SshConnection } from "../../providers/shellCommand";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { HostSteps } from "../../steps/hostSteps";
import { HostFacts, inlineScript, scriptsIn } from "../../steps/stepScript";
import { dropInPath } from "../../render/systemdUnit";
import { ETCD_DROP_IN, ETCD_ENVIRONMENT_PATH, etcdHosts, etcdInitialCluster, etcdMetricsListener } from "./slice";

const script = scriptsIn(__dirname);

export class EtcdCluster {
  constructor(
    private readonly parent: pulumi.Resource,
    private readonly name: string,
    private readonly config: StackConfig,
    private readonly facts: HostFacts,
    private readonly connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>,
  ) {}

  private on(h: HostConfig, component: string): HostSteps {
    return new HostSteps(this.parent, component, { name: h.name, connection: this.connectionOf(h) }, this.facts);
  }

  /** Every etcd member answers and the cluster has exactly the members configured. */
  healthy(members: pulumi.Resource[]): ShellCommand {
    const hosts = etcdHosts(this.config);
    return this.on(hosts[0], this.name).gate(
      "etcd-gate",
      {
        what: "etcd-cluster",
        script: script("wait-etcd", { MEMBERS: hosts.length, TIMEOUT: 120 }),
        triggers: [etcdInitialCluster(this.config)],
      },
      { legacyName: `${hosts[0].name}-gate-etcd-cluster`, dependsOn: members },
    );
  }

  /**
   * Changed etcd settings (timings, the unit drop-in) applied one member at a
   * time, each step waiting for the previous one and for every member to be
   * healthy. Nothing to do on the first deploy.
   */
  rollingRestart(after: pulumi.Resource[]): ShellCommand[] {
    const hosts = etcdHosts(this.config);
    const e = this.config.etcd;
    const settings = JSON.stringify({
      heartbeatIntervalMs: e.heartbeatIntervalMs,
      electionTimeoutMs: e.electionTimeoutMs,
      dropIn: ETCD_DROP_IN,
      // The metrics listener exists with TLS or a monitor host only (etcdEnvironment.ts).
      ...(etcdMetricsListener(this.config) ? { metricsPort: e.metricsPort } : {}),
    });
    let previous = after;
    return hosts.map((h) => {
      const step = this.on(h, `${this.name}-${h.name}`).command(
        "etcd-restart",
        {
          description: "restart the etcd member for changed settings",
          create: inlineScript("etcd-started", "echo 'etcd started with these settings'"),
          update: script("etcd-restart", {
            MEMBERS: hosts.length,
            TIMEOUT: 120,
            FILES: [ETCD_ENVIRONMENT_PATH, dropInPath("etcd.service")].join(" "),
          }),
          triggers: [settings],
          // A restart: only for changed settings, never because the script itself changed.
          runOnlyOnTriggers: true,
        },
        { dependsOn: previous },
      );
      previous = [step];
      return step;
    });
  }
}
