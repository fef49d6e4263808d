// patroni.yml for one PostgreSQL node. Pure: plain values in, YAML text out,
// keys sorted so the same config always gives the same bytes.
// https://patroni.readthedocs.io/en/latest/yaml_configuration.html
import * as yaml from "js-yaml";
import { CoreHost } from "../../config/core";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
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
} from "./slice";
import { PGBOUNCER_INI_PATH } from "../pgbouncer/pgbouncerIni";

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
}

export const dataDirectory = (cluster: ClusterSettings) =>
  `/var/lib/postgresql/${cluster.postgresVersion}/${cluster.name}`;
export const binDirectory = (cluster: ClusterSettings) => `/usr/lib/postgresql/${cluster.postgresVersion}/bin`;

export function hbaLine(rule: HbaRule): string {
  return [rule.type, rule.database, rule.user, rule.type === "local" ? "" : rule.address, rule.method]
    .filter(Boolean)
    .join(" ");
}

/** pg_hba: scram everywhere, peer for the local postgres OS user, replication only from cluster members. */
export function renderPgHba(
  input: Pick<PatroniConfigInput, "cluster" | "clusterAddresses" | "replicationAddresses" | "monitoringUser">,
): string[] {
  const rules: string[] = [
    `local all ${SUPERUSER} peer`,
    ...(input.monitoringUser ? [`local all ${input.monitoringUser} peer`] : []),
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    `host replication ${REPLICATION_USER} 127.0.0.1/32 scram-sha-256`,
    ...input.replicationAddresses.map((a) => `host replication ${REPLICATION_USER} ${a}/32 scram-sha-256`),
    ...input.clusterAddresses.map((a) => `host all all ${a}/32 scram-sha-256`),
    ...input.cluster.pgHba.map(hbaLine),
  ];
  return [...new Set(rules)];
}

/** The DCS part Patroni keeps in etcd; also what day-2 PATCHes to /config. */
export function renderDynamicConfig(cluster: ClusterSettings): Record<string, unknown> {
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
      parameters: { ...DEFAULT_POSTGRES_PARAMETERS, ...cluster.parameters },
    },
  };
}

export function renderPatroniConfig(ctx: ManagedFileContext, input: PatroniConfigInput): string {
  const { cluster, host, passwords } = input;
  const document = {
    scope: cluster.name,
    namespace: PATRONI_NAMESPACE,
    name: host.name,
    restapi: {
      listen: `${host.address}:${cluster.restApiPort}`,
      connect_address: `${host.address}:${cluster.restApiPort}`,
      authentication: { username: REST_API_USER, password: passwords.restApi },
    },
    // patronictl reads this section too; REST write calls need the same credentials.
    ctl: { authentication: { username: REST_API_USER, password: passwords.restApi } },
    etcd3: { hosts: [...input.etcdHosts] },
    bootstrap: {
      dcs: renderDynamicConfig(cluster),
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
        superuser: { username: SUPERUSER, password: passwords.superuser },
        replication: { username: REPLICATION_USER, password: passwords.replication },
        rewind: { username: REWIND_USER, password: passwords.rewind },
      },
      parameters: { unix_socket_directories: POSTGRES_SOCKET_DIR },
      callbacks: { on_role_change: PATRONI_ROLE_CHANGE_HOOK },
      // Patroni's own sessions use the socket and peer authentication, so a
      // rotated superuser password never locks Patroni out of its PostgreSQL.
      use_unix_socket: true,
      pg_hba: renderPgHba(input),
      create_replica_methods: ["basebackup"],
      basebackup: [{ checkpoint: "fast" }],
    },
    tags: {
      nofailover: host.tags.nofailover,
      noloadbalance: host.tags.noloadbalance,
      clonefrom: false,
      nosync: false,
    },
    log: { level: "INFO" },
  };
  return managedHeader(ctx) + yaml.dump(document, { sortKeys: true, lineWidth: -1, noRefs: true });
}

/**
 * The on_role_change callback (Patroni runs it as postgres with the action,
 * the new role and the scope). PgBouncer caches the server parameters of a
 * pool's first connection, in_hot_standby among them, and hands them to
 * every later client: after a promotion, libpq's target_session_attrs=read-write
 * would still see a standby and refuse the new primary ("session is
 * read-only", https://github.com/pgbouncer/pgbouncer/issues/859). RECONNECT on the admin console drops
 * that cache and the pooled server connections as they are released.
 */
export function renderRoleChangeHook(ctx: ManagedFileContext, socketDir = POSTGRES_SOCKET_DIR): string {
  return [
    "#!/bin/sh",
    managedHeader(ctx).trimEnd(),
    "# Patroni's on_role_change callback: PgBouncer forgets what it cached under the old role.",
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
