// A restore's target as the configuration states it, checked before
// anything runs, and the pgBackRest options it becomes. Pure: no Pulumi.
// https://pgbackrest.org/command.html#command-restore
// https://www.postgresql.org/docs/17/runtime-config-wal.html#RUNTIME-CONFIG-WAL-RECOVERY-TARGET

/** pgBackRest's TLS server port (tls-server-port's default), on every host of a stack that archives. */
export const PGBACKREST_TLS_PORT = 8432;

/** 2026-12-06 21:11:31(.123)+00 / +00:00 / Z, or with a T: a zone is required (the hosts' and the controller's may differ). */
const TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z|[+-]\d{2}(?::?\d{2})?)$/;
const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Epoch milliseconds of a target time, or undefined when it is not one. */
export function parseTargetTime(value: string): number | undefined {
  const m = TIME.exec(value);
  if (!m) return undefined;
  let zone = m[3];
  if (zone !== "Z") zone = zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What is wrong with a target, as far as it can be told without the repository (the time against `now`). */
export function restoreTargetProblems(type: string, value: string | undefined, now: Date): string[] {
  if (type === "latest")
    return value === undefined ? [] : [`type latest takes no value (it recovers to the end of the archived WAL)`];
  if (value === undefined || value === "") return [`type ${type} needs a value`];
  switch (type) {
    case "time": {
      const ms = parseTargetTime(value);
      if (ms === undefined)
        return [
          `${JSON.stringify(value)} is not a time with its zone, like '2026-12-06 21:11:31+00' or '2026-12-06T21:11:31.5Z'`,
        ];
      if (ms > now.getTime())
        return [
          `${value} is in the future: no WAL reaches it yet, so recovery would end before it (PostgreSQL then refuses to start); pick a time in the past, or type latest`,
        ];
      return [];
    }
    case "lsn":
      return LSN.test(value) ? [] : [`${JSON.stringify(value)} is not an LSN like 0/23035A70`];
    case "xid":
      return /^[1-9]\d{0,19}$/.test(value) ? [] : [`${JSON.stringify(value)} is not a transaction id (a number)`];
    case "name":
      // A restore point's name (pg_create_restore_point takes up to 63 bytes); it travels in patroni.yml and a command line.
      return /^[A-Za-z0-9_.:-]{1,63}$/.test(value)
        ? []
        : [
            `${JSON.stringify(value)} is not a restore point name this program passes on (1 to 63 of A-Z a-z 0-9 _ . : -)`,
          ];
    default:
      return [`unknown type ${type}`];
  }
}

/**
 * The restore command's target options. pgBackRest writes them as
 * recovery_target_* (and recovery_target_action=promote) for PostgreSQL.
 * Without a type it recovers to the end of the archive (latest).
 */
export function restoreTargetOptions(type: string, value: string | undefined): string[] {
  if (type === "latest" || value === undefined) return [];
  return [`--type=${type}`, `--target=${value}`, "--target-action=promote"];
}
