import { describe, expect, it } from "vitest";
import { parseTargetTime, restoreTargetOptions, restoreTargetProblems } from "./restoreTarget";

const now = new Date("2026-12-06T21:00:00Z");

describe("restore targets", () => {
  it("reads times only with their zone", () => {
    expect(parseTargetTime("2026-12-06 21:11:31+00")).toBe(Date.parse("2026-12-06T21:11:31Z"));
    expect(parseTargetTime("2026-12-06T21:11:31.5Z")).toBe(Date.parse("2026-12-06T21:11:31.500Z"));
    expect(parseTargetTime("2026-12-06 23:11:31+0200")).toBe(Date.parse("2026-12-06T21:11:31Z"));
    expect(parseTargetTime("2026-12-06 21:11:31")).toBeUndefined();
    expect(parseTargetTime("yesterday")).toBeUndefined();
  });

  it("accepts each type with a well-formed value", () => {
    expect(restoreTargetProblems("latest", undefined, now)).toEqual([]);
    expect(restoreTargetProblems("time", "2026-12-06 20:59:00+00", now)).toEqual([]);
    expect(restoreTargetProblems("name", "before-drop", now)).toEqual([]);
    expect(restoreTargetProblems("lsn", "0/23035A70", now)).toEqual([]);
    expect(restoreTargetProblems("xid", "783", now)).toEqual([]);
  });

  it.each([
    ["latest", "x", "takes no value"],
    ["time", undefined, "needs a value"],
    ["time", "2026-12-06 21:11:31", "with its zone"],
    ["time", "2026-12-06 21:00:01+00", "in the future"],
    ["lsn", "23035A70", "not an LSN"],
    ["xid", "-1", "not a transaction id"],
    ["name", "drop table x;", "not a restore point name"],
  ])("refuses type %s with %s: %s", (type, value, fragment) => {
    expect(restoreTargetProblems(type, value, now).join()).toContain(fragment);
  });

  it("becomes pgBackRest's options, promoted at the target; latest has none", () => {
    expect(restoreTargetOptions("latest", undefined)).toEqual([]);
    expect(restoreTargetOptions("name", "drill")).toEqual(["--type=name", "--target=drill", "--target-action=promote"]);
  });
});
