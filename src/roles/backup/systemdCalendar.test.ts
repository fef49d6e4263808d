import { describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import { calendarProblem } from "./systemdCalendar";

const valid = [
  "daily",
  "Weekly",
  "Sun *-*-* 01:00:00",
  "Mon..Sat *-*-* 01:00:00",
  "monday,Wed,Fri 04:00",
  "*:0/15",
  "*-*-* 12:00:00.5",
  "2026-12-01",
  "*-02~03",
  "*-*-1,15 03:00",
  "Sat,Sun *-*-* 0..6:00",
  "*-*-* 01:00 UTC",
  "*-*-* 01:00 Europe/Berlin",
  "Sun",
];

const invalid: [string, string][] = [
  ["Mon *-*-* 25:00", "'25' is not a valid hour (0 to 23"],
  ["*:*:60", "'60' is not a valid second"],
  ["*-13-01", "'13' is not a valid month"],
  ["*-*-32", "'32' is not a valid day"],
  ["*-*-3..1", "'3..1' is not a valid day"],
  ["*-*-* 6..0:00", "'6..0' is not a valid hour"],
  ["*-*-* 01:00/0", "bad repetition"],
  ["Mo 04:00", "'Mo' is not a weekday"],
  ["Sun..Mon 00:00", "'Sun..Mon' is not a weekday or a range of them (Mon..Fri)"],
  ["*-*-* 01:00 Mars/Base", "has 3 parts"],
  ["*-*-* 03", "'03' is not a time"],
  ["03", "'03' is not a date"],
  ["1969-01-01", "'1969' is not a valid year"],
  ["*-*-1,,15", "'' is not a valid day"],
  ["@1700000000", "a point in time"],
];

describe("systemd calendar expressions", () => {
  it.each(valid)("takes %s", (e) => expect(calendarProblem(e)).toBeUndefined());
  it.each(invalid)("refuses %s", (e, why) => expect(calendarProblem(e)).toContain(why));

  // The controller's own systemd is the reference (it is on every machine that
  // runs local stands): every case above must get the same verdict from it,
  // except @epoch, a valid timestamp we refuse because it is not a schedule.
  it("agrees with systemd-analyze on every case", () => {
    const disagreements = [...valid, ...invalid.map(([e]) => e)]
      .filter((e) => !e.startsWith("@"))
      .filter((e) => {
        const r = spawnSync("systemd-analyze", ["calendar", e], { encoding: "utf8" });
        if (r.error) throw r.error;
        return (r.status === 0) !== (calendarProblem(e) === undefined);
      });
    expect(disagreements).toEqual([]);
  });
});
