// haproxy.cfg: clients reach the primary on primaryPort and healthy replicas
// on replicaPort. A server is up only when Patroni says it has the right role
// AND its PgBouncer answers the PostgreSQL protocol: anchors that ask Patroni
// alone keep sending sessions to a node whose PgBouncer is dead.
// https://docs.haproxy.org/3.0/configuration.html#tcp-check%20connect
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { TlsPaths } from "../../tls/settings";
import { HaproxyStage, stageMarker } from "../../tls/stages";
import {
  HAPROXY_ADMIN_SOCKET,
  HAPROXY_PRIMARY_UP_URI,
  HAPROXY_STATS_USER,
  primaryBackend,
  replicaBackend,
} from "./slice";

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
   * the monitor (and the host itself) only, when the stack has a monitor host;
   * https with this host's certificate once TLS is on.
   */
  readonly metrics?: { readonly port: number; readonly sources: readonly string[] };
  readonly tls: HaproxyTls;
}

/**
 * tls: the Patroni checks over TLS, the server's certificate verified against
 * the cluster's CA and its host name (verifyhost: DNS names only), this
 * host's certificate shown (the REST API requires one); the stats page over
 * https. tolerant (TLS migration only): plain checks that ride out a REST
 * API restarting or switching to https (TOLERANT_FALL failures).
 */
export interface HaproxyTls {
  readonly stage: HaproxyStage;
  readonly paths: Pick<TlsPaths, "ca" | "haproxyPem">;
}

/**
 * How long a server's checks may fail before it is down while the TLS
 * migration restarts Patroni and turns its REST API to https (a Patroni
 * restart took 10 to 15 s on two busy shared cores).
 */
export const TOLERANT_MS = 30_000;

/** Failed checks (at fastinter) that add up to TOLERANT_MS, never fewer than the configured fall. */
export const tolerantFall = (input: Pick<HaproxyConfigInput, "fall" | "fastCheckIntervalMs">) =>
  Math.max(input.fall, Math.ceil(TOLERANT_MS / input.fastCheckIntervalMs));

// PostgreSQL SSLRequest (length 8, code 80877103): PgBouncer and PostgreSQL
// answer "N" (no TLS) or "S"; a dead or frozen one answers nothing.
const SSL_REQUEST = "0000000804d2162f";

/**
 * Every address of the host, whatever the VIP: HAProxy starts and reloads
 * whether or not this host holds the VIP, serves it the moment keepalived
 * adds it here, and its configuration never changes with the VIP: setting,
 * moving or removing the VIP never reloads HAProxy, and the old address
 * keeps being served until the clients moved (a plain bind to an address
 * the host does not have fails, and `haproxy -c` does not catch it).
 * Who may connect is filtered by source (`admitted`).
 */
const binds = (port: number) => [`bind 0.0.0.0:${port}`];

/**
 * Clients of the allowed networks, and the host itself by any of its
 * addresses (loopback, its own, the VIP while it holds it).
 */
const admitted = (input: HaproxyConfigInput) =>
  `tcp-request connection reject unless { src 127.0.0.1 ${input.allowedSources.join(" ")} } || { src_is_local }`;

function backend(name: string, port: number, patroniPath: string, input: HaproxyConfigInput): string {
  const tls = input.tls.stage === "tls";
  const fall = input.tls.stage === "tolerant" ? tolerantFall(input) : input.fall;
  const checkTls = tls ? ` ca-file ${input.tls.paths.ca} crt ${input.tls.paths.haproxyPem} verify required` : "";
  const lines = [
    `listen ${name}`,
    ...binds(port),
    admitted(input),
    "balance roundrobin",
    `default-server inter ${input.checkIntervalMs}ms fastinter ${input.fastCheckIntervalMs}ms fall ${fall} rise ${input.rise} on-marked-down shutdown-sessions${checkTls}`,
    "option tcp-check",
    // 1. Patroni says this member has the role this port serves. Client
    // sessions themselves pass through: TLS is between the client and PgBouncer.
    `tcp-check connect port ${input.restApiPort}${tls ? " ssl" : ""}`,
    `tcp-check send "OPTIONS ${patroniPath} HTTP/1.0\\r\\n\\r\\n"`,
    "tcp-check expect rstring ^HTTP/1\\.[01]\\ 200",
    // 2. The port sessions go to (PgBouncer, or PostgreSQL) speaks the protocol.
    "tcp-check connect",
    `tcp-check send-binary ${SSL_REQUEST}`,
    "tcp-check expect rbinary ^(4[Ee]|53)",
  ];
  for (const s of input.servers)
    lines.push(`server ${s.name} ${s.address}:${s.port} check${tls ? ` verifyhost ${s.name}` : ""}`);
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
    // A client that vanished (its host died, or a VIP move left its session
    // here while its packets now reach another host) holds a PgBouncer
    // session until timeout client: probe idle clients, close the dead.
    "    option clitcpka",
    "    clitcpka-idle 10s",
    "    clitcpka-intvl 5s",
    "    clitcpka-cnt 3",
    "    retries 2",
    "    timeout connect 4s",
    "    timeout client 30m",
    "    timeout server 30m",
    "    timeout check 3s",
  ].join("\n");
  const stats = [
    "listen stats",
    "    mode http",
    // With TLS, https on every address (the VIP too: the HAProxy hosts' certificates name it).
    ...binds(input.statsPort).map(
      (b) => `    ${b}${input.tls.stage === "tls" ? ` ssl crt ${input.tls.paths.haproxyPem}` : ""}`,
    ),
    `    ${admitted(input)}`,
    // Without authentication, before it: 200 while a primary is up behind this HAProxy, 503
    // otherwise. keepalived's check asks it here and on the peers (keepalived-check.sh).
    `    monitor-uri ${HAPROXY_PRIMARY_UP_URI}`,
    `    monitor fail if { nbsrv(${primaryBackend(input.clusterName)}) lt 1 }`,
    // keepalived's checks ask /primary-up every second on every host, the fault harness polls the
    // page several times a second: not worth a log line each.
    "    no log",
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
      `    bind ${input.listenAddress}:${input.metrics.port}${input.tls.stage === "tls" ? ` ssl crt ${input.tls.paths.haproxyPem}` : ""}`,
      `    tcp-request connection reject unless { src 127.0.0.1 ${input.metrics.sources.join(" ")} }`,
      "    no log",
      "    http-request use-service prometheus-exporter if { path /metrics }",
      "    http-request return status 404",
    ].join("\n");
  return (
    managedHeader(ctx) +
    stageMarker(input.tls.stage) +
    [global, defaults, stats, primary, replicas, ...(metrics ? [metrics] : [])].join("\n\n") +
    "\n"
  );
}
