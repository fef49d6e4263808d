// The backup role (a pgBackRest repository host) and the two sections it
// owns: `backup` (the repository, its schedules and retention, WAL
// archiving) and `restore` (a new cluster bootstrapped from another stack's
// repository). The stanza of a stack is its cluster's name (Patroni's scope).
// A stack archives into a repository when it has a host with this role, or
// when it is restored from another stack's repository: then its own stanza
// lives in that same repository, next to the source's.
// https://pgbackrest.org/configuration.html
import { z } from "zod";
import { CoreHost } from "../../config/core";
import { FieldClasses, identity, live, NEW_STACK } from "../../config/fieldClasses";
import { hasControlCharacter, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { Topology } from "../../config/topology";
import { TLS_PATHS } from "../../tls/settings";
import { ClusterView, POSTGRES_ROLE } from "../postgres/slice";
import { PGBACKREST_TLS_PORT, restoreTargetProblems } from "./restoreTarget";
import { calendarProblem } from "./systemdCalendar";

export const BACKUP_ROLE = "backup";

/** systemd calendar expressions: what OnCalendar= takes (checked again with systemd-analyze on the host). */
const onCalendar = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    const problem =
      hasControlCharacter(v) || !/^[A-Za-z0-9 *.,:~\-/+_]+$/.test(v)
        ? "holds characters systemd calendars never use"
        : calendarProblem(v);
    if (problem)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must be a systemd calendar expression like 'Sun *-*-* 01:00:00' or 'daily': ${problem}`,
      });
  });

/** pgBackRest's size options: a number and a unit (https://pgbackrest.org/configuration.html#section-general). */
const pgbackrestSize = z
  .string()
  .regex(/^[1-9]\d*(KiB|MiB|GiB|TiB)$/, "must be a size like 512MiB or 1GiB (KiB, MiB, GiB, TiB)");

export const backupSettingsSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._/-]+$/, "must be an absolute path (letters, digits, . _ - /)")
      .default("/var/lib/pgbackrest")
      .describe("Repository directory on the backup host (repo1-path)."),
    retentionFull: positiveInt
      .max(100)
      .default(2)
      .describe("Full backups kept (repo1-retention-full); older ones and the WAL only they need are expired."),
    fullSchedule: onCalendar
      .default("Sun *-*-* 01:00:00")
      .describe("When a full backup runs (systemd OnCalendar of its timer on the backup host)."),
    diffSchedule: onCalendar
      .default("Mon..Sat *-*-* 01:00:00")
      .describe("When a differential backup runs (systemd OnCalendar); keep it apart from fullSchedule."),
    archivePushQueueMax: pgbackrestSize
      .default("1GiB")
      .describe(
        "WAL waiting to be archived beyond which pgBackRest drops it rather than fill pg_wal (archive-push-queue-max): " +
          "size it below the free space of pg_wal's disk. A drop is reported (npm run ctl -- check, the archive metric) and needs a new backup.",
      ),
    archiveTimeout: positiveInt
      .max(3600)
      .default(60)
      .describe(
        "Seconds after which a primary with writes switches to a new WAL segment, so it gets archived (archive_timeout): the data an idle primary can lose.",
      ),
  })
  .strict();
export type BackupSettings = z.infer<typeof backupSettingsSchema>;

export const RESTORE_TARGET_TYPES = ["latest", "time", "name", "lsn", "xid"] as const;
export type RestoreTargetType = (typeof RESTORE_TARGET_TYPES)[number];

export const restoreSettingsSchema = z
  .object({
    source: z
      .object({
        stack: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a stack name of this project (a-z, 0-9, '-')")
          .describe("The stack whose repository (its backup host) holds the backups to restore; it must be deployed."),
        stanza: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,40}$/, "must be a stanza name: a cluster's name (a-z, 0-9, '-')")
          .describe("The stanza to restore from: the source cluster's name."),
      })
      .strict()
      .describe("Where the backups come from."),
    target: z
      .object({
        type: z
          .enum(RESTORE_TARGET_TYPES)
          .default("latest")
          .describe(
            "latest: the end of the archived WAL; time, name (a restore point), lsn or xid: that point (recovery stops there and the cluster is promoted).",
          ),
        value: z
          .string()
          .optional()
          .describe(
            "The point: a time with its zone ('2026-12-06 21:11:31+00'), a restore point's name, an LSN ('0/23035A70') or a transaction id.",
          ),
      })
      .strict()
      .default({})
      .describe("How far to recover."),
    action: z
      .enum(["promote", "pause", "shutdown"])
      .default("promote")
      .describe(
        "What PostgreSQL does at the target: promote (the new cluster starts). pause and shutdown are refused at preview: Patroni's custom bootstrap cannot finish with either (docs/backups.md).",
      ),
  })
  .strict();
export type RestoreSettings = z.infer<typeof restoreSettingsSchema>;

/** The stack configuration as this slice sees it. */
export interface BackupView extends ClusterView {
  readonly backup: BackupSettings;
  readonly restore?: RestoreSettings;
}

/** pgBackRest's files on every host of a stack that archives. */
export const PGBACKREST_CONFIG_PATH = "/etc/pgbackrest/pgbackrest.conf";
/** Other stacks' stanzas in this repository (restored clusters): one file each. */
export const PGBACKREST_INCLUDE_DIR = "/etc/pgbackrest/conf.d";
/** CA certificates pgBackRest trusts besides the cluster's own: other stacks' (restored clusters'). */
export const PGBACKREST_TLS_DIR = "/etc/pgbackrest/tls";
export const PGBACKREST_SPOOL_PATH = "/var/spool/pgbackrest";
export const PGBACKREST_LOG_PATH = "/var/log/pgbackrest";
/** The wrapper Patroni's custom bootstrap runs to restore a new cluster (restore-bootstrap.sh). */
export const RESTORE_BOOTSTRAP_PATH = "/usr/local/lib/pulumi-patroni/pp-restore-bootstrap";
/**
 * PostgreSQL's archive_command: pgBackRest's archive-push, an old timeline's clash skipped (archive-push.sh).
 * Its name holds "pgbackrest": pgbackrest check and backup refuse an archive_command without it.
 */
export const ARCHIVE_PUSH_PATH = "/usr/local/lib/pulumi-patroni/pp-pgbackrest-archive-push";
/** The archive monitor (archive-metrics.sh), run by its timer and by `npm run ctl`. */
export const ARCHIVE_METRICS_PATH = "/usr/local/lib/pulumi-patroni/pp-archive-metrics";
/**
 * Where the archive monitor writes its metrics: the directory Debian's
 * prometheus-node-exporter reads text files from (its textfile collector).
 */
export const METRICS_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
/** The archive monitor's own state (counts survive log rotation). */
export const ARCHIVE_METRICS_STATE = "/var/lib/pulumi-patroni/archive-metrics";

/** The cluster's TLS files, as every host has them with tls.enabled (src/tls/settings.ts). */
export const TLS_CA_FILE = TLS_PATHS.ca;
export const TLS_CERT_FILE = TLS_PATHS.cert;
export const TLS_KEY_FILE = TLS_PATHS.key;

/** The stack's own stanza: its cluster's name. */
export const stanzaOf = (c: ClusterView): string => c.cluster.name;

/** The host with the backup role, if any. */
export const backupHostOf = <H extends CoreHost>(c: { readonly hosts: readonly H[] }): H | undefined =>
  c.hosts.find((h) => h.roles.includes(BACKUP_ROLE));

/** Whether the cluster archives WAL (a repository of its own, or its source's when restored). */
export const archives = (c: BackupView): boolean => backupHostOf(c) !== undefined || c.restore !== undefined;

/** Parameters the backup role owns when the stack archives: setting them in cluster.parameters would fight it. */
const OWNED_PARAMETERS = ["archive_mode", "archive_command", "archive_timeout", "restore_command"];

function backupProblems(c: BackupView, topology: Topology): string[] {
  const problems: string[] = [];
  const repositories = topology.withRole(BACKUP_ROLE);
  if (repositories.length > 1)
    problems.push(
      `hosts: ${repositories.map((h) => h.name).join(", ")} have the backup role; a stack has one repository host`,
    );
  c.hosts.forEach((h, i) => {
    if (h.roles.includes(BACKUP_ROLE) && h.roles.includes(POSTGRES_ROLE))
      problems.push(
        `hosts[${i}].roles: the backup role keeps the repository off the database hosts' disks; put it on a host without postgres`,
      );
  });
  if (archives(c)) {
    for (const p of OWNED_PARAMETERS)
      if (p in c.cluster.parameters)
        problems.push(
          `cluster.parameters.${p}: set by the backup role (WAL archiving through pgBackRest); remove it${p === "archive_timeout" ? " and use backup.archiveTimeout" : ""}`,
        );
  }
  const r = c.restore;
  if (r) {
    if (repositories.length > 0)
      problems.push(
        `hosts: a restored stack keeps its stanza in the source's repository (restore.source.stack ${r.source.stack}); remove the backup role from ${repositories.map((h) => h.name).join(", ")}`,
      );
    if (r.source.stanza === stanzaOf(c))
      problems.push(
        `restore.source.stanza: ${r.source.stanza} is this cluster's own name; a restored cluster needs its own stanza, or it would archive into the source's: give cluster.name another value`,
      );
    problems.push(
      ...restoreTargetProblems(r.target.type, r.target.value, new Date()).map((p) => `restore.target: ${p}`),
    );
    if (r.action !== "promote")
      problems.push(
        r.action === "pause"
          ? `restore.action: pause is refused: Patroni's custom bootstrap recovers with hot standby off, where pause acts like shutdown (Patroni issue 2569), and the bootstrap then fails; use promote`
          : `restore.action: shutdown is refused: PostgreSQL stopping at the target ends Patroni's bootstrap as a failure and no cluster forms; use promote (inspect the restored cluster before clients use it)`,
      );
  }
  return problems;
}

const FIELD_CLASSES: FieldClasses = {
  "backup.path": identity(`the repository's backups and WAL are there; ${NEW_STACK}`),
  "backup.retentionFull": live(
    "pgbackrest.conf on the backup host; applied by the next backup's expire (or npm run ctl -- backup)",
  ),
  "backup.fullSchedule": live("the full backup timer on the backup host, rewritten and restarted"),
  "backup.diffSchedule": live("the differential backup timer on the backup host, rewritten and restarted"),
  "backup.archivePushQueueMax": live("pgbackrest.conf on the database hosts (read by every archive-push)"),
  "backup.archiveTimeout": live("dynamic configuration (DCS): archive_timeout, reloaded"),
  restore: live(
    "read when the cluster is bootstrapped: a change after a failed restore retries it; once the cluster exists, nothing runs again",
  ),
  backupCipherPassphrase: identity(
    "it encrypts every file of the repository, which cannot be re-encrypted; keep the old value (passwordRotation refuses it too)",
  ),
};

export const backupSlice = {
  role: BACKUP_ROLE,
  summary: "backup (pgBackRest repository)",
  settings: {
    key: "backup",
    schema: backupSettingsSchema,
    description:
      "Backups and WAL archiving with pgBackRest (used when a host has the backup role, or with restore); needs tls.enabled (pgBackRest speaks TLS with the cluster's certificates).",
  },
  sections: [
    {
      key: "restore",
      schema: restoreSettingsSchema,
      description: "Bootstrap this new cluster from another stack's repository (point-in-time recovery).",
    },
  ],
  ports: () => [{ port: PGBACKREST_TLS_PORT, field: "pgBackRest's TLS server (backup role)" }],
  problems: backupProblems,
  packages: () => ["pgbackrest"],
  // Every PostgreSQL host of a stack that archives runs pgBackRest (archive_command, its TLS server).
  packagesWith: (c) => ({ [POSTGRES_ROLE]: archives(c) ? ["pgbackrest"] : [] }),
  fieldClasses: FIELD_CLASSES,
  facts: () => ({
    PGBACKREST_CONFIG: PGBACKREST_CONFIG_PATH,
    PGBACKREST_SPOOL: PGBACKREST_SPOOL_PATH,
    PGBACKREST_LOG: PGBACKREST_LOG_PATH,
    ARCHIVE_METRICS: ARCHIVE_METRICS_PATH,
    METRICS_DIR: METRICS_TEXTFILE_DIR,
  }),
  secrets: [
    {
      key: "backupCipherPassphrase",
      field: "backupCipher",
      generatedName: "backup-cipher-passphrase",
      fixed: "it encrypts the repository's files, which cannot be re-encrypted with a new one",
      neededBy: (c) => backupHostOf(c) !== undefined,
    },
  ],
} as const satisfies RoleSlice<BackupView>;
