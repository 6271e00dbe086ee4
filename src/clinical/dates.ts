/**
 * Calendar arithmetic for lab days. A lab day is a calendar date in the hospital's time zone
 * (docs/clinical-logic.md §2: UTC when unknown); day numbers are whole days from day 0.
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

export type Instant = { ms: number; date: string };

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T/;

/** A trailing UTC designator or offset: `Z`, `+08:00`, `-05:00`. */
const OFFSET = /(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads a FHIR date or dateTime. Returns its instant and its lab date, or undefined when it is
 * missing, invalid, or less precise than a day (docs/clinical-logic.md §2):
 *
 * - a timestamp with its own offset (`07:30:00+08:00`) belongs to its own local calendar date;
 * - a UTC timestamp (`Z`, or `-00:00`, "offset unknown" in RFC 3339) or one without an offset
 *   belongs to its date in `timeZone` (the hospital's time zone; UTC when not configured).
 */
export function readInstant(value: string | undefined, timeZone: string): Instant | undefined {
  if (!value) return undefined;
  if (value.length === 10) {
    if (!DATE_ONLY.test(value)) return undefined;
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) ? undefined : { ms, date: value };
  }
  if (!DATE_TIME.test(value)) return undefined; // year or year-month only
  const offset = OFFSET.exec(value)?.[1];
  if (offset === undefined) {
    // No offset (not valid FHIR, but sent): a wall-clock time in the hospital's time zone.
    const asUtc = Date.parse(`${value}Z`);
    if (Number.isNaN(asUtc)) return undefined;
    return { ms: asUtc - zoneOffsetMs(timeZone, asUtc), date: value.slice(0, 10) };
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  // Its own offset, or UTC in a UTC hospital: the date is the one written.
  if ((offset !== 'Z' && offset !== '-00:00') || timeZone === 'UTC') return { ms, date: value.slice(0, 10) };
  return { ms, date: formatter(timeZone).format(ms) };
}

/** The UTC offset of `timeZone` around the instant `ms`, in milliseconds. */
function zoneOffsetMs(timeZone: string, ms: number): number {
  if (timeZone === 'UTC') return 0;
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(ms);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** readInstant with a memo: the analytes of one blood draw share their timestamp. */
export function instantReader(timeZone: string): (value: string | undefined) => Instant | undefined {
  const memo = new Map<string, Instant | undefined>();
  return (value) => {
    if (!value) return undefined;
    const known = memo.get(value);
    if (known !== undefined || memo.has(value)) return known;
    const instant = readInstant(value, timeZone);
    memo.set(value, instant);
    return instant;
  };
}

/** Whole days from `from` to `to` (YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Age in whole years on `onDate`. */
export function ageInYears(birthDate: string | undefined, onDate: string): number | null {
  if (!birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) return null;
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = onDate.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

export function isDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
}

/** Today's date (YYYY-MM-DD) in `timeZone`. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  return formatter(timeZone).format(now);
}
