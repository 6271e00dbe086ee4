/**
 * EHA/EBMT immune effector cell-associated hematotoxicity (Rejeski et al., Blood 2023;142:865),
 * its thrombocytopenia analogue (T-ICAHT, Blood 2025) and the neutrophil recovery phenotype.
 * Every cut-off and day count comes from Thresholds (docs/clinical-logic.md §6).
 *
 * Comparators: ICAHT counts ANC at or below (≤) its cut-offs; T-ICAHT counts platelets strictly
 * below (<) theirs. Counting stops at the censoring day (death, a later CAR-T, allogeneic HSCT).
 */
import { atOrBelow, below, compareMeasured, dayPoint, type Measured } from './bounds.js';
import { countDaysBelow, runsBelow } from './day-counting.js';
import type { Thresholds } from './thresholds.js';
import type { Censoring, Grade, IcahtResult, LabDay, NeutrophilPhenotype } from './types.js';

/** Early ICAHT grade from cumulative days with ANC ≤ 0.5 and ≤ 0.1 in days 0–30 (Table 1, without "no recovery"). */
export function earlyIcahtGrade(daysAnc500: number, daysAnc100: number, d: Thresholds['icaht']['durationDays']): Grade {
  const by500 = daysAnc500 === 0 ? 0 : daysAnc500 < d.short ? 1 : daysAnc500 < d.long ? 2 : 3;
  const by100 = daysAnc100 >= d.long ? 4 : daysAnc100 >= d.short ? 3 : 0;
  return Math.max(by500, by100) as Grade;
}

/** Late ICAHT grade of a confirmed ANC after day +30: ≤ 1.5 → 1, ≤ 1.0 → 2, ≤ 0.5 → 3, ≤ 0.1 → 4. */
export function lateIcahtGrade(anc: Measured, n: Thresholds['counts']['neutrophils']): Grade {
  if (atOrBelow(anc, n.profound)) return 4;
  if (atOrBelow(anc, n.severe)) return 3;
  if (atOrBelow(anc, n.ctcaeGrade3)) return 2;
  if (atOrBelow(anc, n.ctcaeGrade2)) return 1;
  return 0;
}

/** Early T-ICAHT grade from days with platelets < 50 and < 20 in days 0–30. */
export function earlyTIcahtGrade(
  daysBelow50: number,
  daysBelow20: number,
  d: Thresholds['icaht']['durationDays'],
): Grade {
  if (daysBelow20 >= d.long) return 4;
  if (daysBelow20 >= 1) return 3;
  if (daysBelow50 >= d.short) return 2;
  if (daysBelow50 >= 1) return 1;
  return 0;
}

/**
 * The measurements that confirm a late grade: the `n` lowest values of the window. A cut-off is met
 * by at least `n` measurements exactly when the n-th lowest value meets it (not necessarily
 * consecutive ones: counts that oscillate around a cut-off are graded by it).
 */
function confirming(days: readonly LabDay[], n: number): LabDay[] | null {
  if (days.length < n) return null;
  return [...days].sort((x, y) => compareMeasured(x, y) || x.day - y.day).slice(0, n);
}

export function assessIcaht(
  anc: readonly LabDay[],
  platelets: readonly LabDay[],
  asOfDay: number,
  unit: string,
  t: Thresholds,
  censoring: Censoring | null = null,
): IcahtResult {
  const ic = t.icaht;
  const n = t.counts.neutrophils;
  const opts = { maxGap: t.maxGapDays, stableDays: t.recovery.consecutiveDays };
  /** The last day counted: the assessment day, or the day censoring stops the count. */
  const lastCounted = censoring ? Math.min(asOfDay, censoring.lastCountedDay) : asOfDay;
  const to = Math.min(ic.earlyLastDay, lastCounted);
  const complete = asOfDay >= ic.earlyLastDay || (censoring !== null && censoring.lastCountedDay < ic.earlyLastDay);

  // Early ICAHT (days 0–30): cumulative days, non-stable recovery counted.
  const d500 = countDaysBelow(anc, 0, to, (d) => atOrBelow(d, n.severe), opts);
  const d100 = countDaysBelow(anc, 0, to, (d) => atOrBelow(d, n.profound), opts);
  const earlyMeasured = asOfDay >= 0 && d500.measured;
  const noRecovery = earlyMeasured ? noRecoveryFacts(anc, to, complete, t) : null;
  const byCount = (lower: boolean): Grade =>
    earlyIcahtGrade(lower ? d500.lower : d500.upper, lower ? d100.lower : d100.upper, ic.durationDays);
  const grade = earlyMeasured ? (noRecovery?.decided ? 4 : byCount(true)) : null;
  // Upper bound: what the days without ANC could make it (a dip whose end is unknown after day +30 included).
  const upper = earlyMeasured ? (complete && noRecovery?.possible ? 4 : byCount(false)) : null;

  // Late ICAHT (day +31 on): the highest grade whose cut-off at least N measurements meet.
  const lateTo = Math.min(ic.lateLastDay ?? Infinity, lastCounted);
  const late = anc.filter((d) => d.day > ic.earlyLastDay && d.day <= lateTo);
  const lateConfirming = confirming(late, ic.lateConfirmations);
  const lateWorst = lateConfirming?.at(-1);
  const lateGrade = lateWorst ? lateIcahtGrade(lateWorst, n) : null;

  return {
    early: {
      grade,
      atLeast: grade !== null && upper !== null && upper > grade,
      gradeUpperBound: upper,
      daysAnc500: d500.lower,
      daysAnc100: d100.lower,
      complete,
      dataGaps: d500.gaps,
      noRecovery: noRecovery && noRecovery.sinceDay !== null ? { sinceDay: noRecovery.sinceDay, throughDay: to } : null,
    },
    late: {
      grade: lateGrade,
      measurements: late.length,
      ...(lateConfirming && lateGrade !== null && lateGrade > 0
        ? { confirmedBy: lateConfirming.map((d) => dayPoint(d, unit)) }
        : {}),
      ...(late.length > 0 ? { nadir: dayPoint([...late].sort(compareMeasured)[0] as LabDay, unit) } : {}),
    },
    thrombocytopenia: tIcaht(platelets, asOfDay, to, lastCounted, complete, t),
    phenotype: recoveryPhenotype(anc, lastCounted, t),
    censoring,
  };
}

/**
 * Grade 4 "no recovery" (EHA/EBMT 2023 Table 1: ANC never above 0.5; read as Liang et al.'s
 * grader does, docs/clinical-logic.md §6): ANC ≤ 0.5 from day +3 at the latest and no stable
 * recovery through day +30 (or the censoring day). `possible` while the dip is still unbroken
 * before day +30, or when missing days leave it open; `decided` once the window is over; `sinceDay`
 * only when measured days show it.
 */
function noRecoveryFacts(
  anc: readonly LabDay[],
  to: number,
  complete: boolean,
  t: Thresholds,
): { sinceDay: number | null; decided: boolean; possible: boolean } {
  const severe = (d: LabDay): boolean => atOrBelow(d, t.counts.neutrophils.severe);
  const opts = { maxGap: t.maxGapDays, stableDays: t.recovery.consecutiveDays };
  const onsetBy = t.icaht.noRecoveryOnsetByDay;
  const unbroken = (unknownAs: 'above' | 'below'): number | null => {
    const first = runsBelow(anc, 0, to, severe, opts, unknownAs)[0];
    return first && first[0] <= onsetBy && first[1] === to ? first[0] : null;
  };
  const sure = unbroken('above');
  const open = unbroken('below');
  // The day it is said to run from must be measured: days without a count before the first low one
  // leave grade 4 possible (the "at least" grade says so), not a fact to state (clinical spec §1).
  return { sinceDay: sure, decided: complete && sure !== null, possible: open !== null };
}

/** Early and late T-ICAHT (T-ICAHT paper Table 1): platelets < 50 and < 20; late over days 31–100. */
function tIcaht(
  platelets: readonly LabDay[],
  asOfDay: number,
  to: number,
  lastCounted: number,
  complete: boolean,
  t: Thresholds,
): IcahtResult['thrombocytopenia'] {
  const ic = t.icaht;
  const p = t.counts.platelets;
  const opts = { maxGap: t.maxGapDays, stableDays: t.recovery.consecutiveDays };
  const p50 = countDaysBelow(platelets, 0, to, (d) => below(d, p.ctcaeGrade3), opts);
  const p20 = countDaysBelow(platelets, 0, to, (d) => below(d, p.severe), opts);
  const measured = asOfDay >= 0 && p50.measured;
  const grade = measured ? earlyTIcahtGrade(p50.lower, p20.lower, ic.durationDays) : null;
  const upper = measured ? earlyTIcahtGrade(p50.upper, p20.upper, ic.durationDays) : null;

  const lateTo = Math.min(ic.lateTIcahtLastDay, lastCounted);
  const late = platelets.filter((d) => d.day > ic.earlyLastDay && d.day <= lateTo);
  const worst = confirming(late, ic.lateConfirmations)?.at(-1);
  let lateGrade: Grade | null = null;
  if (worst) {
    lateGrade = below(worst, p.severe) ? 3 : below(worst, p.ctcaeGrade3) ? 2 : below(worst, p.lateTIcahtGrade1) ? 1 : 0;
    if (lateGrade === 3) {
      const days20 = countDaysBelow(platelets, ic.earlyLastDay + 1, lateTo, (d) => below(d, p.severe), opts);
      if (days20.lower >= ic.durationDays.long) lateGrade = 4;
    }
  }
  return {
    early: {
      grade,
      atLeast: grade !== null && upper !== null && upper > grade,
      daysBelow50: p50.lower,
      daysBelow20: p20.lower,
      complete,
    },
    late: { grade: lateGrade, measurements: late.length },
  };
}

/**
 * Neutrophil recovery phenotype (Rejeski et al., Blood 2021; docs/clinical-logic.md §6): aplastic
 * when ANC ≤ 0.5 persists ≥ 14 days; intermittent when, after a recovery, ANC dips to ≤ 0.5 again
 * after day +21; quick when it recovered without a second dip. A second dip only before day +21
 * fits none of the three: 'early-second-dip'. Null while the first dip is still under way;
 * 'not-measured' without an ANC since day 0.
 *
 * Days without a count are never taken as a recovery (clinical spec §1, "never invent values"): the
 * phenotype is read with them as above, and again as below wherever they border a count below
 * (unknownNearBelow), and when the two differ, it is 'unknown-gaps'. Four unmeasured days between
 * two dips were a "recovery", and the course an early second dip, although no ANC above 0.5 was
 * ever measured between them.
 */
export function recoveryPhenotype(anc: readonly LabDay[], lastDay: number, t: Thresholds): NeutrophilPhenotype | null {
  const post = anc.filter((d) => d.day >= 0 && d.day <= lastDay);
  if (post.length === 0) return 'not-measured';
  const lower = phenotypeWith(post, t, 'above');
  const upper = phenotypeWith(post, t, 'near-below');
  if (lower === upper) return lower;
  // Not yet known either way (the first dip may still be under way): said as such, not as a gap.
  return lower === null ? null : 'unknown-gaps';
}

/** The phenotype with the days without a count taken as `unknownAs` the threshold (runsBelow). */
function phenotypeWith(
  post: readonly LabDay[],
  t: Thresholds,
  unknownAs: 'above' | 'near-below',
): NeutrophilPhenotype | null {
  const lastMeasured = post.at(-1)?.day ?? 0;
  const runs = runsBelow(
    post,
    0,
    lastMeasured,
    (d) => atOrBelow(d, t.counts.neutrophils.severe),
    { maxGap: t.maxGapDays, stableDays: t.recovery.consecutiveDays },
    unknownAs,
  );
  if (runs.length === 0) return 'no-severe-neutropenia';
  if (runs.some(([a, b]) => b - a + 1 >= t.icaht.durationDays.long)) return 'aplastic';
  const first = runs[0];
  if (!first || first[1] === lastMeasured) return null; // still in the first dip, not yet 14 days
  const later = runs.slice(1);
  if (later.some(([start]) => start > t.icaht.biphasicAfterDay)) return 'intermittent';
  if (later.length > 0) return 'early-second-dip';
  // Quick only once the recovery is stable: as many measured days above as recovery needs.
  const above = post.filter((d) => d.day > first[1]).length;
  return above >= t.recovery.consecutiveDays ? 'quick' : null;
}
