// archive_command's wrapper, run as PostgreSQL's archiver would run it, with a
// fake pgbackrest: an old timeline's segment that the archive holds in
// another version must not stop archiving; every other failure must.
import { describe, expect, it } from "vitest";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { archiveParameters } from "./patroniArchiving";
import { ARCHIVE_PUSH_PATH } from "./slice";

const SCRIPT = path.join(__dirname, "archive-push.sh");

/** A data directory with these history files, and a pgbackrest that exits with `code`. */
function run(code: number, wal: string, histories: string[]): { status: number | null; stderr: string; calls: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "archive-push-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.mkdirSync(path.join(dir, "pg_wal"));
  for (const h of histories) fs.writeFileSync(path.join(dir, "pg_wal", h), "");
  const calls = path.join(dir, "calls");
  fs.writeFileSync(path.join(dir, "bin", "pgbackrest"), `#!/bin/sh\necho "$*" >> ${calls}\nexit ${code}\n`, {
    mode: 0o755,
  });
  const r = childProcess.spawnSync("sh", [SCRIPT, "demo", `pg_wal/${wal}`], {
    cwd: dir,
    env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` },
    encoding: "utf8",
  });
  const out = { status: r.status, stderr: r.stderr, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "" };
  fs.rmSync(dir, { recursive: true });
  return out;
}

describe("pp-pgbackrest-archive-push (archive_command)", () => {
  it("has pgbackrest in its name: pgbackrest check and backup refuse an archive_command without it", () => {
    expect(archiveParameters({ stanza: "demo", archiveTimeout: 60 }).archive_command).toBe(
      "/usr/local/lib/pulumi-patroni/pp-pgbackrest-archive-push demo %p",
    );
    expect(ARCHIVE_PUSH_PATH.split("/").pop()).toContain("pgbackrest");
  });

  it("is pgBackRest's archive-push of the segment, for the stanza", () => {
    const r = run(0, "00000003000000000000000A", ["00000002.history", "00000003.history"]);
    expect(r.status).toBe(0);
    expect(r.calls.trim()).toBe("--stanza=demo archive-push pg_wal/00000003000000000000000A");
  });

  it("skips, with a warning, an older timeline's segment the archive holds in another version", () => {
    const r = run(45, "000000080000000000000011", ["00000008.history", "0000000A.history", "0000000B.history"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/WARNING: 000000080000000000000011 \(timeline 8, this primary is on 11\)/);
  });

  it("fails on a clash on the primary's own timeline (two primaries wrote it), on timeline 1, and on any other error", () => {
    expect(run(45, "0000000B0000000000000011", ["0000000A.history", "0000000B.history"]).status).toBe(45);
    expect(run(45, "000000010000000000000011", []).status).toBe(45);
    expect(run(45, "0000000A.history", ["0000000B.history"]).status).toBe(45);
    expect(run(45, "000000010000000000000011.partial", ["00000002.history"]).status).toBe(45);
    expect(run(82, "000000010000000000000011", ["00000002.history"]).status).toBe(82);
  });
});
