// systemd calendar expressions (OnCalendar=, systemd.time(7)), checked on
// the controller so a schedule the timer would refuse is stopped at preview,
// not half way through `pulumi up` on the backup host. The host still runs
// systemd-analyze on the rendered unit before it replaces the old one.

const SHORTHANDS = new Set([
  "minutely",
  "hourly",
  "daily",
  "weekly",
  "monthly",
  "yearly",
  "annually",
  "quarterly",
  "semiannually",
]);

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/** A weekday as systemd spells it: the full English name or its first three letters, any case. */
const weekdayIndex = (w: string): number => {
  const l = w.toLowerCase();
  return WEEKDAYS.findIndex((d) => d === l || d.slice(0, 3) === l);
};

/** Weekdays: a comma list of days and ranges, each range from Monday's side (Mon..Fri, not Sun..Mon). */
function weekdaysProblem(token: string): string | undefined {
  for (const item of token.split(",")) {
    const ends = item.split("..").map(weekdayIndex);
    if (ends.length > 2 || ends.some((i) => i < 0) || (ends.length === 2 && ends[0] > ends[1]))
      return `'${item}' is not a weekday or a range of them (Mon..Fri)`;
  }
  return undefined;
}

interface Field {
  name: string;
  min: number;
  max: number;
  fraction?: boolean;
}

const YEAR: Field = { name: "year", min: 1970, max: 2199 };
const MONTH: Field = { name: "month", min: 1, max: 12 };
const DAY: Field = { name: "day", min: 1, max: 31 };
const HOUR: Field = { name: "hour", min: 0, max: 23 };
const MINUTE: Field = { name: "minute", min: 0, max: 59 };
const SECOND: Field = { name: "second", min: 0, max: 59, fraction: true };

/** One component: `*`, or a comma list of value, value..value, each with an optional /repeat. */
function componentProblem(text: string, field: Field): string | undefined {
  if (text === "*") return undefined;
  const number = field.fraction ? /^\d+(\.\d{1,6})?$/ : /^\d+$/;
  const inRange = (v: string) =>
    number.test(v) && Math.trunc(Number(v)) >= field.min && Math.trunc(Number(v)) <= field.max;
  for (const item of text.split(",")) {
    const [range, repeat, ...more] = item.split("/");
    if (more.length > 0 || (repeat !== undefined && !(number.test(repeat) && Number(repeat) > 0)))
      return `'${item}' has a bad repetition (value/step with a step above 0)`;
    const ends = range.split("..");
    const valid =
      ends.length <= 2 &&
      ends.every((e, i) => inRange(e) || (e === "*" && ends.length === 1 && i === 0)) &&
      (ends.length === 1 || Number(ends[0]) <= Number(ends[1]));
    if (!valid) return `'${item}' is not a valid ${field.name} (${field.min} to ${field.max}, *, a..b or a list)`;
  }
  return undefined;
}

/** `[YEAR-]MONTH-DAY` or `[YEAR-]MONTH~DAY` (days counted from the month's end). */
function dateProblem(token: string): string | undefined {
  const tilde = token.split("~");
  if (tilde.length > 2) return `'${token}' has more than one ~`;
  const head = tilde[0].split("-");
  const parts = tilde.length === 2 ? [...head, tilde[1]] : head;
  if (parts.length < 2 || parts.length > 3) return `'${token}' is not a date ([year-]month-day)`;
  const fields = parts.length === 3 ? [YEAR, MONTH, DAY] : [MONTH, DAY];
  for (let i = 0; i < parts.length; i++) {
    const problem = componentProblem(parts[i], fields[i]);
    if (problem) return problem;
  }
  return undefined;
}

/** `HOUR:MINUTE[:SECOND]`. */
function timeProblem(token: string): string | undefined {
  const parts = token.split(":");
  if (parts.length < 2 || parts.length > 3) return `'${token}' is not a time (hour:minute[:second])`;
  const fields = [HOUR, MINUTE, SECOND];
  for (let i = 0; i < parts.length; i++) {
    const problem = componentProblem(parts[i], fields[i]);
    if (problem) return problem;
  }
  return undefined;
}

const isTimeZone = (token: string): boolean =>
  token === "UTC" ||
  (/^[A-Za-z_]+\/[A-Za-z_/+\-0-9]+$/.test(token) && Intl.supportedValuesOf("timeZone").includes(token));

/**
 * Why systemd would refuse `expression` as OnCalendar=, or undefined when it
 * is valid: `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]`
 * or a shorthand (daily, weekly...).
 */
export function calendarProblem(expression: string): string | undefined {
  const text = expression.trim();
  if (text === "") return "is empty";
  if (text.startsWith("@")) return "is a point in time (@seconds), not a schedule";
  if (SHORTHANDS.has(text.toLowerCase())) return undefined;
  const tokens = text.split(/\s+/);
  if (/^[A-Za-z]/.test(tokens[0]) && !isTimeZone(tokens[0])) {
    const problem = weekdaysProblem(tokens.shift() as string);
    if (problem) return problem;
  }
  if (tokens.length > 0 && isTimeZone(tokens[tokens.length - 1])) tokens.pop();
  if (tokens.length > 2) return `has ${tokens.length} parts where a date and a time are expected`;
  const [first, second] = tokens;
  if (second !== undefined) return dateProblem(first) ?? timeProblem(second);
  if (first === undefined) return undefined;
  return first.includes(":") ? timeProblem(first) : dateProblem(first);
}
