/**
 * Cut-off tests on results that may be reported as a bound: `valueQuantity.comparator` says the
 * true value lies below (`<`, `<=`) or above (`>`, `>=`) the number given (docs/clinical-logic.md
 * §3). A test the bound decides is answered exactly: "<0.5" is below 0.5, so it is severe
 * neutropenia (< 0.5) and not "ANC at or above 0.5"; ">0.1" is not "at or below 0.1". A test the
 * bound leaves open ("<0.5" against ≤ 0.1) is answered with the number as given, as for any value,
 * with one exception: an upper bound ("<1.0", "≤0.5") never shows that a value is above or at or
 * above a cut-off. "<1.0" is therefore neither below 0.5 (by its number) nor above it: not a
 * recovery day, and not "ANC at or above 0.5" on a G-CSF order (docs/clinical-logic.md §3).
 */
import type { LabDay, LabPoint, LabValue } from './types.js';

export type Comparator = LabValue['comparator'];

/** A number as reported, with its comparator when it is a bound. */
export interface Measured {
  value: number;
  comparator?: Comparator;
}

/** The true value is below `t` (`<`). */
export function below(m: Measured, t: number): boolean {
  return m.value < t || (m.value === t && m.comparator === '<');
}

/** The true value is at or below `t` (`≤`): not so for ">t". */
export function atOrBelow(m: Measured, t: number): boolean {
  return m.value < t || (m.value === t && m.comparator !== '>');
}

/** -1 for an upper bound ("<", "≤"), 1 for a lower one (">", "≥"), 0 for a number. */
function direction(c: Comparator): -1 | 0 | 1 {
  return c === '<' || c === '<=' ? -1 : c === '>' || c === '>=' ? 1 : 0;
}

/** An upper bound ("<1.0", "≤0.5"): the true value may be anything under it. */
const isUpperBound = (m: Measured): boolean => direction(m.comparator) < 0;

/** The true value is above `t` (`>`); never shown by an upper bound. */
export function above(m: Measured, t: number): boolean {
  return !isUpperBound(m) && !atOrBelow(m, t);
}

/** The true value is at or above `t` (`≥`); never shown by an upper bound. */
export function atOrAbove(m: Measured, t: number): boolean {
  return !isUpperBound(m) && !below(m, t);
}

/**
 * a ÷ b (a ≥ 0, b > 0) with the comparator that follows from theirs: "<4" ÷ 2 is "<2", 4 ÷ ">2" is
 * "<2", 4 ÷ "<2" is ">2"; strict when either bound is. Undefined when both bounds pull the same way
 * ("<4" ÷ "<2" may be any positive number): then no quotient is known. A derived CD4/CD8 ratio and
 * an immunoglobulin's change from baseline are such quotients (docs/clinical-logic.md §3).
 */
export function quotient(a: Measured, b: Measured): Measured | undefined {
  const da = direction(a.comparator);
  const db = direction(b.comparator);
  if (da !== 0 && da === db) return undefined;
  const value = a.value / b.value;
  // 0 ÷ anything is 0, and "≥0" ÷ anything is ≥ 0: the divisor cannot move it ("<0" no count can be).
  if (a.value === 0) return da > 0 ? { value, comparator: a.comparator } : { value };
  const d = da !== 0 ? da : -db;
  if (d === 0) return { value };
  const strict = a.comparator === '<' || a.comparator === '>' || b.comparator === '<' || b.comparator === '>';
  return { value, comparator: d < 0 ? (strict ? '<' : '<=') : strict ? '>' : '>=' };
}

/**
 * `x` (a value scaled to the places kept, e.g. ×100 for two decimals) rounded to a whole number so
 * that a bound stays true: up for an upper bound ("<0.124" shows as "<0.13", never "<0.12"), down
 * for a lower one, to the nearest for a number.
 */
export function roundScaled(x: number, c: Comparator): number {
  const d = direction(c);
  return d < 0 ? Math.ceil(x - 1e-9) : d > 0 ? Math.floor(x + 1e-9) : Math.round(x);
}

/** Orders comparators of equal numbers from the lowest true value: "<0.5", "≤0.5", "0.5", "≥0.5", ">0.5". */
const RANK = { '<': -2, '<=': -1, '>=': 1, '>': 2 } as const;

/** Negative when `a`'s true value is lower than `b`'s (by the number, then the comparator), 0 when alike. */
export function compareMeasured(a: Measured, b: Measured): number {
  return a.value - b.value || (a.comparator ? RANK[a.comparator] : 0) - (b.comparator ? RANK[b.comparator] : 0);
}

/** The comparator as people write it: "<", "≤", ">", "≥", or nothing. */
export function comparatorSymbol(c: Comparator): string {
  return c === '<=' ? '≤' : c === '>=' ? '≥' : (c ?? '');
}

/** A LabPoint's `comparator` field: set for a value reported as a bound, absent otherwise. */
export function boundOf(m: Measured): { comparator?: Comparator } {
  return m.comparator ? { comparator: m.comparator } : {};
}

/** A lab value as a point of the assessment on `day`, with its comparator when it was a bound. */
export function valuePoint(v: LabValue, day: number | null): LabPoint {
  return { value: v.value, ...boundOf(v), unit: v.unit, date: v.date, day, reference: v.reference };
}

/** A lab day as a point of the assessment, in `unit`, with its comparator when it was a bound. */
export function dayPoint(d: LabDay, unit: string): LabPoint {
  return { value: d.value, ...boundOf(d), unit, date: d.date, day: d.day, reference: d.reference };
}
