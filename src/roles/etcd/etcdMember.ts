// One etcd member: its environment file, unit drop-in, service. The steps
// that need every member (the health gate, the rolling restart) are in
// etcdCluster.ts.
import * as pulumi from "@pulumi/pulumi";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { ShellCommand } from "../../providers/shellCommand";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { RoleArgs } from "../roleArgs";
import { stagesOf } from "../../tls/stages";
import {
  ETCD_ENVIRONMENT_PATH,
  ETCD_JOIN_ENVIRONMENT_PATH,
  etcdEnvironmentInput,
  renderEtcdEnvironment,
} from "./etcdEnvironment";
import { ETCD_DROP_IN, etcdClientUrl, etcdPeerUrl } from "./slice";

const script = scriptsIn(__dirname);

export type EtcdMemberArgs = RoleArgs;

export class EtcdMember extends pulumi.ComponentResource {
  /** The running member; the cluster's etcd gate waits for every one. */
  readonly ready: ShellCommand;

  constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:EtcdMember", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:EtcdMember" }] });
    const { config, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const env = renderEtcdEnvironment(
      args.managed,
      etcdEnvironmentInput(config, host, stagesOf(config.tls.enabled).etcd),
    );
    const dropIn = renderSystemdDropIn(args.managed, ETCD_DROP_IN);
    const legacy = (step: string) => ({ legacyName: `${host.name}-${step}`, dependsOn: args.dependsOn });
    const files = [
      steps.file("env", { path: ETCD_ENVIRONMENT_PATH, content: env, removeOnDestroy: false }, legacy("file-etcd-env")),
      steps.file("dropin", { path: dropInPath("etcd.service"), content: dropIn }, legacy("file-etcd-dropin")),
    ];
    // etcd cannot reload its flags, and restarting every member at once loses
    // quorum: a changed setting is applied by the cluster's rolling etcd
    // restart (etcdCluster.ts), one member at a time.
    // Members start (or join, or leave) one at a time: each waits for the previous one's step.
    const member = (action: string) =>
      script("etcd-member", {
        ACTION: action,
        NAME: host.name,
        PEER_URL: etcdPeerUrl(config, host),
        CLIENT_URL: etcdClientUrl(config, host),
        JOIN_ENV: ETCD_JOIN_ENVIRONMENT_PATH,
        JOIN_DROP_IN: dropInPath("etcd.service", "pulumi-patroni-join"),
        TIMEOUT: 120,
      });
    this.ready = steps.service(
      "service",
      {
        unit: "etcd",
        onChange: "start",
        triggers: [contentHash(env), contentHash(dropIn)],
        create: member("start"),
        update: member("ensure"),
        delete: member("leave"),
      },
      { legacyName: `${host.name}-service-etcd`, dependsOn: files },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
