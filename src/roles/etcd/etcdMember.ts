// One etcd member: its settings, environment file, unit drop-in, service.
// The cluster-wide health gate lives in cluster/clusterSteps.ts because it
// needs every member.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { port, positiveInt } from "../../config/primitives";
import { StackConfig } from "../../config/schema";
import { Topology } from "../../config/topology";
import { dropInPath, ETCD_DROP_IN, renderSystemdDropIn } from "../../render/systemdUnit";
import { ShellCommand } from "../../providers/shellCommand";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { RoleArgs } from "../roleArgs";
import { renderStepScript } from "../../steps/stepScript";
import { ETCD_ENVIRONMENT_PATH, ETCD_JOIN_ENVIRONMENT_PATH, etcdDataDirectory, renderEtcdEnvironment } from "./etcdEnvironment";

export const etcdSettingsSchema = z
  .object({
    clientPort: port.default(2379).describe("etcd client port."),
    peerPort: port.default(2380).describe("etcd peer port."),
    heartbeatIntervalMs: positiveInt.default(1000).describe("etcd heartbeat interval."),
    electionTimeoutMs: positiveInt.default(5000).describe("etcd election timeout."),
  })
  .strict();

/** Ports an etcd member opens, with the field that sets each. */
export const etcdPorts = (c: StackConfig) => [
  { port: c.etcd.clientPort, field: "etcd.clientPort" },
  { port: c.etcd.peerPort, field: "etcd.peerPort" },
];

export function etcdProblems(c: StackConfig, topo: Topology): string[] {
  const problems: string[] = [];
  if (topo.etcdHosts.length === 0) problems.push(`hosts: no host has the etcd role; Patroni needs etcd as its DCS (1, 3 or 5 members)`);
  else if (topo.etcdHosts.length % 2 === 0) {
    problems.push(
      `hosts: ${topo.etcdHosts.length} hosts have the etcd role; etcd needs an odd number of members (1, 3, 5, 7) to keep a majority`,
    );
  }
  if (c.etcd.electionTimeoutMs < 5 * c.etcd.heartbeatIntervalMs) {
    problems.push(
      `etcd.electionTimeoutMs: must be at least 5 x heartbeatIntervalMs (${5 * c.etcd.heartbeatIntervalMs}), got ${c.etcd.electionTimeoutMs}`,
    );
  }
  return problems;
}

export type EtcdMemberArgs = RoleArgs;

export class EtcdMember extends pulumi.ComponentResource {
  /** The running member; the cluster's etcd gate waits for every one. */
  readonly ready: ShellCommand;

  constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:EtcdMember", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:EtcdMember" }] });
    const { config, host } = args;
    const steps = new HostSteps(this, name, host);
    const env = renderEtcdEnvironment(args.managed, {
      clusterName: config.cluster.name,
      memberName: host.name,
      address: host.address,
      clientPort: config.etcd.clientPort,
      peerPort: config.etcd.peerPort,
      initialCluster: args.topology.etcdInitialCluster,
      heartbeatIntervalMs: config.etcd.heartbeatIntervalMs,
      electionTimeoutMs: config.etcd.electionTimeoutMs,
    });
    const dropIn = renderSystemdDropIn(args.managed, ETCD_DROP_IN);
    const legacy = (step: string) => ({ legacyName: `${host.name}-${step}`, dependsOn: args.dependsOn });
    const files = [
      steps.file("env", { path: ETCD_ENVIRONMENT_PATH, content: env, removeOnDestroy: false }, legacy("file-etcd-env")),
      steps.file("dropin", { path: dropInPath("etcd.service"), content: dropIn }, legacy("file-etcd-dropin")),
    ];
    // etcd cannot reload its flags, and restarting every member at once loses
    // quorum: a changed setting is applied by the cluster's rolling etcd
    // restart (cluster/clusterSteps.ts), one member at a time.
    // Members start (or join, or leave) one at a time: each waits for the previous one's step.
    const member = (action: string) =>
      renderStepScript("etcd-member", {
        ACTION: action,
        NAME: host.name,
        PEER_URL: `http://${host.address}:${config.etcd.peerPort}`,
        CLIENT_URL: `http://${host.address}:${config.etcd.clientPort}`,
        ENDPOINTS: args.topology.etcdClientUrls.join(","),
        DATA_DIR: etcdDataDirectory(config.cluster.name),
        JOIN_ENV: ETCD_JOIN_ENVIRONMENT_PATH,
        JOIN_DROP_IN: dropInPath("etcd.service", "pulumi-patroni-join"),
        TIMEOUT: 120,
        ...steps.ownerEnv,
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
