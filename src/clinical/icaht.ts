/**
 * EHA/EBMT immune effector cell-associated hematotoxicity (Rejeski et al., Blood 2023;142:865),
 * its thrombocytopenia analogue (T-ICAHT, Blood 2025) and the neutrophil recovery phenotype.
 * Thresholds and day counts come from Thresholds (docs/clinical-logic.md §6).
 */
import { countDaysBelow, runsBelow } from './day-counting.js';
import type { Thresholds } from './thresholds.js';
import type { Grade, IcahtResult, LabDay, LabPoint } from './types.js';

const clampGrade = (g: number): Grade => Math.max(0, Math.min(4, g)) as Grade;

/** Early ICAHT grade from cumulative days with ANC ≤ 0.5 and ≤ 0.1 in days 0–30 (Table 1). */
export function earlyIcahtGrade(daysAnc500: number, daysAnc100: number, lastDay: number): Grade {
  const by500 = daysAnc500 === 0 ? 0 : daysAnc500 <= 6 ? 1 : daysAnc500 <= 13 ? 2 : daysAnc500 <= lastDay ? 3 : 4;
  const by100 = daysAnc100 >= 14 ? 4 : daysAnc100 >= 7 ? 3 : 0;
  return clampGrade(Math.max(by500, by100));
}

/** Late ICAHT grade of a (non-transient) ANC value after day +30. */
export function lateIcahtGrade(anc: number, t: Thresholds['icaht']['late']): Grade {
  if (anc <= t.grade4) return 4;
  if (anc <= t.grade3) return 3;
  if (anc <= t.grade2) return 2;
  if (anc <= t.grade1) return 1;
  return 0;
}

/** Early T-ICAHT grade from days with platelets < 50 and < 20 in days 0–30. */
export function earlyTIcahtGrade(daysBelow50: number, daysBelow20: number): Grade {
  if (daysBelow20 >= 14) return 4;
  if (daysBelow20 >= 1) return 3;
  if (daysBelow50 >= 7) return 2;
  if (daysBelow50 >= 1) return 1;
  return 0;
}

/**
 * Windows of `size` consecutive measured lab days; a window's value is its highest, so a grade
 * given to it holds for every measurement in it (non-transient: confirmed by ≥ 2 values).
 */
function confirmedValues(days: readonly LabDay[], size: number): { value: number; days: LabDay[] }[] {
  const out: { value: number; days: LabDay[] }[] = [];
  for (let i = 0; i + size <= days.length; i++) {
    const window = days.slice(i, i + size);
    out.push({ value: Math.max(...window.map((d) => d.value)), days: window });
  }
  return out;
}

export function assessIcaht(
  anc: readonly LabDay[],
  platelets: readonly LabDay[],
  asOfDay: number,
  unit: string,
  t: Thresholds,
): IcahtResult {
  const e = t.icaht.early;
  const opts = { maxGap: t.maxGapDays, stableDays: e.stableRecoveryDays };
  const to = Math.min(e.lastDay, asOfDay);

  // Early ICAHT (days 0–30): cumulative days, non-stable recovery counted.
  const d500 = countDaysBelow(anc, 0, to, (v) => v <= e.anc500, opts);
  const d100 = countDaysBelow(anc, 0, to, (v) => v <= e.anc100, opts);
  const earlyMeasured = asOfDay >= 0 && d500.measured;
  const grade = earlyMeasured ? earlyIcahtGrade(d500.lower, d100.lower, e.lastDay) : null;
  const upper = earlyMeasured ? earlyIcahtGrade(d500.upper, d100.upper, e.lastDay) : null;

  // Late ICAHT (after day +30): the lowest non-transient value.
  const late = anc.filter((d) => d.day >= t.icaht.late.firstDay && d.day <= asOfDay);
  let lateGrade: Grade | null = null;
  let lateNadir: LabPoint | undefined;
  for (const w of confirmedValues(late, t.icaht.late.confirmations)) {
    const g = lateIcahtGrade(w.value, t.icaht.late);
    if (lateGrade === null || g > lateGrade) {
      lateGrade = g;
      const worst = w.days.find((d) => d.value === w.value) ?? w.days[0];
      if (worst) lateNadir = { value: worst.value, unit, date: worst.date, day: worst.day, reference: worst.reference };
    }
  }

  // T-ICAHT early and late.
  const th = t.icaht.thrombocytopenia;
  const p50 = countDaysBelow(platelets, 0, to, (v) => v < th.early50, opts);
  const p20 = countDaysBelow(platelets, 0, to, (v) => v < th.early20, opts);
  const tMeasured = asOfDay >= 0 && p50.measured;
  const tGrade = tMeasured ? earlyTIcahtGrade(p50.lower, p20.lower) : null;
  const tUpper = tMeasured ? earlyTIcahtGrade(p50.upper, p20.upper) : null;

  const lateTo = Math.min(th.lateLastDay, asOfDay);
  const latePlt = platelets.filter((d) => d.day >= t.icaht.late.firstDay && d.day <= lateTo);
  let lateT: Grade | null = null;
  if (latePlt.length >= t.icaht.late.confirmations) {
    lateT = 0;
    for (const w of confirmedValues(latePlt, t.icaht.late.confirmations)) {
      if (w.value < th.late20) lateT = Math.max(lateT, 3) as Grade;
      else if (w.value < th.late50) lateT = Math.max(lateT, 2) as Grade;
      else if (w.value < th.late100) lateT = Math.max(lateT, 1) as Grade;
    }
    if (lateT === 3) {
      const days20 = countDaysBelow(platelets, t.icaht.late.firstDay, lateTo, (v) => v < th.late20, opts);
      if (days20.lower >= 14) lateT = 4;
    }
  }

  return {
    early: {
      grade,
      atLeast: grade !== null && upper !== null && upper > grade,
      gradeUpperBound: upper,
      daysAnc500: d500.lower,
      daysAnc100: d100.lower,
      complete: asOfDay >= e.lastDay,
      dataGaps: d500.gaps,
    },
    late: { grade: lateGrade, ...(lateNadir ? { nadir: lateNadir } : {}) },
    thrombocytopenia: {
      early: {
        grade: tGrade,
        atLeast: tGrade !== null && tUpper !== null && tUpper > tGrade,
        daysBelow50: p50.lower,
        daysBelow20: p20.lower,
        complete: asOfDay >= e.lastDay,
      },
      late: { grade: lateT },
    },
    phenotype: recoveryPhenotype(anc, asOfDay, t),
  };
}

/**
 * Neutrophil recovery phenotype (Rejeski et al., Blood 2021; docs/clinical-logic.md §6): aplastic
 * when ANC ≤ 0.5 persists ≥ 14 days; intermittent when, after a recovery, ANC dips to ≤ 0.5 again
 * after day +21; quick when it recovered without such a dip. Null while the first dip is still under way.
 */
export function recoveryPhenotype(anc: readonly LabDay[], asOfDay: number, t: Thresholds): IcahtResult['phenotype'] {
  const post = anc.filter((d) => d.day >= 0 && d.day <= asOfDay);
  if (post.length === 0) return null;
  const lastMeasured = post.at(-1)?.day ?? 0;
  const runs = runsBelow(post, 0, lastMeasured, (v) => v <= t.icaht.early.anc500, {
    maxGap: t.maxGapDays,
    stableDays: t.icaht.early.stableRecoveryDays,
  });
  if (runs.length === 0) return 'no-severe-neutropenia';
  if (runs.some(([a, b]) => b - a + 1 >= t.icaht.aplasticDays)) return 'aplastic';
  const first = runs[0];
  if (!first || first[1] === lastMeasured) return null; // still in the first dip, not yet 14 days
  if (runs.slice(1).some(([start]) => start > t.icaht.biphasicAfterDay)) return 'intermittent';
  return 'quick';
}
