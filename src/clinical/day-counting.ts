/**
 * Counting days below a threshold (docs/clinical-logic.md §2; EHA/EBMT 2023 Table 1).
 *
 * - A measured day is below or above the threshold by its lab-day value.
 * - An unmeasured day counts as below only when the measured values on both sides are below and
 *   at most `maxGap` days are missing between them; otherwise it is unknown.
 * - A run of fewer than `stableDays` days not below, between two days below, is a non-stable
 *   recovery and counts toward the total (EHA/EBMT: "days in a non-stable recovery count").
 * - Unknown days are resolved both ways: the lower bound counts them as above, the upper bound as
 *   below. When the two give different grades, the grade is reported as "at least".
 */
import type { DayGap, LabDay } from './types.js';

export type DayState = 'below' | 'above' | 'unknown';

/**
 * States of the calendar days `from`..`to`; `isBelow` judges a measured lab day (its value and comparator).
 * A transient rise after a transfusion is absorbed by the non-stable recovery rule (T-ICAHT counts
 * days below the threshold this way); the 7 transfusion-free days apply to declaring recovery.
 */
export function classifyDays(
  days: readonly LabDay[],
  from: number,
  to: number,
  isBelow: (day: LabDay) => boolean,
  maxGap: number,
): DayState[] {
  if (to < from) return [];
  if (!oneADayInOrder(days)) return classifyAnyOrder(days, from, to, isBelow, maxGap);
  // Lab days (one a day, in day order): walk the window with the measured days on either side.
  const states: DayState[] = [];
  let k = firstAtOrAfter(days, from);
  for (let day = from; day <= to; day++) {
    const here = days[k];
    if (here !== undefined && here.day === day) {
      states.push(isBelow(here) ? 'below' : 'above');
      k++;
      continue;
    }
    const prev = days[k - 1];
    const next = here;
    const gapIsShort = prev !== undefined && next !== undefined && next.day - prev.day - 1 <= maxGap;
    states.push(gapIsShort && isBelow(prev) && isBelow(next) ? 'below' : 'unknown');
  }
  return states;
}

function oneADayInOrder(days: readonly LabDay[]): boolean {
  for (let i = 1; i < days.length; i++) if ((days[i] as LabDay).day <= (days[i - 1] as LabDay).day) return false;
  return true;
}

/** Index of the first of `days` (in day order) on or after `day`. */
function firstAtOrAfter(days: readonly LabDay[], day: number): number {
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((days[mid] as LabDay).day < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** classifyDays for days in any order, a day measured twice judged by its last entry. */
export function classifyAnyOrder(
  days: readonly LabDay[],
  from: number,
  to: number,
  isBelow: (day: LabDay) => boolean,
  maxGap: number,
): DayState[] {
  const states: DayState[] = [];
  if (to < from) return states;
  const measured = new Map<number, boolean>();
  for (const d of days) measured.set(d.day, isBelow(d));
  const measuredDays = [...measured.keys()].sort((a, b) => a - b);
  let j = 0; // index of the first measured day >= current day
  for (let day = from; day <= to; day++) {
    while (j < measuredDays.length && (measuredDays[j] ?? Infinity) < day) j++;
    const here = measured.get(day);
    if (here !== undefined) {
      states.push(here ? 'below' : 'above');
      continue;
    }
    const prevDay = measuredDays[j - 1];
    const nextDay = measuredDays[j];
    const gapIsShort = prevDay !== undefined && nextDay !== undefined && nextDay - prevDay - 1 <= maxGap;
    states.push(gapIsShort && measured.get(prevDay) && measured.get(nextDay) ? 'below' : 'unknown');
  }
  return states;
}

/** Below flags after resolving unknown days as `unknownAs` and bridging non-stable recoveries. */
export function belowWithBridging(
  states: readonly DayState[],
  stableDays: number,
  unknownAs: 'below' | 'above',
): boolean[] {
  const below = states.map((s) => s === 'below' || (s === 'unknown' && unknownAs === 'below'));
  let i = 0;
  while (i < below.length) {
    if (below[i]) {
      i++;
      continue;
    }
    let end = i;
    while (end < below.length && !below[end]) end++;
    const boundedBothSides = i > 0 && end < below.length;
    if (boundedBothSides && end - i < stableDays) for (let k = i; k < end; k++) below[k] = true;
    i = end;
  }
  return below;
}

export interface DayCount {
  lower: number;
  upper: number;
  /** Longest run of days below (lower bound). */
  longestRun: number;
  gaps: DayGap[];
  measured: boolean;
}

/** Counts days below over `from`..`to`, both bounds, with the gaps that make them differ. */
export function countDaysBelow(
  days: readonly LabDay[],
  from: number,
  to: number,
  isBelow: (day: LabDay) => boolean,
  opts: { maxGap: number; stableDays: number },
): DayCount {
  const states = classifyDays(days, from, to, isBelow, opts.maxGap);
  const lower = belowWithBridging(states, opts.stableDays, 'above');
  const upper = belowWithBridging(states, opts.stableDays, 'below');
  let longestRun = 0;
  let run = 0;
  for (const b of lower) {
    run = b ? run + 1 : 0;
    longestRun = Math.max(longestRun, run);
  }
  const gaps: DayGap[] = [];
  states.forEach((s, k) => {
    if (s !== 'unknown') return;
    const day = from + k;
    const last = gaps.at(-1);
    if (last && last.toDay === day - 1) last.toDay = day;
    else gaps.push({ fromDay: day, toDay: day });
  });
  return {
    lower: lower.filter(Boolean).length,
    upper: upper.filter(Boolean).length,
    longestRun,
    gaps,
    measured: days.some((d) => d.day >= from && d.day <= to),
  };
}

/**
 * Unknown days resolved by their neighbours: a stretch of days without a count that borders a day
 * below (on either side) may have been below, and is taken so; one between days above (or the
 * window's edge) is taken as above. The upper reading of a course that is not counted day by day:
 * taking every unknown day as below would join weekly counts above the threshold into one long dip.
 */
export function unknownNearBelow(states: readonly DayState[]): DayState[] {
  const out = states.slice();
  let i = 0;
  while (i < out.length) {
    if (out[i] !== 'unknown') {
      i++;
      continue;
    }
    let end = i;
    while (end < out.length && out[end] === 'unknown') end++;
    const near = out[i - 1] === 'below' || out[end] === 'below';
    for (let k = i; k < end; k++) out[k] = near ? 'below' : 'above';
    i = end;
  }
  return out;
}

/**
 * Runs of days below (bridged) as [firstDay, lastDay] pairs, the unknown days taken as above (the
 * lower bound, by default), as below, or as below where they border a day below ('near-below').
 */
export function runsBelow(
  days: readonly LabDay[],
  from: number,
  to: number,
  isBelow: (day: LabDay) => boolean,
  opts: { maxGap: number; stableDays: number },
  unknownAs: 'below' | 'above' | 'near-below' = 'above',
): [number, number][] {
  const states = classifyDays(days, from, to, isBelow, opts.maxGap);
  const below =
    unknownAs === 'near-below'
      ? belowWithBridging(unknownNearBelow(states), opts.stableDays, 'above')
      : belowWithBridging(states, opts.stableDays, unknownAs);
  const runs: [number, number][] = [];
  below.forEach((b, k) => {
    if (!b) return;
    const day = from + k;
    const last = runs.at(-1);
    if (last && last[1] === day - 1) last[1] = day;
    else runs.push([day, day]);
  });
  return runs;
}
