// HAProxy: its settings, haproxy.cfg (checked with `haproxy -c` before it
// replaces the old one; secret because it holds the stats password), unit
// drop-in, service (a reload keeps established sessions), then a gate
// waiting until one primary and the expected replicas are up.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ipv4Cidr, port, positiveInt } from "../../config/primitives";
import { HostConfig, StackConfig } from "../../config/schema";
import { MASKED, secretValues } from "../../cluster/passwords";
import { hasRole, Topology } from "../../config/topology";
import { dropInPath, HAPROXY_DROP_IN, renderSystemdDropIn } from "../../render/systemdUnit";
import { ShellCommand } from "../../providers/shellCommand";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { RoleArgs } from "../roleArgs";
import { HAPROXY_ADMIN_SOCKET, HAPROXY_CONFIG_PATH, HaproxyConfigInput, renderHaproxyConfig } from "./haproxyConfig";

export const haproxySettingsSchema = z
  .object({
    primaryPort: port.default(5000).describe("Read-write port: routes to the primary."),
    replicaPort: port.default(5001).describe("Read-only port: routes to healthy replicas."),
    statsPort: port.default(7000).describe("Stats web page (basic auth, user 'admin')."),
    maxConn: positiveInt.default(1000).describe("Global maxconn."),
    replicaMaxLag: z
      .string()
      .regex(/^\d+(B|kB|MB|GB)$/, "must be a size like 10MB")
      .default("10MB")
      .describe("A replica lagging more than this leaves the replicas port."),
    checkIntervalMs: positiveInt.default(2000).describe("Health check interval (inter)."),
    fastCheckIntervalMs: positiveInt.default(1000).describe("Check interval while a server changes state (fastinter)."),
    fall: positiveInt.default(3).describe("Failed checks before a server is marked down."),
    rise: positiveInt.default(2).describe("Good checks before a server is marked up."),
    clientNetworks: z
      .array(ipv4Cidr)
      .default([])
      .describe(
        "Networks of the applications allowed on the primary and replica ports, besides the cluster's hosts and cluster.adminNetworks.",
      ),
  })
  .strict();

export const haproxyPorts = (c: StackConfig) => [
  { port: c.haproxy.primaryPort, field: "haproxy.primaryPort" },
  { port: c.haproxy.replicaPort, field: "haproxy.replicaPort" },
  { port: c.haproxy.statsPort, field: "haproxy.statsPort" },
];

export function haproxyProblems(_c: StackConfig, topo: Topology): string[] {
  return topo.haproxyHosts.length === 0
    ? [`hosts: no host has the haproxy role; clients reach the primary through HAProxy, list at least one`]
    : [];
}

export const primaryBackend = (c: StackConfig) => `${c.cluster.name}-primary`;
export const replicaBackend = (c: StackConfig) => `${c.cluster.name}-replicas`;

/** haproxy.cfg's input for one HAProxy host: every PostgreSQL host, through its PgBouncer when it has one. */
export function haproxyConfigInput(c: StackConfig, topo: Topology, host: HostConfig, statsPassword: string): HaproxyConfigInput {
  // PgBouncer behind HAProxy sees HAProxy's address, not the client's: who may
  // connect at all is decided here.
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
    servers: topo.postgresHosts.map((h) => ({
      name: h.name,
      address: h.address,
      port: hasRole(h, "pgbouncer") ? c.pgbouncer.port : c.cluster.postgresPort,
    })),
    statsPassword,
    allowedSources: [...new Set([...topo.sessionAddresses.map((a) => `${a}/32`), ...c.cluster.adminNetworks, ...c.haproxy.clientNetworks])],
  };
}

export type HaproxyNodeArgs = RoleArgs;

export class HaproxyNode extends pulumi.ComponentResource {
  /** One primary and the expected replicas are up behind this HAProxy. */
  readonly ready: ShellCommand;

  constructor(name: string, args: HaproxyNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:HaproxyNode", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:HaproxyNode" }] });
    const { config, topology, host } = args;
    const steps = new HostSteps(this, name, host);
    const cfg = args.passwords.apply((p) => renderHaproxyConfig(args.managed, haproxyConfigInput(config, topology, host, p.haproxyStats)));
    const dropIn = renderSystemdDropIn(args.managed, HAPROXY_DROP_IN);
    const legacy = (step: string, dependsOn: pulumi.Input<pulumi.Resource>[] = args.dependsOn) => ({
      legacyName: `${host.name}-${step}`,
      dependsOn,
    });
    const files = [
      steps.file(
        "config",
        {
          path: HAPROXY_CONFIG_PATH,
          content: pulumi.secret(cfg),
          shown: renderHaproxyConfig(args.managed, haproxyConfigInput(config, topology, host, MASKED)),
          mask: args.passwords.apply(secretValues),
          mode: "0640",
          owner: "root",
          group: "haproxy",
          validate: "haproxy -c -q -f %s",
        },
        legacy("file-haproxy-config"),
      ),
      steps.file("dropin", { path: dropInPath("haproxy.service"), content: dropIn }, legacy("file-haproxy-dropin")),
    ];
    const triggers = [contentHash(cfg), contentHash(dropIn)];
    const service = steps.service("service", { unit: "haproxy", onChange: "reload", triggers }, legacy("service-haproxy", files));
    const loadBalancedReplicas = topology.postgresHosts.filter((h) => !h.tags.noloadbalance).length - 1;
    this.ready = steps.gate(
      "gate",
      {
        what: "haproxy",
        template: "wait-haproxy",
        env: {
          PRIMARY_BACKEND: primaryBackend(config),
          REPLICA_BACKEND: replicaBackend(config),
          REPLICAS: Math.max(0, loadBalancedReplicas),
          SOCKET: HAPROXY_ADMIN_SOCKET,
          TIMEOUT: 90,
        },
        triggers,
      },
      legacy("gate-haproxy", [service]),
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
