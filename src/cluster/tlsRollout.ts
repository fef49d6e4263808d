// The TLS rollout's inputs (src/providers/tlsRollout.ts): every host, its
// TLS files, and the files of each of its components at the stages a running
// plain-text cluster moves through (src/tls/stages.ts), rendered by the
// roles' own renderers, so the last stage is byte for byte what the roles'
// steps write afterwards.
import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { hasRole, Topology } from "../config/topology";
import { HostPlatform } from "../platform/platform";
import { SshConnection } from "../providers/shellCommand";
import { RolloutHost, RolloutScripts, StageFile, TlsRollout } from "../providers/tlsRollout";
import { ManagedFileContext } from "../render/managedHeader";
import { etcdEnvironmentInput, renderEtcdEnvironment } from "../roles/etcd/etcdEnvironment";
import { ETCD_ROLE, etcdHosts } from "../roles/etcd/slice";
import { renderHaproxyConfig } from "../roles/haproxy/haproxyConfig";
import { HAPROXY_CONFIG_FILE, haproxyConfigInput } from "../roles/haproxy/haproxyNode";
import { HAPROXY_ROLE } from "../roles/haproxy/slice";
import { PGBOUNCER_HBA_PATH } from "../roles/pgbouncer/pgbouncerHba";
import { PGBOUNCER_INI_PATH } from "../roles/pgbouncer/pgbouncerIni";
import { PGBOUNCER_FILE_OWNER, renderPgbouncerFilesAt } from "../roles/pgbouncer/pgbouncerNode";
import { PGBOUNCER_ROLE } from "../roles/pgbouncer/slice";
import { renderPatroniConfigAt } from "../roles/postgres/patroniNode";
import { POSTGRES_ROLE } from "../roles/postgres/slice";
import { ClusterPasswords, secretValues } from "../stack/passwords";
import { HostConfig, StackConfig } from "../stack/stackConfig";
import { HostFacts, renderHostScript, scriptsIn, sharedScript } from "../steps/stepScript";
import { TLS_PATHS } from "../tls/settings";
import { ClusterTls, tlsFilesOf } from "./tls";

const tlsScript = scriptsIn(path.join(__dirname, "..", "tls"));
const etcdScript = scriptsIn(path.join(__dirname, "..", "roles", "etcd"));

export interface TlsRolloutArgs {
  readonly config: StackConfig;
  readonly topology: Topology<HostConfig>;
  readonly managed: ManagedFileContext;
  readonly facts: HostFacts;
  /** Absent with TLS off: the rollout then only guards against turning TLS off on a stack that has it. */
  readonly tls?: ClusterTls;
  readonly passwords: pulumi.Output<ClusterPasswords>;
  readonly platforms: pulumi.Output<Record<string, HostPlatform>>;
  readonly connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>;
}

const fingerprints = (pem: string) =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => new crypto.X509Certificate(m[0]).fingerprint256,
  );

export function tlsRollout(
  parent: pulumi.Resource,
  name: string,
  args: TlsRolloutArgs,
  dependsOn: pulumi.Input<pulumi.Resource>[],
): TlsRollout {
  const { config, topology, managed } = args;
  const render = (script: ReturnType<typeof tlsScript>) => renderHostScript(script, args.facts);
  const scripts: RolloutScripts = {
    state: render(tlsScript("tls-state")),
    files: render(tlsScript("tls-files")),
    trust: render(tlsScript("tls-trust")),
    reload: render(tlsScript("tls-reload")),
    etcdRestart: render(etcdScript("etcd-restart")),
    etcdStage: render(tlsScript("etcd-stage")),
    writeFile: render(sharedScript("write-file")),
    service: render(sharedScript("service")),
    patroniPause: render(tlsScript("patroni-pause")),
    patroniStage: render(tlsScript("patroni-stage")),
    leader: render(tlsScript("cluster-leader")),
    waitRest: render(tlsScript("wait-rest")),
  };
  const postgres = topology.withRole(POSTGRES_ROLE);
  const url = (scheme: string, h: HostConfig, port: number) => `${scheme}://${h.address}:${port}`;
  const hosts = pulumi.all([args.passwords, args.platforms]).apply(([passwords, platforms]) =>
    config.hosts.map((h) => {
      const stages: { -readonly [K in keyof RolloutHost["stages"]]: RolloutHost["stages"][K] } = {};
      if (hasRole(h, ETCD_ROLE)) {
        const env = (stage: "dual" | "tls") => renderEtcdEnvironment(managed, etcdEnvironmentInput(config, h, stage));
        stages.etcd = { dual: env("dual"), tls: env("tls") };
      }
      if (hasRole(h, POSTGRES_ROLE)) {
        const yml = (stage: "etcd" | "tls") => renderPatroniConfigAt(managed, config, topology, h, passwords, stage);
        stages.patroni = { etcd: yml("etcd"), tls: yml("tls") };
      }
      if (hasRole(h, PGBOUNCER_ROLE) && platforms[h.name]) {
        const f = renderPgbouncerFilesAt(managed, config, topology, h, platforms[h.name], "tls");
        const file = (p: string, content: string): StageFile => ({ path: p, content, ...PGBOUNCER_FILE_OWNER });
        stages.pgbouncer = { tls: [file(PGBOUNCER_INI_PATH, f.ini), file(PGBOUNCER_HBA_PATH, f.hba)] };
      }
      if (hasRole(h, HAPROXY_ROLE)) {
        const cfg = (stage: "tolerant" | "tls"): StageFile => ({
          ...HAPROXY_CONFIG_FILE,
          content: renderHaproxyConfig(managed, haproxyConfigInput(config, topology, h, passwords.haproxyStats, stage)),
        });
        stages.haproxy = { tolerant: cfg("tolerant"), tls: cfg("tls") };
      }
      return { host: h, stages };
    }),
  );
  const tls = args.tls;
  if (!tls) {
    const off = {
      enabled: false,
      clusterName: config.cluster.name,
      hosts: [],
      trust: "",
      trustPath: TLS_PATHS.ca,
      trustFingerprints: [],
      issuerFingerprint: "",
      ports: { rest: 0, postgres: 0, pgbouncer: 0, stats: 0 },
      restUrls: { http: [], https: [] },
      etcdEndpoints: { http: [], https: [] },
      etcdPeerUrls: {},
      timeoutSeconds: 600,
      scripts,
      mask: [],
    };
    return new TlsRollout(`${name}-tls-rollout`, off, { parent, dependsOn });
  }
  const spec = pulumi
    .all([
      hosts,
      pulumi.all(config.hosts.map((h) => args.connectionOf(h))),
      pulumi.all(config.hosts.map((h) => tlsFilesOf(h, tls.trust, tls.hosts[h.name]))),
      pulumi.all(config.hosts.map((h) => pulumi.all([tls.hosts[h.name].serial, tls.hosts[h.name].twinSerial]))),
      tls.trust,
      tls.issuer,
      args.passwords,
      pulumi.all(config.hosts.map((h) => tls.hosts[h.name].key)),
    ])
    .apply(([rendered, connections, files, serials, trust, issuer, passwords, keys]) => ({
      enabled: config.tls.enabled,
      clusterName: config.cluster.name,
      hosts: rendered.map(({ host, stages }, i): RolloutHost => ({
        name: host.name,
        address: host.address,
        roles: [...host.roles],
        connection: connections[i] as SshConnection,
        files: files[i],
        serials: { final: serials[i][0], twin: serials[i][1] },
        stages,
      })),
      trust,
      trustPath: TLS_PATHS.ca,
      trustFingerprints: fingerprints(trust),
      issuerFingerprint: fingerprints(issuer)[0],
      ports: {
        rest: config.cluster.restApiPort,
        postgres: config.cluster.postgresPort,
        pgbouncer: config.pgbouncer.port,
        stats: config.haproxy.statsPort,
      },
      restUrls: {
        http: postgres.map((h) => url("http", h, config.cluster.restApiPort)),
        https: postgres.map((h) => url("https", h, config.cluster.restApiPort)),
      },
      etcdEndpoints: {
        http: etcdHosts(config).map((h) => url("http", h, config.etcd.clientPort)),
        https: etcdHosts(config).map((h) => url("https", h, config.etcd.clientPort)),
      },
      etcdPeerUrls: Object.fromEntries(etcdHosts(config).map((h) => [h.name, url("https", h, config.etcd.peerPort)])),
      timeoutSeconds: 600,
      scripts,
      mask: [...secretValues(passwords), ...keys],
    }));
  return new TlsRollout(`${name}-tls-rollout`, pulumi.secret(spec), { parent, dependsOn });
}
