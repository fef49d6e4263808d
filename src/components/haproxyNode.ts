// HAProxy: haproxy.cfg (checked with `haproxy -c` before it replaces the old
// one; secret because it holds the stats password), unit drop-in, service
// (reload keeps established sessions), then a gate waiting until one primary
// and the expected replicas are up.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../providers/shellCommand";
import { HAPROXY_CONFIG_PATH } from "../render/haproxyConfig";
import { ManagedFileContext } from "../render/managedHeader";
import { dropInPath, HAPROXY_DROP_IN, renderSystemdDropIn } from "../render/systemdUnit";
import { contentHash, healthGate, HostContext, remoteFile, serviceStep } from "./hostSteps";

export interface HaproxyNodeArgs {
  readonly host: Omit<HostContext, "parent">;
  readonly managed: ManagedFileContext;
  /** Rendered haproxy.cfg (secret). */
  readonly config: pulumi.Input<string>;
  readonly primaryBackend: string;
  readonly replicaBackend: string;
  /** Replicas expected up on the replicas port. */
  readonly expectedReplicas: number;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class HaproxyNode extends pulumi.ComponentResource {
  readonly gate: ShellCommand;

  constructor(name: string, args: HaproxyNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:HaproxyNode", name, {}, opts);
    const ctx: HostContext = { ...args.host, parent: this };
    const dropIn = renderSystemdDropIn(args.managed, HAPROXY_DROP_IN);
    const files = [
      remoteFile(
        ctx,
        "haproxy-config",
        { path: HAPROXY_CONFIG_PATH, content: pulumi.secret(args.config), mode: "0640", owner: "root", group: "haproxy", validate: "haproxy -c -q -f %s", removeOnDestroy: false },
        args.dependsOn,
      ),
      remoteFile(ctx, "haproxy-dropin", { path: dropInPath("haproxy.service"), content: dropIn }, args.dependsOn),
    ];
    const triggers = [contentHash(args.config), contentHash(dropIn)];
    const service = serviceStep(ctx, { unit: "haproxy", onChange: "reload", triggers }, files);
    this.gate = healthGate(
      ctx,
      {
        name: "haproxy",
        template: "wait-haproxy",
        env: { PRIMARY_BACKEND: args.primaryBackend, REPLICA_BACKEND: args.replicaBackend, REPLICAS: args.expectedReplicas, TIMEOUT: 90 },
        triggers,
      },
      [service],
    );
    this.registerOutputs({});
  }
}
