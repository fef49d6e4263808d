// haproxy.cfg: clients reach the primary on primaryPort and healthy replicas
// on replicaPort. A server is up only when Patroni says it has the right role
// AND its PgBouncer answers the PostgreSQL protocol: anchors that ask Patroni
// alone keep sending sessions to a node whose PgBouncer is dead.
// https://docs.haproxy.org/3.0/configuration.html#tcp-check%20connect
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { HAPROXY_ADMIN_SOCKET, HAPROXY_STATS_USER, primaryBackend, replicaBackend } from "./slice";

export interface HaproxyBackendServer {
  readonly name: string;
  readonly address: string;
  /** Where client sessions go: PgBouncer's port when the host has it, else PostgreSQL's. */
  readonly port: number;
}

export interface HaproxyConfigInput {
  readonly clusterName: string;
  readonly listenAddress: string;
  readonly primaryPort: number;
  readonly replicaPort: number;
  readonly statsPort: number;
  readonly maxConn: number;
  readonly restApiPort: number;
  readonly replicaMaxLag: string;
  readonly checkIntervalMs: number;
  readonly fastCheckIntervalMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly servers: readonly HaproxyBackendServer[];
  readonly statsPassword: string;
  /** Client networks (CIDR) admitted on every port; others are refused at connect. */
  readonly allowedSources: readonly string[];
  /**
   * HAProxy's built-in Prometheus exporter on a frontend of its own, open to
   * the monitor (and the host itself) only, when the stack has a monitor host.
   */
  readonly metrics?: { readonly port: number; readonly sources: readonly string[] };
}

// PostgreSQL SSLRequest (length 8, code 80877103): PgBouncer and PostgreSQL
// answer "N" (no TLS) or "S"; a dead or frozen one answers nothing.
const SSL_REQUEST = "0000000804d2162f";

function backend(name: string, port: number, patroniPath: string, input: HaproxyConfigInput): string {
  const lines = [
    `listen ${name}`,
    `bind ${input.listenAddress}:${port}`,
    `bind 127.0.0.1:${port}`,
    `tcp-request connection reject unless { src 127.0.0.1 ${input.allowedSources.join(" ")} }`,
    "balance roundrobin",
    `default-server inter ${input.checkIntervalMs}ms fastinter ${input.fastCheckIntervalMs}ms fall ${input.fall} rise ${input.rise} on-marked-down shutdown-sessions`,
    "option tcp-check",
    // 1. Patroni says this member has the role this port serves.
    `tcp-check connect port ${input.restApiPort}`,
    `tcp-check send "OPTIONS ${patroniPath} HTTP/1.0\\r\\n\\r\\n"`,
    "tcp-check expect rstring ^HTTP/1\\.[01]\\ 200",
    // 2. The port sessions go to (PgBouncer, or PostgreSQL) speaks the protocol.
    "tcp-check connect",
    `tcp-check send-binary ${SSL_REQUEST}`,
    "tcp-check expect rbinary ^(4[Ee]|53)",
  ];
  for (const s of input.servers) lines.push(`server ${s.name} ${s.address}:${s.port} check`);
  return lines.map((l, i) => (i === 0 ? l : `    ${l}`)).join("\n");
}

export function renderHaproxyConfig(ctx: ManagedFileContext, input: HaproxyConfigInput): string {
  const global = [
    "global",
    `    maxconn ${input.maxConn}`,
    "    log /dev/log local0",
    "    user haproxy",
    "    group haproxy",
    "    daemon",
    `    stats socket ${HAPROXY_ADMIN_SOCKET} mode 660 level admin`,
  ].join("\n");
  const defaults = [
    "defaults",
    "    mode tcp",
    "    log global",
    "    option dontlognull",
    "    retries 2",
    "    timeout connect 4s",
    "    timeout client 30m",
    "    timeout server 30m",
    "    timeout check 3s",
  ].join("\n");
  const stats = [
    "listen stats",
    "    mode http",
    `    bind ${input.listenAddress}:${input.statsPort}`,
    `    tcp-request connection reject unless { src 127.0.0.1 ${input.allowedSources.join(" ")} }`,
    // The fault harness polls this page several times a second: not worth a log line each.
    "    http-request set-log-level silent",
    "    stats enable",
    "    stats uri /",
    "    stats refresh 5s",
    `    stats auth ${HAPROXY_STATS_USER}:${input.statsPassword}`,
  ].join("\n");
  const primary = backend(primaryBackend(input.clusterName), input.primaryPort, "/primary", input);
  const replicas = backend(
    replicaBackend(input.clusterName),
    input.replicaPort,
    `/replica?lag=${input.replicaMaxLag}`,
    input,
  );
  // Debian's HAProxy is built with the Prometheus exporter (USE_PROMEX); the stats password stays out of it.
  const metrics =
    input.metrics &&
    [
      "frontend prometheus",
      "    mode http",
      `    bind ${input.listenAddress}:${input.metrics.port}`,
      `    tcp-request connection reject unless { src 127.0.0.1 ${input.metrics.sources.join(" ")} }`,
      "    no log",
      "    http-request use-service prometheus-exporter if { path /metrics }",
      "    http-request return status 404",
    ].join("\n");
  return (
    managedHeader(ctx) + [global, defaults, stats, primary, replicas, ...(metrics ? [metrics] : [])].join("\n\n") + "\n"
  );
}
