// patroni.yml for one PostgreSQL node. Pure: plain values in, YAML text out,
// keys sorted so the same config always gives the same bytes.
// https://patroni.readthedocs.io/en/latest/yaml_configuration.html
import * as yaml from "js-yaml";
import { CoreHost } from "../../config/core";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { TlsPaths } from "../../tls/settings";
import { PatroniStage, stageAtLeast, stageMarker } from "../../tls/stages";
import { DEFAULT_POSTGRES_PARAMETERS } from "./postgresParameters";
import {
  ClusterSettings,
  HbaRule,
  PATRONI_NAMESPACE,
  POSTGRES_SOCKET_DIR,
  REPLICATION_USER,
  REST_API_USER,
  REWIND_USER,
  SUPERUSER,
  WATCHDOG_DEVICE,
} from "./slice";
import { PGBOUNCER_INI_PATH } from "../pgbouncer/pgbouncerIni";
import { archiveParameters, PatroniArchiving, replicaCreation, restoreBootstrap } from "../backup/patroniArchiving";

/** The .pgpass Patroni writes for its replication and rewind connections. */
export const PATRONI_PGPASS_PATH = "/var/lib/postgresql/.pgpass_patroni";
/**
 * Symlinks to PATRONI_CONFIG_PATH: the path runbooks use (`patronictl -c
 * /etc/patroni/patroni.yml list`) and patronictl's default config of root
 * and postgres (plain `patronictl list`, in any shell).
 */
export const PATRONI_CONFIG_ALIASES = [
  "/etc/patroni/patroni.yml",
  "/root/.config/patroni/patronictl.yaml",
  "/var/lib/postgresql/.config/patroni/patronictl.yaml",
];
/** Patroni's on_role_change callback (renderRoleChangeHook). */
export const PATRONI_ROLE_CHANGE_HOOK = "/etc/patroni/on-role-change";

export interface PatroniPasswords {
  readonly superuser: string;
  readonly replication: string;
  readonly rewind: string;
  readonly restApi: string;
}

/** TLS of a node at a stage (src/tls/stages.ts): plain, etcd (its etcd client, PostgreSQL's ssl, TLS replication), tls. */
export interface PatroniTls {
  readonly stage: PatroniStage;
  readonly paths: Pick<TlsPaths, "ca" | "cert" | "key">;
  /** Sessions without TLS are still accepted (tls.allowPlainClients); replication never. */
  readonly allowPlainClients: boolean;
}

export interface PatroniConfigInput {
  readonly cluster: ClusterSettings;
  readonly host: CoreHost;
  /** Addresses of every host of the stack: they may open normal sessions. */
  readonly clusterAddresses: readonly string[];
  /** Addresses of the postgres hosts: only they may replicate. */
  readonly replicationAddresses: readonly string[];
  /** The exporters' login, when the stack has a monitor host (peer on the unix socket only). */
  readonly monitoringUser?: string;
  readonly etcdHosts: readonly string[];
  readonly passwords: PatroniPasswords;
  readonly tls: PatroniTls;
  /** WAL archiving through pgBackRest, when the stack has a repository (src/roles/backup/). */
  readonly archiving?: PatroniArchiving;
}

export const dataDirectory = (cluster: ClusterSettings) =>
  `/var/lib/postgresql/${cluster.postgresVersion}/${cluster.name}`;
export const binDirectory = (cluster: ClusterSettings) => `/usr/lib/postgresql/${cluster.postgresVersion}/bin`;

export function hbaLine(rule: HbaRule): string {
  return [rule.type, rule.database, rule.user, rule.type === "local" ? "" : rule.address, rule.method]
    .filter(Boolean)
    .join(" ");
}

/**
 * pg_hba: scram everywhere, peer for the local postgres OS user, replication
 * only from cluster members. With TLS, the rules for other hosts are hostssl
 * (a plain session finds no rule), and replication also needs a certificate
 * of the cluster's CA (clientcert=verify-ca: its CN is the host, not the role).
 */
export function renderPgHba(
  input: Pick<PatroniConfigInput, "cluster" | "clusterAddresses" | "replicationAddresses" | "monitoringUser" | "tls">,
): string[] {
  const tls = input.tls.stage === "tls";
  const sessions = tls && !input.tls.allowPlainClients ? "hostssl" : "host";
  const replication = tls ? "hostssl" : "host";
  const clientCert = tls ? " clientcert=verify-ca" : "";
  const rules: string[] = [
    `local all ${SUPERUSER} peer`,
    ...(input.monitoringUser ? [`local all ${input.monitoringUser} peer`] : []),
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    `host replication ${REPLICATION_USER} 127.0.0.1/32 scram-sha-256`,
    ...input.replicationAddresses.map(
      (a) => `${replication} replication ${REPLICATION_USER} ${a}/32 scram-sha-256${clientCert}`,
    ),
    ...input.clusterAddresses.map((a) => `${sessions} all all ${a}/32 scram-sha-256`),
    ...input.cluster.pgHba.map(hbaLine),
  ];
  return [...new Set(rules)];
}

/** The DCS part Patroni keeps in etcd; also what day-2 PATCHes to /config. */
export function renderDynamicConfig(cluster: ClusterSettings, archiving?: PatroniArchiving): Record<string, unknown> {
  const d = cluster.dcs;
  return {
    ttl: d.ttl,
    loop_wait: d.loopWait,
    retry_timeout: d.retryTimeout,
    maximum_lag_on_failover: d.maximumLagOnFailover,
    synchronous_mode: d.synchronousMode,
    synchronous_mode_strict: d.synchronousModeStrict,
    failsafe_mode: d.failsafeMode,
    postgresql: {
      use_pg_rewind: d.usePgRewind,
      use_slots: d.useSlots,
      parameters: {
        ...DEFAULT_POSTGRES_PARAMETERS,
        ...(archiving ? archiveParameters(archiving) : {}),
        ...cluster.parameters,
      },
    },
  };
}

export function renderPatroniConfig(ctx: ManagedFileContext, input: PatroniConfigInput): string {
  const { cluster, host, passwords, tls } = input;
  const at = (stage: PatroniStage) => stageAtLeast("patroni", tls.stage, stage);
  const { ca, cert, key } = tls.paths;
  // libpq: the server's name is checked (its IP address, from connect_address), and this host's certificate shown.
  const verified = at("etcd") ? { sslmode: "verify-full", sslrootcert: ca, sslcert: cert, sslkey: key } : {};
  const document = {
    scope: cluster.name,
    namespace: PATRONI_NAMESPACE,
    name: host.name,
    restapi: {
      listen: `${host.address}:${cluster.restApiPort}`,
      connect_address: `${host.address}:${cluster.restApiPort}`,
      authentication: { username: REST_API_USER, password: passwords.restApi },
      // Every caller shows a certificate of the cluster's CA: HAProxy's checks,
      // the other members, patronictl, the steps' curl. A new certificate (a new
      // serial) is picked up on SIGHUP.
      ...(at("tls") ? { certfile: cert, keyfile: key, cafile: ca, verify_client: "required" } : {}),
    },
    // patronictl and Patroni's own calls to other members: the same credentials, the server verified.
    ctl: {
      authentication: { username: REST_API_USER, password: passwords.restApi },
      ...(at("etcd") ? { cacert: ca, certfile: cert, keyfile: key, insecure: false } : {}),
    },
    // Patroni's etcd client is built at start: a change here needs a Patroni restart.
    etcd3: {
      hosts: [...input.etcdHosts],
      ...(at("etcd") ? { protocol: "https", cacert: ca, cert, key } : {}),
    },
    bootstrap: {
      dcs: renderDynamicConfig(cluster, input.archiving),
      // A restored stack: Patroni's custom bootstrap restores the source's backup instead of initdb.
      ...(input.archiving ? restoreBootstrap(input.archiving, dataDirectory(cluster)) : {}),
      initdb: [{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums"],
      // The same rules as postgresql.pg_hba, which Patroni writes and uses;
      // kept here so a bootstrap never opens anything postgresql.pg_hba would not.
      pg_hba: renderPgHba(input),
    },
    postgresql: {
      // Several addresses and ONE port at the end: "addr:5432,127.0.0.1:5432"
      // makes PostgreSQL listen on nothing useful and replicas fail pg_basebackup.
      listen: `${host.address},127.0.0.1:${cluster.postgresPort}`,
      connect_address: `${host.address}:${cluster.postgresPort}`,
      data_dir: dataDirectory(cluster),
      bin_dir: binDirectory(cluster),
      pgpass: PATRONI_PGPASS_PATH,
      authentication: {
        // Patroni's own sessions use the unix socket, where libpq ignores sslmode.
        superuser: {
          username: SUPERUSER,
          password: passwords.superuser,
          ...(at("etcd") ? { sslmode: "verify-full", sslrootcert: ca } : {}),
        },
        replication: { username: REPLICATION_USER, password: passwords.replication, ...verified },
        rewind: { username: REWIND_USER, password: passwords.rewind, ...verified },
      },
      // Paths differ per host, so they live here rather than in the DCS; all reload-only.
      parameters: {
        unix_socket_directories: POSTGRES_SOCKET_DIR,
        ...(at("etcd")
          ? {
              ssl: "on",
              ssl_cert_file: cert,
              ssl_key_file: key,
              ssl_ca_file: ca,
              ssl_min_protocol_version: "TLSv1.2",
            }
          : {}),
      },
      callbacks: { on_role_change: PATRONI_ROLE_CHANGE_HOOK },
      // Patroni's own sessions use the socket and peer authentication, so a
      // rotated superuser password never locks Patroni out of its PostgreSQL.
      use_unix_socket: true,
      pg_hba: renderPgHba(input),
      create_replica_methods: ["basebackup"],
      basebackup: [{ checkpoint: "fast" }],
      ...(input.archiving ? replicaCreation(input.archiving) : {}),
    },
    tags: {
      nofailover: host.tags.nofailover,
      noloadbalance: host.tags.noloadbalance,
      clonefrom: false,
      nosync: false,
    },
    // Armed by the leader only; a member that cannot open the device runs without one unless mode is required.
    watchdog: { mode: cluster.watchdog.mode, device: WATCHDOG_DEVICE, safety_margin: cluster.watchdog.safetyMargin },
    log: { level: "INFO" },
  };
  return (
    managedHeader(ctx) + stageMarker(tls.stage) + yaml.dump(document, { sortKeys: true, lineWidth: -1, noRefs: true })
  );
}

/**
 * The on_role_change callback (Patroni runs it as postgres with the action,
 * the new role and the scope). PgBouncer caches the server parameters of a
 * pool's first connection, in_hot_standby among them, and hands them to
 * every later client: after a promotion, libpq's target_session_attrs=read-write
 * would still see a standby and refuse the new primary ("session is
 * read-only", https://github.com/pgbouncer/pgbouncer/issues/859). RECONNECT on the admin console drops
 * that cache and the pooled server connections as they are released.
 * Patroni calls the hook while the promotion is still under way: a client
 * logging in between RECONNECT and the end of recovery made PgBouncer cache
 * in_hot_standby=on again, for as long as that pool kept a server connection
 * (seen after data-filesystem-full-leader: minutes). So on a promotion the
 * hook first waits, bounded, until PostgreSQL has left recovery.
 */
export function renderRoleChangeHook(
  ctx: ManagedFileContext,
  socketDir = POSTGRES_SOCKET_DIR,
  etcdLeaderAway?: string,
  postgresPort = 5432,
): string {
  return [
    "#!/bin/sh",
    managedHeader(ctx).trimEnd(),
    "# Patroni's on_role_change callback: PgBouncer forgets what it cached under the old role.",
    // A new primary on the etcd leader's host hands the etcd leadership away now, not at the next check.
    ...(etcdLeaderAway ? [`case "$2" in primary|master) ${etcdLeaderAway} --once >/dev/null 2>&1 & ;; esac`] : []),
    `case "$2" in primary|master)`,
    // A deadline, not a count: a hanging psql must not stretch the wait.
    "  end=$(($(date +%s) + 30))",
    `  while [ "$(PGCONNECT_TIMEOUT=2 timeout 3 psql -XAtq -h ${socketDir} -p ${postgresPort} -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" != f ] && [ "$(date +%s)" -lt "$end" ]; do`,
    "    sleep 0.5",
    "  done ;;",
    "esac",
    `ini=${PGBOUNCER_INI_PATH}`,
    '[ -r "$ini" ] || exit 0',
    `port=$(sed -n 's/^listen_port = //p' "$ini")`,
    '[ -n "$port" ] || exit 0',
    // Bounded: a frozen PgBouncer must not keep a callback process waiting forever.
    `PGCONNECT_TIMEOUT=5 timeout 10 psql -X -q -h ${socketDir} -p "$port" -U postgres -d pgbouncer -c RECONNECT >/dev/null 2>&1 \\`,
    '  || logger -t patroni-on-role-change "PgBouncer RECONNECT failed after $1 to $2"',
    "exit 0",
    "",
  ].join("\n");
}
