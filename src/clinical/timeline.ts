/**
 * The time axis (docs/clinical-logic.md §2): day 0, lymphodepletion, baseline, and lab days.
 *
 * - Day 0 is the latest CAR-T infusion on or before the assessment date, unless the request names
 *   another; a MedicationAdministration and a Procedure on the same date are one infusion.
 * - Baseline values are the last ones before lymphodepletion, else before day 0, within the
 *   baseline look-back.
 * - A lab day holds the worst (lowest) value measured that calendar day.
 */
import { compareMeasured } from './bounds.js';
import { addDays, daysBetween } from './dates.js';
import type { Thresholds } from './thresholds.js';
import type { Analyte, AssessmentIssue, ClinicalEvent, InfusionInfo, LabDay, LabValue } from './types.js';

export interface Timeline {
  asOf: string;
  /** Day 0 (infusion date), or null without CAR-T. */
  day0: string | null;
  infusionMs: number | null;
  infusions: InfusionInfo[];
  product: string | null;
  lymphodepletionDate: string | null;
  /** Values strictly before this instant can be baseline values. */
  baselineBeforeMs: number;
  baselineBeforeDate: string;
  /** Day of the assessment date (days since infusion; 0 without CAR-T). */
  asOfDay: number;
}

const dayMemos = new WeakMap<Timeline, Map<string, number>>();

/** Day number of a date: days since day 0, or days relative to the assessment date without CAR-T. */
export function dayNumber(timeline: Timeline, date: string): number {
  // Memoised per timeline: thousands of values share a few hundred dates.
  let memo = dayMemos.get(timeline);
  if (!memo) {
    memo = new Map();
    dayMemos.set(timeline, memo);
  }
  let day = memo.get(date);
  if (day === undefined) {
    day = daysBetween(timeline.day0 ?? timeline.asOf, date);
    memo.set(date, day);
  }
  return day;
}

export function buildTimeline(
  events: readonly ClinicalEvent[],
  asOf: string,
  requestedDay0: string | undefined,
  t: Thresholds,
): { timeline: Timeline; issues: AssessmentIssue[] } {
  const issues: AssessmentIssue[] = [];
  const infusionEvents = events.filter((e) => e.kind === 'car-t' && e.date <= asOf);
  const byDate = new Map<string, ClinicalEvent[]>();
  for (const e of infusionEvents) byDate.set(e.date, [...(byDate.get(e.date) ?? []), e]);
  const dates = [...byDate.keys()].sort();
  const future = events.filter((e) => e.kind === 'car-t' && e.date > asOf);
  if (future.length > 0) {
    issues.push({
      severity: 'information',
      code: 'infusion',
      message: `a CAR-T infusion dated after ${asOf} is ignored`,
      resource: future[0]?.reference,
    });
  }

  let day0: string | null = dates.at(-1) ?? null;
  if (requestedDay0) {
    if (!byDate.has(requestedDay0)) {
      const message = `day 0 set to ${requestedDay0} by the request; no CAR-T infusion is recorded on that date`;
      issues.push({ severity: 'information', code: 'infusion', message });
    }
    day0 = requestedDay0;
  } else if (dates.length > 1) {
    issues.push({
      severity: 'information',
      code: 'infusion',
      message: `${dates.length} CAR-T infusions recorded (${listedDates(dates)}); day 0 is the latest`,
    });
  }
  const infusions: InfusionInfo[] = dates.map((date) => {
    const group = byDate.get(date) ?? [];
    return {
      date,
      day: day0 ? daysBetween(day0, date) : 0,
      product: group.find((e) => e.product)?.product ?? null,
      references: group.map((e) => e.reference),
    };
  });
  const day0Events = day0 ? (byDate.get(day0) ?? []) : [];
  const infusionMs =
    day0Events.length > 0 ? Math.min(...day0Events.map((e) => e.ms)) : day0 ? Date.parse(`${day0}T00:00:00Z`) : null;

  // Lymphodepletion: the first dose in the window before day 0 (docs/clinical-logic.md §2).
  let lymphodepletionDate: string | null = null;
  let ldMs: number | null = null;
  if (day0) {
    const windowStart = addDays(day0, -t.baseline.lymphodepletionWindowDays);
    const ld = events.filter((e) => e.kind === 'lymphodepletion' && e.date >= windowStart && e.date <= day0);
    if (ld.length > 0) {
      ldMs = Math.min(...ld.map((e) => e.ms));
      lymphodepletionDate = ld.find((e) => e.ms === ldMs)?.date ?? null;
    }
  }
  const baselineBeforeMs = ldMs ?? infusionMs ?? Date.parse(`${addDays(asOf, 1)}T00:00:00Z`);
  const baselineBeforeDate = lymphodepletionDate ?? day0 ?? addDays(asOf, 1);
  return {
    timeline: {
      asOf,
      day0,
      infusionMs,
      infusions,
      product: day0Events.find((e) => e.product)?.product ?? null,
      lymphodepletionDate,
      baselineBeforeMs,
      baselineBeforeDate,
      asOfDay: day0 ? daysBetween(day0, asOf) : 0,
    },
    issues,
  };
}

/**
 * Each analyte's values (lists of ours, changed in place) in time order and only up to the
 * assessment date; analytes left with no value are dropped.
 */
export function upToInTimeOrder(
  byAnalyte: Map<Analyte, LabValue[]>,
  asOf: string,
  /** Told of each value dated after asOf as it is dropped. */
  later?: (v: LabValue) => void,
): Map<Analyte, LabValue[]> {
  for (const [analyte, list] of byAnalyte) {
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const v = list[i] as LabValue;
      if (v.date <= asOf) list[kept++] = v;
      else later?.(v);
    }
    list.length = kept;
    if (kept === 0) byAnalyte.delete(analyte);
    // Searches usually return values in time order: sort only the lists that are not, stably (ties
    // keep their input order).
    else sortByTime(list);
  }
  return byAnalyte;
}

/** Compares instants; -1/0/1 rather than a difference, which the sort would receive as a boxed double. */
const byMs = (a: LabValue, b: LabValue): number => (a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : 0);

/** Lists shorter than this are sorted the general way: counting into 256 buckets per pass costs more. */
const MIN_RADIX = 128;
const TWO_TO_32 = 2 ** 32;

/**
 * Sorts `list` by instant, stably, in time linear in its length whatever its order: a list already
 * in time order is left as it is; a short one takes the general sort; a longer one a radix sort.
 * Values arrive as runs in time order (one search after another, draws appended per round: 107 runs
 * of 71 values per analyte in bench/engine.ts at 50,000 Observations), and merging k runs costs
 * log k comparisons per value, which made the engine slower per Observation the larger the record.
 */
export function sortByTime(list: LabValue[]): void {
  let ordered = true;
  for (let i = 1; i < list.length && ordered; i++) ordered = (list[i] as LabValue).ms >= (list[i - 1] as LabValue).ms;
  if (ordered) return;
  if (list.length < MIN_RADIX || !radixSortByTime(list)) list.sort(byMs);
}

/**
 * Least-significant-byte radix sort of `list` by instant, one pass per byte of the instants'
 * range: stable, as each pass keeps the order of the one before among equal bytes. Instants are
 * whole milliseconds; returns false, sorting nothing, for any that is not (or a range of 2^53 ms
 * and more), which the general sort then takes.
 */
function radixSortByTime(list: LabValue[]): boolean {
  const n = list.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const ms = (list[i] as LabValue).ms;
    if (!Number.isInteger(ms)) return false;
    if (ms < min) min = ms;
    if (ms > max) max = ms;
  }
  if (max - min >= Number.MAX_SAFE_INTEGER) return false;
  // Each instant as its offset from the earliest, split in two unsigned 32-bit halves.
  const low = new Uint32Array(n);
  const high = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const offset = (list[i] as LabValue).ms - min;
    const h = Math.floor(offset / TWO_TO_32);
    high[i] = h;
    low[i] = offset - h * TWO_TO_32;
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let spare = new Uint32Array(n);
  const count = new Uint32Array(257);
  for (let shift = 0; shift < 64 && (max - min) / 2 ** shift >= 1; shift += 8) {
    const half = shift < 32 ? low : high;
    const bits = shift % 32;
    count.fill(0);
    for (let i = 0; i < n; i++) (count[(((half[i] as number) >>> bits) & 255) + 1] as number)++;
    if (count.includes(n)) continue; // every value has the same byte here: this pass would change nothing
    for (let b = 1; b <= 256; b++) count[b] = (count[b] as number) + (count[b - 1] as number);
    for (let i = 0; i < n; i++) {
      const at = order[i] as number;
      spare[(count[((half[at] as number) >>> bits) & 255] as number)++] = at;
    }
    [order, spare] = [spare, order];
  }
  const values = list.slice();
  for (let i = 0; i < n; i++) list[i] = values[order[i] as number] as LabValue;
  return true;
}

/**
 * The last value before the baseline cut-off, within `lookbackDays` of it: before the first
 * lymphodepletion dose, or without one before day 0 (a value of day 0 is not baseline).
 */
export function baselineValue(
  values: readonly LabValue[] | undefined,
  timeline: Timeline,
  lookbackDays: number,
): LabValue | undefined {
  if (!values) return undefined;
  const earliest = addDays(timeline.baselineBeforeDate, -lookbackDays);
  // Without a recorded lymphodepletion, "before day 0" (clinical spec §1): a value of day 0 itself, drawn
  // before the infusion, may already follow a lymphodepletion that was given but not recorded.
  const beforeDate = timeline.lymphodepletionDate === null ? timeline.day0 : null;
  let found: LabValue | undefined;
  for (const v of values) {
    if (v.ms >= timeline.baselineBeforeMs) break;
    if (v.date >= earliest && (beforeDate === null || v.date < beforeDate)) found = v;
  }
  return found;
}

/**
 * Lab days of one analyte: the lowest value of each calendar day. With `transfusions` (the event
 * times of the matching product), a day is marked transfusion-supported when a transfusion came
 * before it within `transfusionFreeDays` (CIBMTR / T-ICAHT: 7 days).
 */
export function labDays(
  values: readonly LabValue[] | undefined,
  timeline: Timeline,
  transfusions?: readonly ClinicalEvent[],
  transfusionFreeDays = 7,
): LabDay[] {
  if (!values || values.length === 0) return [];
  // The lowest value of each date (of equal numbers, "<0.5" before 0.5, then the first given), in the
  // order the dates first appear; a day's values usually come one after another, so most values
  // need no lookup.
  const lowest = new Map<string, LabValue>();
  let current: LabValue | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as LabValue;
    const kept = current?.date === v.date ? current : lowest.get(v.date);
    if (kept && compareMeasured(kept, v) <= 0) {
      current = kept;
      continue;
    }
    lowest.set(v.date, v);
    current = v;
  }
  const txDays = (transfusions ?? []).map((tx) => ({ day: dayNumber(timeline, tx.date), ms: tx.ms }));
  const supportedOn = (day: number, ms: number): boolean => {
    for (const tx of txDays) {
      const gap = day - tx.day;
      if (gap >= 0 && gap <= transfusionFreeDays && (gap > 0 || tx.ms <= ms)) return true;
    }
    return false;
  };
  const days: LabDay[] = [];
  for (const v of lowest.values()) {
    const day = dayNumber(timeline, v.date);
    // Every field in the literal (undefined when absent: JSON leaves it out): a field added later
    // costs each day an extra properties array.
    days.push({
      day,
      date: v.date,
      ms: v.ms,
      value: v.value,
      comparator: v.comparator,
      reference: v.reference,
      lln: v.lln,
      transfusionSupported: txDays.length > 0 && supportedOn(day, v.ms) ? true : undefined,
    });
  }
  // Values come in time order, so their days nearly always do too.
  for (let i = 1; i < days.length; i++)
    if ((days[i] as LabDay).day < (days[i - 1] as LabDay).day) return days.sort((a, b) => a.day - b.day);
  return days;
}

/** Dates as a message lists them: all of up to five, else the first two, how many between, the last two. */
function listedDates(dates: readonly string[]): string {
  if (dates.length <= 5) return dates.join(', ');
  return `${dates.slice(0, 2).join(', ')}, ${dates.length - 4} more, ${dates.slice(-2).join(', ')}`;
}
