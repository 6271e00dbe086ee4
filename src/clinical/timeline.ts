/**
 * The time axis (docs/clinical-logic.md §2): day 0, lymphodepletion, baseline, and lab days.
 *
 * - Day 0 is the latest CAR-T infusion on or before the assessment date, unless the request names
 *   another; a MedicationAdministration and a Procedure on the same date are one infusion.
 * - Baseline values are the last ones before lymphodepletion, else before day 0, within the
 *   baseline look-back.
 * - A lab day holds the worst (lowest) value measured that calendar day.
 */
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
      message: `${dates.length} CAR-T infusions recorded (${dates.join(', ')}); day 0 is the latest`,
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
export function upToInTimeOrder(byAnalyte: Map<Analyte, LabValue[]>, asOf: string): Map<Analyte, LabValue[]> {
  for (const [analyte, list] of byAnalyte) {
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const v = list[i] as LabValue;
      if (v.date <= asOf) list[kept++] = v;
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

/** Runs shorter than this on average: the list is not runs, and is sorted the general way. */
const MIN_MEAN_RUN = 16;

/**
 * Sorts `list` by instant, stably. A list that is a few runs already in time order (several
 * searches, or draws through the day appended per round) is merged run by run, comparing instants
 * read once into a typed array: with 107 runs of 71 values (bench/engine.ts, 50,000 Observations),
 * the general sort's comparator calls cost more than the rest of the grouping.
 */
export function sortByTime(list: LabValue[]): void {
  const starts = [0];
  const maxRuns = list.length / MIN_MEAN_RUN;
  for (let i = 1; i < list.length; i++) {
    if ((list[i] as LabValue).ms < (list[i - 1] as LabValue).ms) {
      if (starts.length >= maxRuns) {
        list.sort(byMs);
        return;
      }
      starts.push(i);
    }
  }
  if (starts.length > 1) mergeRuns(list, starts);
}

/**
 * k-way merge of the runs beginning at `starts`, through a binary heap of run numbers ordered by
 * (instant of the run's next value, run number): equal instants come from the earlier run first,
 * which is where they stood in the input, so the merge is the stable sort.
 */
function mergeRuns(list: LabValue[], starts: readonly number[]): void {
  const n = list.length;
  const k = starts.length;
  const ms = new Float64Array(n);
  for (let i = 0; i < n; i++) ms[i] = (list[i] as LabValue).ms;
  const next = Int32Array.from(starts); // each run's next unmerged position
  const end = new Int32Array(k);
  for (let r = 0; r < k; r++) end[r] = r + 1 < k ? (starts[r + 1] as number) : n;
  const heap = new Int32Array(k);
  let size = 0;
  const before = (a: number, b: number): boolean => {
    const x = ms[next[a] as number] as number;
    const y = ms[next[b] as number] as number;
    return x < y || (x === y && a < b);
  };
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const c = l + 1 < size && before(heap[l + 1] as number, heap[l] as number) ? l + 1 : l;
      if (!before(heap[c] as number, heap[i] as number)) return;
      const t = heap[i] as number;
      heap[i] = heap[c] as number;
      heap[c] = t;
      i = c;
    }
  };
  for (let r = 0; r < k; r++) heap[size++] = r;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
  const merged: LabValue[] = [];
  while (size > 0) {
    const r = heap[0] as number;
    const at = next[r] as number;
    merged.push(list[at] as LabValue);
    next[r] = at + 1;
    if (at + 1 === end[r]) heap[0] = heap[--size] as number;
    siftDown(0);
  }
  for (let i = 0; i < n; i++) list[i] = merged[i] as LabValue;
}

/** The last value before the baseline cut-off, within `lookbackDays` of it. */
export function baselineValue(
  values: readonly LabValue[] | undefined,
  timeline: Timeline,
  lookbackDays: number,
): LabValue | undefined {
  if (!values) return undefined;
  const earliest = addDays(timeline.baselineBeforeDate, -lookbackDays);
  let found: LabValue | undefined;
  for (const v of values) {
    if (v.ms >= timeline.baselineBeforeMs) break;
    if (v.date >= earliest) found = v;
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
  // The lowest value of each date (the first of equal ones), in the order the dates first appear;
  // a day's values usually come one after another, so most values need no lookup.
  const lowest = new Map<string, LabValue>();
  let current: LabValue | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as LabValue;
    const kept = current?.date === v.date ? current : lowest.get(v.date);
    if (kept && kept.value <= v.value) {
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
