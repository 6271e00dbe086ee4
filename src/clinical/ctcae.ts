/**
 * CTCAE v5.0 grades of the blood counts (docs/clinical-logic.md §4).
 *
 * A value strictly below a grade's boundary has at least that grade; grade 1 starts below the
 * lower limit of normal (the lab's referenceRange.low when given, else the configured default).
 * Anemia has no grade 4 from a lab value (it is defined clinically), so hemoglobin stops at 3.
 */
import { below, compareMeasured, dayPoint, type Measured } from './bounds.js';
import type { Thresholds } from './thresholds.js';
import type { CtcaeResult, CtcaeTerm, Grade, LabDay, LabPoint } from './types.js';

export interface Boundaries {
  grade2: number;
  grade3: number;
  grade4?: number;
}

/** The CTCAE grade of a value given the term's boundaries and the lower limit of normal. */
export function ctcaeGrade(m: Measured, lln: number, b: Boundaries): Grade {
  if (b.grade4 !== undefined && below(m, b.grade4)) return 4;
  if (below(m, b.grade3)) return 3;
  if (below(m, b.grade2)) return 2;
  if (below(m, lln)) return 1;
  return 0;
}

/** The CTCAE boundaries of a term, from the count cut-offs (neutrophil grade 4 is severe neutropenia, < 0.5). */
export function boundaries(term: CtcaeTerm, t: Thresholds): Boundaries {
  switch (term) {
    case 'neutrophils': {
      const n = t.counts.neutrophils;
      return { grade2: n.ctcaeGrade2, grade3: n.ctcaeGrade3, grade4: n.severe };
    }
    case 'hemoglobin':
      return { grade2: t.counts.hemoglobin.ctcaeGrade2, grade3: t.counts.hemoglobin.ctcaeGrade3 };
    default: {
      const c = t.counts[term];
      return { grade2: c.ctcaeGrade2, grade3: c.ctcaeGrade3, grade4: c.ctcaeGrade4 };
    }
  }
}

/** Default lower limit of normal of a term (hemoglobin depends on sex). */
export function defaultLln(term: CtcaeTerm, t: Thresholds, sex: 'male' | 'female' | 'other' | 'unknown'): number {
  switch (term) {
    case 'neutrophils':
      return t.lln.anc;
    case 'platelets':
      return t.lln.platelets;
    case 'wbc':
      return t.lln.wbc;
    case 'lymphocytes':
      return t.lln.lymphocytes;
    case 'hemoglobin':
      // Unknown sex: the lower of the two defaults, so grade 1 anemia is not over-called.
      return sex === 'male' ? t.lln.hemoglobinMale : Math.min(t.lln.hemoglobinFemale, t.lln.hemoglobinMale);
  }
}

/**
 * Latest and worst grade over the lab days in [fromDay, toDay]. Each day is graded with its own
 * lab's lower limit of normal when the Observation carried one.
 */
export function gradeSeries(
  days: readonly LabDay[],
  term: CtcaeTerm,
  unit: string,
  fromDay: number,
  toDay: number,
  lln: number,
  t: Thresholds,
): CtcaeResult {
  const b = boundaries(term, t);
  let latest: LabDay | undefined;
  let latestGrade: Grade | null = null;
  let worstGrade: Grade | null = null;
  let worst: LabDay | undefined;
  for (let i = 0; i < days.length; i++) {
    const d = days[i] as LabDay;
    if (d.day < fromDay || d.day > toDay) continue;
    const g = ctcaeGrade(d, d.lln ?? lln, b);
    latest = d;
    latestGrade = g;
    if (worstGrade === null || g > worstGrade || (g === worstGrade && worst && compareMeasured(d, worst) < 0)) {
      worstGrade = g;
      worst = d;
    }
  }
  // Points only for the two days reported (this runs over every lab day of five counts).
  const point = (d: LabDay): LabPoint => dayPoint(d, unit);
  return {
    latest: latestGrade,
    worst: worstGrade,
    ...(latest ? { latestValue: point(latest) } : {}),
    ...(worst ? { worstValue: point(worst) } : {}),
  };
}
