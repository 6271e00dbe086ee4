/**
 * The value axis of a count lane, chosen so that the clinically relevant range is readable:
 * - ANC, WBC and lymphocytes on a log axis: the ICAHT and severe-neutropenia lines (0.1 and
 *   0.5 ×10⁹/L) are 0.7 decades apart whatever the pre-infusion count was. Values below the floor
 *   (0.05) are drawn on the floor and marked with their value.
 * - Platelets and hemoglobin on a linear axis from 0 up to the highest value since day 0 (at least
 *   the lower limit of normal and the thresholds with some room). Higher values before day 0
 *   (pre-infusion outliers) are drawn at the top and marked with their value instead of squeezing
 *   the range that matters.
 * Pure: no DOM, no uPlot.
 */
import type { Analyte, LabDay } from '../clinical/types.js';

export interface CountAxis {
  distr: 'log' | 'linear';
  min: number;
  max: number;
  /** Tick values. */
  splits: number[];
  /** Where a value is drawn, and whether it was moved to an edge. */
  place(value: number): { drawn: number; clipped: 'above' | 'below' | null };
  /** What the caption says about the axis ("log scale", clipped values). */
  note: string | null;
}

const LOG_ANALYTES: readonly Analyte[] = ['anc', 'wbc', 'lymphocytes'];
const LOG_FLOOR = 0.05;
const LOG_STEPS = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500];
const LINEAR_STEPS = [1, 2, 2.5, 5, 10, 20, 25, 50, 100];

/** A linear tick step giving about `count` ticks over [0, max]. */
function linearStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return (LINEAR_STEPS.map((s) => (s * power) / 10).find((s) => s >= raw) ?? raw) || 1;
}

export function countAxis(
  analyte: Analyte,
  days: readonly LabDay[],
  lines: readonly number[],
  lowerLimit: number | undefined,
): CountAxis {
  const values = days.map((d) => d.value);
  if (LOG_ANALYTES.includes(analyte)) {
    const top = Math.max(
      ...values,
      ...(lowerLimit !== undefined ? [lowerLimit * 1.3] : []),
      ...lines.map((l) => l * 3),
    );
    const max = LOG_STEPS.find((s) => s >= top) ?? top;
    const below = values.some((v) => v < LOG_FLOOR);
    return {
      distr: 'log',
      min: LOG_FLOOR,
      max,
      splits: LOG_STEPS.filter((s) => s >= LOG_FLOOR && s <= max),
      place: (v) => (v < LOG_FLOOR ? { drawn: LOG_FLOOR, clipped: 'below' } : { drawn: v, clipped: null }),
      note: below ? `log scale; values below ${LOG_FLOOR} drawn on the bottom line (▼)` : 'log scale',
    };
  }
  const sinceInfusion = days.filter((d) => d.day >= 0).map((d) => d.value);
  const top = Math.max(
    ...(sinceInfusion.length > 0 ? sinceInfusion : values),
    ...(lowerLimit !== undefined ? [lowerLimit * 1.15] : []),
    ...lines.map((l) => l * 1.5),
    1,
  );
  const step = linearStep(top, 4);
  const max = Math.ceil((top * 1.02) / step) * step;
  const clipped = values.some((v) => v > max);
  return {
    distr: 'linear',
    min: 0,
    max,
    splits: Array.from({ length: Math.round(max / step) + 1 }, (_, i) => Number((i * step).toPrecision(6))),
    place: (v) => (v > max ? { drawn: max, clipped: 'above' } : { drawn: v, clipped: null }),
    note: clipped ? `values before day 0 above ${max} drawn on the top line (▲)` : null,
  };
}

export interface Label {
  text: string;
  /** Wanted vertical centre, in pixels. */
  y: number;
  /** Lower draws first and wins a collision. */
  priority: number;
  /** Where else the label may go (a grade band's extent), nearest to `y` first; default: only `y`. */
  within?: [number, number];
}

/**
 * Keeps the labels that do not collide: by priority, each label goes to the position nearest its
 * wanted y (within its range) that is at least `height` pixels from every label already placed and
 * inside [top, bottom]; a label with no such position is left out.
 */
export function placeLabels(labels: readonly Label[], height: number, top: number, bottom: number): Label[] {
  const placed: Label[] = [];
  const free = (y: number): boolean =>
    y - height / 2 >= top && y + height / 2 <= bottom && placed.every((p) => Math.abs(p.y - y) >= height);
  for (const label of [...labels].sort((a, b) => a.priority - b.priority)) {
    const [lo, hi] = label.within ?? [label.y, label.y];
    const tries = [label.y];
    for (let d = 1; label.y - d >= lo || label.y + d <= hi; d++) {
      if (label.y + d <= hi) tries.push(label.y + d);
      if (label.y - d >= lo) tries.push(label.y - d);
    }
    const y = tries.find(free);
    if (y !== undefined) placed.push({ ...label, y });
  }
  return placed;
}
