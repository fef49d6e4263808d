// One etcd member: environment file, unit drop-in, service. The cluster-wide
// health gate lives in PostgresCluster because it needs every member.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../providers/shellCommand";
import { EtcdEnvironmentInput, ETCD_ENVIRONMENT_PATH, renderEtcdEnvironment } from "../render/etcdEnvironment";
import { ManagedFileContext } from "../render/managedHeader";
import { dropInPath, ETCD_DROP_IN, renderSystemdDropIn } from "../render/systemdUnit";
import { contentHash, HostContext, remoteFile, serviceStep } from "./hostSteps";

export interface EtcdMemberArgs {
  readonly host: Omit<HostContext, "parent">;
  readonly managed: ManagedFileContext;
  readonly environment: EtcdEnvironmentInput;
  /** The host's packages step. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class EtcdMember extends pulumi.ComponentResource {
  readonly service: ShellCommand;

  constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:EtcdMember", name, {}, opts);
    const ctx: HostContext = { ...args.host, parent: this };
    const env = renderEtcdEnvironment(args.managed, args.environment);
    const dropIn = renderSystemdDropIn(args.managed, ETCD_DROP_IN);
    const files = [
      remoteFile(ctx, "etcd-env", { path: ETCD_ENVIRONMENT_PATH, content: env, removeOnDestroy: false }, args.dependsOn),
      remoteFile(ctx, "etcd-dropin", { path: dropInPath("etcd.service"), content: dropIn }, args.dependsOn),
    ];
    // etcd cannot reload its flags: a changed environment needs a restart.
    this.service = serviceStep(ctx, { unit: "etcd", onChange: "restart", triggers: [contentHash(env), contentHash(dropIn)] }, files);
    this.registerOutputs({});
  }
}
