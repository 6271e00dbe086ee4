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
    // 00:00 UTC of that date: an order among instants it does not have. What needs the latest or the
    // first value of a date compares dates (assess.ts lastOfLatestDate; recommendations.ts doneSince).
    return Number.isNaN(ms) || !writtenAs(value, ms, 0) ? undefined : { ms, date: value };
  }
  if (!DATE_TIME.test(value)) return undefined; // year or year-month only
  const offset = OFFSET.exec(value)?.[1];
  if (offset === undefined) {
    // No offset (not valid FHIR, but sent): a wall-clock time in the hospital's time zone.
    const asUtc = Date.parse(`${value}Z`);
    if (Number.isNaN(asUtc) || !writtenAs(value, asUtc, 0)) return undefined;
    return { ms: asUtc - zoneOffsetMs(timeZone, asUtc), date: value.slice(0, 10) };
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !writtenAs(value, ms, offsetMinutes(offset))) return undefined;
  // Its own offset, or UTC in a UTC hospital: the date is the one written.
  if ((offset !== 'Z' && offset !== '-00:00') || timeZone === 'UTC') return { ms, date: value.slice(0, 10) };
  return { ms, date: formatter(timeZone).format(ms) };
}

/**
 * Whether `ms`, shifted by the value's own offset, has the date, hour and minute the value writes.
 * Date.parse rolls fields out of range over: 2026-02-29 becomes 1 March, 2026-11-31 is 1 December,
 * T24:00 is the next day's midnight. None of them is a FHIR date or dateTime, and a day 0 or a lab
 * day read from one would be a day that was never written.
 */
function writtenAs(value: string, ms: number, offsetMinutes: number): boolean {
  const written = new Date(ms + offsetMinutes * 60_000).toISOString();
  const fields = value.length === 10 ? 10 : 16; // YYYY-MM-DD, or YYYY-MM-DDThh:mm
  return written.slice(0, fields) === value.slice(0, fields);
}

/** Minutes east of UTC of a `Z` or `±hh:mm` designator. */
function offsetMinutes(designator: string): number {
  if (designator === 'Z') return 0;
  const minutes = Number(designator.slice(1, 3)) * 60 + Number(designator.slice(4, 6));
  return designator.startsWith('-') ? -minutes : minutes;
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

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * readInstant for the engine's hot loop, allocating nothing per value: `read(value)` returns
 * whether the value is a date to the day and leaves its instant in `ms` and its lab date in `date`
 * (one string per calendar date, shared). The usual `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)` is read
 * digit by digit; anything else (no offset, out-of-range fields, a `Z` time in a hospital not on
 * UTC) goes through readInstant, so both always agree (a property test checks it).
 */
export class InstantParser {
  ms = 0;
  date = '';
  /** The text last read was a date without a time (its ms is 00:00 UTC of that date). */
  dateOnly = false;
  readonly #timeZone: string;
  readonly #slow: (value: string | undefined) => Instant | undefined;
  /** Lab date strings by days since 1970-01-01. */
  readonly #dates = new Map<number, string>();

  constructor(timeZone: string) {
    this.#timeZone = timeZone;
    this.#slow = instantReader(timeZone);
  }

  /** The text last read successfully: the analytes of one blood draw share their timestamp. */
  #last: string | undefined;

  read(value: string | undefined): boolean {
    if (value === this.#last && value !== undefined) return true; // ms and date still hold it
    if (typeof value === 'string' && value.length >= 20 && this.#fast(value)) {
      this.#last = value;
      this.dateOnly = false;
      return true;
    }
    this.#last = undefined;
    const instant = this.#slow(value);
    if (!instant) return false;
    this.ms = instant.ms;
    this.date = instant.date;
    this.dateOnly = (value as string).length === 10;
    this.#last = value;
    return true;
  }

  #fast(v: string): boolean {
    if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84) return false; // - - T
    if (v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return false; // : :
    const year = digits(v, 0, 4);
    const month = digits(v, 5, 2);
    const day = digits(v, 8, 2);
    const hour = digits(v, 11, 2);
    const minute = digits(v, 14, 2);
    const second = digits(v, 17, 2);
    // Years before 1000 go the slow way (Date.UTC reads 0–99 as 1900–1999); -1 is a non-digit.
    if (year < 1000 || month < 1 || month > 12 || day < 1 || (hour | minute | second) < 0) return false;
    if (hour > 23 || minute > 59 || second > 59) return false;
    if (day > (DAYS_IN_MONTH[month - 1] as number)) return false;
    if (month === 2 && day === 29 && !isLeap(year)) return false;
    let i = 19;
    let millis = 0;
    if (v.charCodeAt(i) === 46) {
      // A fraction: its first three digits are the milliseconds, as Date.parse reads them.
      const start = ++i;
      while (i < v.length && isDigit(v.charCodeAt(i))) i++;
      const n = i - start;
      if (n === 0) return false;
      millis = digits(v, start, Math.min(n, 3)) * (n === 1 ? 100 : n === 2 ? 10 : 1);
    }
    let offsetMinutes: number;
    const designator = v.charCodeAt(i);
    if (designator === 90 && i + 1 === v.length) {
      // Z: the written date is the lab date only in a hospital on UTC.
      if (this.#timeZone !== 'UTC') return false;
      offsetMinutes = 0;
    } else if ((designator === 43 || designator === 45) && i + 6 === v.length && v.charCodeAt(i + 3) === 58) {
      const oh = digits(v, i + 1, 2);
      const om = digits(v, i + 4, 2);
      if (oh < 0 || om < 0 || oh > 23 || om > 59) return false;
      if (designator === 45 && oh === 0 && om === 0 && this.#timeZone !== 'UTC') return false; // -00:00 is UTC
      offsetMinutes = (designator === 43 ? 1 : -1) * (oh * 60 + om);
    } else return false;
    const epochDay = daysFromCivil(year, month, day);
    this.ms = epochDay * DAY_MS + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
    let date = this.#dates.get(epochDay);
    if (date === undefined) {
      date = v.slice(0, 10);
      this.#dates.set(epochDay, date);
    }
    this.date = date;
    return true;
  }
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The number written by `length` decimal digits at `start`, or -1 when one is not a digit. */
function digits(v: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const c = v.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * Days since 1970-01-01 of a YYYY-MM-DD date, by arithmetic (the engine counts days for every lab
 * day); anything else as Date.parse reads it (NaN when it cannot).
 */
function epochDay(date: string): number {
  if (date.length === 10 && date.charCodeAt(4) === 45 && date.charCodeAt(7) === 45) {
    const year = digits(date, 0, 4);
    const month = digits(date, 5, 2);
    const day = digits(date, 8, 2);
    if (year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= (DAYS_IN_MONTH[month - 1] as number))
      if (month !== 2 || day !== 29 || isLeap(year)) return daysFromCivil(year, month, day);
  }
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 && !isLeap(year) ? 28 : (DAYS_IN_MONTH[month - 1] as number);
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Whole days from `from` to `to` (YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
  return Math.round(epochDay(to) - epochDay(from));
}

export function addDays(date: string, days: number): string {
  const target = epochDay(date) + days;
  if (Number.isInteger(target)) {
    const civil = civilFromDays(target);
    if (civil[0] >= 1000 && civil[0] <= 9999)
      return `${civil[0]}-${civil[1] < 10 ? '0' : ''}${civil[1]}-${civil[2] < 10 ? '0' : ''}${civil[2]}`;
  }
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The proleptic Gregorian [year, month, day] of a count of days since 1970-01-01 (H. Hinnant's civil_from_days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/**
 * Age in whole years on `onDate` (YYYY-MM-DD) from a FHIR birth date, which may give the year, or the
 * year and month, only. `partial` when the date leaves two ages possible (this year's birthday not
 * known to have passed): then `years` is the younger, the age the patient is at least. Null without
 * a birth date, for one that is no date, and for one after `onDate`.
 */
export function ageOn(birthDate: string | undefined, onDate: string): { years: number; partial: boolean } | null {
  const birth = /^(\d{4})(?:-(0[1-9]|1[0-2])(?:-(\d{2}))?)?$/.exec(birthDate ?? '');
  if (!birth || (birth[3] !== undefined && !isDate(birthDate ?? ''))) return null;
  const by = Number(birth[1]);
  const bm = birth[2] === undefined ? undefined : Number(birth[2]);
  const bd = birth[3] === undefined ? undefined : Number(birth[3]);
  const [y, m, d] = onDate.split('-').map(Number) as [number, number, number];
  // Whether this year's birthday has come by onDate; undefined when the birth date cannot tell.
  let reached: boolean | undefined;
  if (bm === undefined) reached = m === 12 && d === 31 ? true : undefined;
  else if (m !== bm) reached = m > bm;
  // The month of birth without its day: every birthday of it has come on its last day (the birth
  // year's length of February, as a full 29 February birth date counts on 28 February).
  else reached = bd === undefined ? (d >= daysInMonth(by, bm) ? true : undefined) : d >= bd;
  if (by === y) return reached === false ? null : { years: 0, partial: false }; // born this year
  const years = y - by - (reached === true ? 0 : 1);
  return years < 0 ? null : { years, partial: reached === undefined };
}

/** A calendar date YYYY-MM-DD that exists (Date.parse alone takes 2026-02-30 as 2 March). */
export function isDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value);
}

let lastToday: { timeZone: string; minute: number; date: string } | undefined;

/** Today's date (YYYY-MM-DD) in `timeZone`; formatted once a minute (every call asks, Intl is slow). */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  // Zone offsets are whole minutes, so the date cannot change within a UTC minute.
  const minute = Math.floor(now.getTime() / 60_000);
  if (lastToday?.timeZone !== timeZone || lastToday.minute !== minute)
    lastToday = { timeZone, minute, date: formatter(timeZone).format(now) };
  return lastToday.date;
}

/** Longest span of instants sharing one written date: 24 hours plus offsets from −12:00 to +14:00. */
export const LAB_DATE_SPAN_MS = 50 * 3_600_000;

/**
 * The last draw (in time order) of the latest lab date among `values`. Usually the last value; but a
 * value with its own offset belongs to its own local date (clinical spec §1), so a later instant can
 * carry an earlier date: PLT 50 at 21:00−05:00 on the 9th is 02:00 UTC on the 10th, after a count
 * dated the 10th without a time in a UTC hospital, and was taken as the latest.
 */
export function lastOfLatestDate<V extends { ms: number; date: string }>(values: readonly V[]): V | undefined {
  const end = values.at(-1);
  if (!end) return undefined;
  let found = end;
  for (let i = values.length - 2; i >= 0; i--) {
    const v = values[i] as V;
    if (end.ms - v.ms > LAB_DATE_SPAN_MS) break;
    if (v.date > found.date) found = v;
  }
  return found;
}

/**
 * Where a recorded event (its written `time`, instant and date) falls against a value drawn at
 * `valueMs` (none for a value dated without a time) on `valueDate`: -1 before, 1 after, 0 when the
 * order is not known (the same instant, or the same date when either has no time).
 */
export function comparedToDraw(
  e: { time: string; ms: number; date: string },
  valueMs: number | undefined,
  valueDate: string,
): -1 | 0 | 1 {
  if (valueMs !== undefined && e.time.length > 10) return e.ms < valueMs ? -1 : e.ms > valueMs ? 1 : 0;
  return e.date < valueDate ? -1 : e.date > valueDate ? 1 : 0;
}
