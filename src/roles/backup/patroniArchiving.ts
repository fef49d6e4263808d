// What the backup role adds to patroni.yml (src/roles/postgres/patroniConfig.ts
// renders it): WAL archiving through pgBackRest in the dynamic configuration,
// so whichever member leads archives with no change; replicas made from the
// repository; and, for a restored stack, Patroni's custom bootstrap running
// the restore wrapper. Pure: plain values in, plain objects out.
// https://patroni.readthedocs.io/en/latest/replica_bootstrap.html
import { shellQuote } from "../../render/shellQuote";
import { restoreTargetOptions } from "./restoreTarget";
import { ARCHIVE_PUSH_PATH, archives, BackupView, RESTORE_BOOTSTRAP_PATH, stanzaOf } from "./slice";

/** How a stack's cluster archives, in plain values. */
export interface PatroniArchiving {
  /** The cluster's own stanza. */
  readonly stanza: string;
  /** Seconds (archive_timeout). */
  readonly archiveTimeout: number;
  /** A restored stack: the stanza it is restored from and the restore's target options. */
  readonly restore?: { readonly sourceStanza: string; readonly targetOptions: readonly string[] };
}

/** The archiving of a stack's cluster, or undefined when it has no repository. */
export function archivingOf(c: BackupView): PatroniArchiving | undefined {
  if (!archives(c)) return undefined;
  return {
    stanza: stanzaOf(c),
    archiveTimeout: c.backup.archiveTimeout,
    restore: c.restore && {
      sourceStanza: c.restore.source.stanza,
      targetOptions: restoreTargetOptions(c.restore.target.type, c.restore.target.value),
    },
  };
}

/**
 * PostgreSQL parameters for the DCS: every member has them, so the member
 * that leads after any failover archives (PostgreSQL archives only on the
 * primary with archive_mode on). archive_mode needs a restart; it is set at
 * bootstrap, or by the rolling restart when a repository is added later.
 */
export const archiveParameters = (a: PatroniArchiving): Record<string, string> => ({
  archive_mode: "on",
  archive_command: `${ARCHIVE_PUSH_PATH} ${a.stanza} %p`,
  archive_timeout: `${a.archiveTimeout}s`,
});

/**
 * patroni.yml's postgresql section: new replicas (scale out, reinit) from
 * the repository's latest backup, then the WAL since from the archive
 * (restore_command; Patroni keeps it in recovery_conf); a base backup from
 * the primary when the repository has none yet (pgBackRest exits 75).
 */
export const replicaCreation = (a: PatroniArchiving) => ({
  create_replica_methods: ["pgbackrest", "basebackup"],
  pgbackrest: { command: `pgbackrest --stanza=${a.stanza} --delta restore`, keep_data: true, no_params: true },
  recovery_conf: { restore_command: `pgbackrest --stanza=${a.stanza} archive-get %f "%p"` },
});

/**
 * patroni.yml's bootstrap for a restored stack: the custom method runs the
 * wrapper (restore-bootstrap.sh), which refuses a stanza of its own that
 * already holds WAL and a data directory whose restore failed before, then
 * restores the source stanza's backup with the target; PostgreSQL recovers
 * to it and promotes. Patroni keeps what pgBackRest wrote for the recovery.
 */
export const restoreBootstrap = (a: PatroniArchiving, dataDirectory: string) =>
  a.restore && {
    method: "pgbackrest",
    pgbackrest: {
      command: [RESTORE_BOOTSTRAP_PATH, a.restore.sourceStanza, a.stanza, dataDirectory, ...a.restore.targetOptions]
        .map(shellQuote)
        .join(" "),
      keep_existing_recovery_conf: true,
      no_params: true,
    },
  };
