// systemd units of the backup role: on the repository host, a full and a
// differential backup of each stanza on timers (instance files named after
// the stanza, so a restored stack's units sit beside the source's and
// neither stack touches the other's); on the database hosts, the archive
// monitor's timer. Pure: plain values in, unit text out.
// https://www.freedesktop.org/software/systemd/man/systemd.timer.html
import { ManagedFileContext } from "../../render/managedHeader";
import { renderSystemdDropIn, UnitSections } from "../../render/systemdUnit";
import { ARCHIVE_METRICS_PATH } from "./slice";

export type BackupType = "full" | "diff";
export const BACKUP_TYPES: readonly BackupType[] = ["full", "diff"];

/** `pgbackrest-full@bkdev` (add .service or .timer). */
export const backupUnit = (stanza: string, type: BackupType) => `pgbackrest-${type}@${stanza}`;
export const unitPath = (unit: string) => `/etc/systemd/system/${unit}`;

const TYPE_WORD: Record<BackupType, string> = { full: "full", diff: "differential" };

/**
 * One backup of the stanza, run as postgres. Two backups of one stanza at
 * once fail on pgBackRest's lock (exit 50), which lives in /tmp: no
 * PrivateTmp, or the lock would not be shared.
 */
export function renderBackupService(ctx: ManagedFileContext, stanza: string, type: BackupType): string {
  const sections: UnitSections = {
    Unit: {
      Description: `pgBackRest ${TYPE_WORD[type]} backup of stanza ${stanza}`,
      Wants: "network-online.target",
      After: "network-online.target",
    },
    Service: {
      Type: "oneshot",
      User: "postgres",
      Group: "postgres",
      ExecStart: `/usr/bin/pgbackrest --stanza=${stanza} --type=${type} backup`,
      Nice: "10",
      IOSchedulingClass: "best-effort",
      IOSchedulingPriority: "7",
    },
  };
  return renderSystemdDropIn(ctx, sections);
}

export function renderBackupTimer(
  ctx: ManagedFileContext,
  stanza: string,
  type: BackupType,
  onCalendar: string,
): string {
  return renderSystemdDropIn(ctx, {
    Unit: { Description: `${TYPE_WORD[type]} pgBackRest backup of stanza ${stanza} (${onCalendar})` },
    Timer: { OnCalendar: onCalendar, RandomizedDelaySec: "5min", Persistent: "true" },
    Install: { WantedBy: "timers.target" },
  });
}

/** The archive monitor on a database host (archive-metrics.sh), every minute. */
export const ARCHIVE_METRICS_UNIT = "pulumi-patroni-archive-metrics";

export function renderArchiveMetricsService(ctx: ManagedFileContext, stanza: string): string {
  return renderSystemdDropIn(ctx, {
    Unit: { Description: `Archive monitor of stanza ${stanza}: dropped WAL and push errors as metrics` },
    Service: { Type: "oneshot", ExecStart: `${ARCHIVE_METRICS_PATH} ${stanza}` },
  });
}

export function renderArchiveMetricsTimer(ctx: ManagedFileContext): string {
  return renderSystemdDropIn(ctx, {
    Unit: { Description: "Archive monitor, every minute" },
    Timer: { OnBootSec: "1min", OnUnitActiveSec: "1min", AccuracySec: "10s" },
    Install: { WantedBy: "timers.target" },
  });
}
