// npm run ctl -- backups | check: reading pgBackRest's info and the hosts' archive state.
import { describe, expect, it } from "vitest";
import { backupProblems, formatBackups, HostArchive, parseHostArchive, parseInfo } from "./backups";
import { parseCtlArgs } from "./ctl";

/** What pgbackrest 2.55 printed on the development stand (trimmed to the fields read). */
const INFO = JSON.stringify([
  {
    name: "bkdev",
    status: { code: 0, message: "ok", lock: { backup: { held: false } } },
    archive: [{ id: "17-1", min: "000000020000000000000004", max: "000000020000000000000009" }],
    backup: [
      {
        label: "20261206-223236F",
        type: "full",
        prior: null,
        timestamp: { start: 1796596356, stop: 1796596369 },
        archive: { start: "000000020000000000000006", stop: "000000020000000000000006" },
        info: { size: 23488102, delta: 23488102, repository: { size: 2831155, delta: 2831155 } },
      },
      {
        label: "20261206-223236F_20261206-224000I",
        type: "incr",
        prior: "20261206-223236F",
        timestamp: { start: 1796596800, stop: 1796596803 },
        archive: { start: "000000020000000000000008", stop: "000000020000000000000008" },
        info: { size: 23488102, delta: 8192, repository: { size: 2831155, delta: 1024 } },
      },
    ],
  },
]);

const ok = (host: string, primary: boolean): HostArchive =>
  parseHostArchive(
    host,
    `dropped=0 last_drop=0 failing=0 error=\n${primary ? "f|7|000000020000000000000009|1796596900|0||0" : "t|0||0|0||0"}\n`,
  );

describe("ctl backups", () => {
  it("reads the stanza whatever info's exit code said, and each host's archive line", () => {
    expect(parseInfo(INFO, "bkdev").backup).toHaveLength(2);
    expect(() => parseInfo(INFO, "other")).toThrow(/no stanza other/);
    const h = parseHostArchive(
      "pg02",
      "dropped=9 last_drop=1796597000 failing=1 error=103 unable to find a valid repository\nf|7|000000020000000000000009|1796596900|3|00000002000000000000000A|1796596950\n",
    );
    expect(h).toMatchObject({
      primary: true,
      dropped: 9,
      lastDrop: 1796597000,
      failing: true,
      error: "103 unable to find a valid repository",
    });
    expect(h.archiver).toMatchObject({ failedCount: 3, lastFailedWal: "00000002000000000000000A" });
  });

  it("lists each backup with its size, time and WAL range, the archive's range and each host", () => {
    const text = formatBackups(parseInfo(INFO, "bkdev"), [ok("pg01", false), ok("pg02", true)], "backup01");
    expect(text).toContain("stanza bkdev in backup01: ok");
    expect(text).toContain(
      "20261206-223236F | full | 2026-12-06 22:32:36Z | 13 s | 22.4 MiB | 2.7 MiB | 000000020000000000000006..000000020000000000000006",
    );
    expect(text).toContain("incr of 20261206-223236F");
    expect(text).toContain("WAL archive 17-1: 000000020000000000000004 .. 000000020000000000000009");
    expect(text).toContain(
      "pg02 (primary); last archived 000000020000000000000009 at 2026-12-06 22:41:40Z, 7 archived, 0 failed; pushes ok; no WAL dropped",
    );
    expect(text).not.toContain("WARNING");
  });
});

describe("ctl check", () => {
  const info = parseInfo(INFO, "bkdev");
  it("passes a healthy stanza", () => {
    expect(backupProblems(info, [ok("pg01", false), ok("pg02", true)])).toEqual([]);
  });

  it("fails on WAL dropped after the newest backup began, not before it", () => {
    const dropped = (at: number) => ({ ...ok("pg02", true), dropped: 4, lastDrop: at });
    expect(backupProblems(info, [dropped(1796596801)]).join()).toContain("dropped WAL (archive queue full");
    expect(backupProblems(info, [dropped(1796596801)]).join()).toContain("take a new backup now");
    expect(backupProblems(info, [dropped(1796596700)])).toEqual([]);
  });

  it("fails on an error status (info exits 0 anyway), failing pushes and unreachable hosts", () => {
    const bad = { ...info, status: { code: 2, message: "no valid backups" }, backup: [] };
    expect(backupProblems(bad, []).join()).toContain("status 2 (no valid backups)");
    expect(backupProblems(info, [{ ...ok("pg02", true), failing: true, error: "103 no repo" }]).join()).toContain(
      "pushing WAL to the repository fails now: 103 no repo",
    );
    expect(backupProblems(info, [{ ...ok("pg01", false), unreachable: "timeout" }]).join()).toContain(
      "pg01: could not read",
    );
  });
});

describe("ctl arguments for backups", () => {
  it("reads backup --type, incr by default, and refuses other types", () => {
    expect(parseCtlArgs(["backup", "--type", "full"], "local").command).toEqual({ kind: "backup", type: "full" });
    expect(parseCtlArgs(["backup"], "local").command).toEqual({ kind: "backup", type: "incr" });
    expect(parseCtlArgs(["--stack", "x", "backups"], "local")).toEqual({ stack: "x", command: { kind: "backups" } });
    expect(() => parseCtlArgs(["backup", "--type", "weekly"], "local")).toThrow(/one of full, diff, incr/);
    expect(() => parseCtlArgs(["check", "--type", "full"], "local")).toThrow(/takes no arguments/);
  });
});
