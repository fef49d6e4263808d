// pgbackrest.conf for each kind of host: the repository host, a database
// host, and a stanza of another stack kept in this repository (a restored
// cluster's, in conf.d). Transport is pgBackRest's TLS server mode with the
// cluster's certificates: every host runs `pgbackrest server`, each client
// shows its host certificate, and tls-server-auth maps a certificate's CN
// (the host name) to the stanzas it may use. Pure: plain values in, text out.
// https://pgbackrest.org/user-guide.html#repo-host
// https://pgbackrest.org/configuration.html#section-server
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import {
  PGBACKREST_INCLUDE_DIR,
  PGBACKREST_LOG_PATH,
  PGBACKREST_SPOOL_PATH,
  PGBACKREST_TLS_DIR,
  TLS_CA_FILE,
  TLS_CERT_FILE,
  TLS_KEY_FILE,
} from "./slice";

/** The CA bundle the repository's TLS server checks clients against: the cluster's CA and other stacks'. */
export const CLIENT_CA_BUNDLE = `${PGBACKREST_TLS_DIR}/clients-ca.crt`;
/** Other stacks' CA certificates, one file per stanza (their hosts are clients of this repository). */
export const CLIENT_CA_DIR = `${PGBACKREST_TLS_DIR}/ca.d`;
/** On a restored stack's hosts: the CA of the repository's stack (it signed the repository host's certificate). */
export const REPOSITORY_CA_FILE = `${PGBACKREST_TLS_DIR}/repository-ca.crt`;
/** A stanza of another stack in this repository: its own file, next to the repository's. */
export const stanzaIncludePath = (stanza: string) => `${PGBACKREST_INCLUDE_DIR}/${stanza}.conf`;
export const clientCaPath = (stanza: string) => `${CLIENT_CA_DIR}/${stanza}.crt`;

/** A PostgreSQL host as pgBackRest reaches it. */
export interface PgHost {
  readonly name: string;
  readonly address: string;
}

/** Where a stanza's PostgreSQL lives on each of its hosts. */
export interface PgLocation {
  readonly dataDirectory: string;
  readonly port: number;
  readonly socketDir: string;
}

type Section = readonly [name: string, lines: readonly (readonly [key: string, value: string | number])[]];

function renderIni(ctx: ManagedFileContext, sections: readonly Section[]): string {
  for (const [, lines] of sections)
    for (const [k, v] of lines) if (/[\n\r]/.test(String(v))) throw new Error(`pgbackrest.conf: ${k} must be one line`);
  return (
    managedHeader(ctx) +
    sections.map(([name, lines]) => [`[${name}]`, ...lines.map(([k, v]) => `${k}=${v}`)].join("\n")).join("\n\n") +
    "\n"
  );
}

/** The TLS server on `address`: clients show certificates of `caFile`, each CN allowed the stanzas listed. */
const tlsServer = (address: string, caFile: string, auth: readonly (readonly [string, readonly string[]])[]) =>
  [
    ["tls-server-address", address],
    ["tls-server-ca-file", caFile],
    ["tls-server-cert-file", TLS_CERT_FILE],
    ["tls-server-key-file", TLS_KEY_FILE],
    ...auth.map(([cn, stanzas]) => ["tls-server-auth", `${cn}=${stanzas.join(",")}`] as const),
  ] as const;

/** pgN-* lines: every PostgreSQL host of a stanza, reached over TLS; pgBackRest asks each which one is the primary. */
const pgHostLines = (hosts: readonly PgHost[], pg: PgLocation, caFile: string) =>
  hosts.flatMap((h, i) => {
    const n = `pg${i + 1}`;
    return [
      [`${n}-host`, h.address],
      [`${n}-host-type`, "tls"],
      [`${n}-host-ca-file`, caFile],
      [`${n}-host-cert-file`, TLS_CERT_FILE],
      [`${n}-host-key-file`, TLS_KEY_FILE],
      [`${n}-path`, pg.dataDirectory],
      [`${n}-port`, pg.port],
      [`${n}-socket-path`, pg.socketDir],
    ] as const;
  });

export interface RepositoryConfigInput {
  readonly stanza: string;
  /** The repository host's own address (its TLS server listens there). */
  readonly address: string;
  readonly path: string;
  readonly cipherPass: string;
  readonly retentionFull: number;
  /** The stanza's PostgreSQL hosts. */
  readonly hosts: readonly PgHost[];
  readonly pg: PgLocation;
}

/**
 * The repository host's config (other stacks' stanzas are read from
 * PGBACKREST_INCLUDE_DIR, pgBackRest's default include path). Backups run here, from a streaming replica
 * when there is one (backup-standby=prefer), else from the primary. The
 * cipher passphrase is only here: the database hosts never need it (the
 * repository host encrypts and decrypts what it stores and serves).
 */
export function renderRepositoryConfig(ctx: ManagedFileContext, r: RepositoryConfigInput): string {
  return renderIni(ctx, [
    [
      "global",
      [
        ["repo1-path", r.path],
        ["repo1-cipher-type", "aes-256-cbc"],
        ["repo1-cipher-pass", r.cipherPass],
        ["repo1-retention-full", r.retentionFull],
        ["compress-type", "zst"],
        ["process-max", 2],
        ["start-fast", "y"],
        ["backup-standby", "prefer"],
        ["log-level-file", "info"],
        ["log-path", PGBACKREST_LOG_PATH],
        ...tlsServer(
          r.address,
          CLIENT_CA_BUNDLE,
          r.hosts.map((h) => [h.name, [r.stanza]]),
        ),
      ],
    ],
    [r.stanza, pgHostLines(r.hosts, r.pg, TLS_CA_FILE)],
  ]);
}

export interface DatabaseConfigInput {
  readonly stanza: string;
  /** This host's address (its TLS server, which the repository host calls for backups). */
  readonly address: string;
  readonly repository: {
    readonly name: string;
    readonly address: string;
    /** The CA that signed the repository host's certificate (the cluster's own, or the repository's stack's). */
    readonly caFile: string;
  };
  readonly archivePushQueueMax: string;
  readonly pg: PgLocation;
}

/**
 * A database host's config: archive-push (asynchronous, through the spool),
 * archive-get and restore go to the repository host; its TLS server lets the
 * repository host in for backups and checks of this stanza only.
 */
export function renderDatabaseConfig(ctx: ManagedFileContext, d: DatabaseConfigInput): string {
  return renderIni(ctx, [
    [
      "global",
      [
        ["repo1-host", d.repository.address],
        ["repo1-host-type", "tls"],
        ["repo1-host-ca-file", d.repository.caFile],
        ["repo1-host-cert-file", TLS_CERT_FILE],
        ["repo1-host-key-file", TLS_KEY_FILE],
        ["archive-async", "y"],
        ["spool-path", PGBACKREST_SPOOL_PATH],
        ["archive-push-queue-max", d.archivePushQueueMax],
        ["archive-get-queue-max", "256MiB"],
        ["compress-type", "zst"],
        ["log-level-file", "info"],
        ["log-path", PGBACKREST_LOG_PATH],
        ...tlsServer(d.address, d.repository.caFile, [[d.repository.name, [d.stanza]]]),
      ],
    ],
    [
      d.stanza,
      [
        ["pg1-path", d.pg.dataDirectory],
        ["pg1-port", d.pg.port],
        ["pg1-socket-path", d.pg.socketDir],
      ],
    ],
  ]);
}

export interface GuestStanzaInput {
  /** The restored stack's stanza. */
  readonly stanza: string;
  /** The stanza it was restored from (its hosts read it while recovering). */
  readonly sourceStanza: string;
  readonly retentionFull: number;
  readonly hosts: readonly PgHost[];
  readonly pg: PgLocation;
}

/**
 * A restored stack's stanza in the source's repository (conf.d, beside the
 * repository's own config, which this stack never touches): its hosts, their
 * CA, and what each of their certificates may use: the new stanza, and the
 * source one for the restore and the recovery (read only: the new
 * cluster's archive_command names its own stanza alone).
 */
export function renderGuestStanzaConfig(ctx: ManagedFileContext, g: GuestStanzaInput): string {
  return renderIni(ctx, [
    ["global", g.hosts.map((h) => ["tls-server-auth", `${h.name}=${[g.sourceStanza, g.stanza].join(",")}`] as const)],
    [g.stanza, [["repo1-retention-full", g.retentionFull], ...pgHostLines(g.hosts, g.pg, clientCaPath(g.stanza))]],
  ]);
}
