// HAProxy: haproxy.cfg (checked with `haproxy -c` before it
// replaces the old one; secret because it holds the stats password), unit
// drop-in, service (a reload keeps established sessions), then a gate
// waiting until one primary and the expected replicas are up.
import * as pulumi from "@pulumi/pulumi";
import { hasRole, Topology } from "../../config/topology";
import { ShellCommand } from "../../providers/shellCommand";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { MASKED, secretValues } from "../../stack/passwords";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { PGBOUNCER_ROLE } from "../pgbouncer/slice";
import { POSTGRES_ROLE } from "../postgres/slice";
import { HAPROXY_METRICS_PORT } from "../monitor/exporters";
import { monitorHostOf } from "../monitor/slice";
import { RoleArgs } from "../roleArgs";
import { HaproxyConfigInput, renderHaproxyConfig } from "./haproxyConfig";
import { HAPROXY_CONFIG_PATH, HAPROXY_DROP_IN, primaryBackend, replicaBackend } from "./slice";
import { TLS_PATHS } from "../../tls/settings";
import { HaproxyStage, stagesOf } from "../../tls/stages";

const script = scriptsIn(__dirname);

/** haproxy.cfg's input for one HAProxy host: every PostgreSQL host, through its PgBouncer when it has one. */
export function haproxyConfigInput(
  c: StackConfig,
  topo: Topology<HostConfig>,
  host: HostConfig,
  statsPassword: string,
  stage: HaproxyStage = stagesOf(c.tls.enabled).haproxy,
): HaproxyConfigInput {
  // PgBouncer behind HAProxy sees HAProxy's address, not the client's: who may
  // connect at all is decided here.
  const monitor = monitorHostOf(topo);
  return {
    clusterName: c.cluster.name,
    listenAddress: host.address,
    primaryPort: c.haproxy.primaryPort,
    replicaPort: c.haproxy.replicaPort,
    statsPort: c.haproxy.statsPort,
    maxConn: c.haproxy.maxConn,
    restApiPort: c.cluster.restApiPort,
    replicaMaxLag: c.haproxy.replicaMaxLag,
    checkIntervalMs: c.haproxy.checkIntervalMs,
    fastCheckIntervalMs: c.haproxy.fastCheckIntervalMs,
    fall: c.haproxy.fall,
    rise: c.haproxy.rise,
    servers: topo.withRole(POSTGRES_ROLE).map((h) => ({
      name: h.name,
      address: h.address,
      port: hasRole(h, PGBOUNCER_ROLE) ? c.pgbouncer.port : c.cluster.postgresPort,
    })),
    statsPassword,
    allowedSources: [
      ...new Set([
        ...topo.sessionAddresses.map((a) => `${a}/32`),
        ...c.cluster.adminNetworks,
        ...c.haproxy.clientNetworks,
      ]),
    ],
    metrics: monitor && { port: HAPROXY_METRICS_PORT, sources: [`${monitor.address}/32`] },
    tls: { stage, paths: TLS_PATHS },
  };
}

/** How haproxy.cfg is written (by this node's step and by the TLS rollout): checked before it replaces the old one. */
export const HAPROXY_CONFIG_FILE = {
  path: HAPROXY_CONFIG_PATH,
  mode: "0640",
  owner: "root",
  group: "haproxy",
  validate: "haproxy -c -q -f %s",
} as const;

export type HaproxyNodeArgs = RoleArgs;

export class HaproxyNode extends pulumi.ComponentResource {
  /** One primary and the expected replicas are up behind this HAProxy. */
  readonly ready: ShellCommand;

  constructor(name: string, args: HaproxyNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:HaproxyNode", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:HaproxyNode" }] });
    const { config, topology, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const cfg = args.passwords.apply((p) =>
      renderHaproxyConfig(args.managed, haproxyConfigInput(config, topology, host, p.haproxyStats)),
    );
    const dropIn = renderSystemdDropIn(args.managed, HAPROXY_DROP_IN);
    const legacy = (step: string, dependsOn: pulumi.Input<pulumi.Resource>[] = args.dependsOn) => ({
      legacyName: `${host.name}-${step}`,
      dependsOn,
    });
    const files = [
      steps.file(
        "config",
        {
          ...HAPROXY_CONFIG_FILE,
          content: pulumi.secret(cfg),
          shown: renderHaproxyConfig(args.managed, haproxyConfigInput(config, topology, host, MASKED)),
          mask: args.passwords.apply(secretValues),
        },
        legacy("file-haproxy-config"),
      ),
      steps.file("dropin", { path: dropInPath("haproxy.service"), content: dropIn }, legacy("file-haproxy-dropin")),
    ];
    const triggers = [contentHash(cfg), contentHash(dropIn)];
    const service = steps.service(
      "service",
      { unit: "haproxy", onChange: "reload", triggers },
      legacy("service-haproxy", files),
    );
    const loadBalancedReplicas = topology.withRole(POSTGRES_ROLE).filter((h) => !h.tags.noloadbalance).length - 1;
    this.ready = steps.gate(
      "gate",
      {
        what: "haproxy",
        script: script("wait-haproxy", {
          PRIMARY_BACKEND: primaryBackend(config.cluster.name),
          REPLICA_BACKEND: replicaBackend(config.cluster.name),
          REPLICAS: Math.max(0, loadBalancedReplicas),
          TIMEOUT: 90,
        }),
        triggers,
      },
      legacy("gate-haproxy", [service]),
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
