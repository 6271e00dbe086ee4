/**
 * How numbers and days are written for people (cards, the SMART app, recommendation texts).
 */
import type { Thresholds } from './thresholds.js';
import type { LabPoint, Lineage, Recommendation, RecommendationKind } from './types.js';
import { displayUnit } from './units.js';

/** Lab precision without noise: 2 significant digits below 1, 3 up to 100, whole numbers above. */
export function fmt(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(Math.abs(value) < 1 ? 2 : 3)));
}

/** "day +9", "day -3"; empty for an unknown day. */
export function dayLabel(day: number | null): string {
  if (day === null) return '';
  return day >= 0 ? `day +${day}` : `day ${day}`;
}

/** "1 day", "3 days". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function valueWithUnit(p: Pick<LabPoint, 'value' | 'unit'>): string {
  const unit = displayUnit(p.unit);
  return unit ? `${fmt(p.value)} ${unit}` : fmt(p.value);
}

/** What each recommendation is called on cards and in the app. */
export const RECOMMENDATION_TITLES: Record<RecommendationKind, string> = {
  'g-csf': 'G-CSF for severe neutropenia',
  'g-csf-prophylaxis': 'Prophylactic G-CSF',
  'red-cell-transfusion': 'Red cell transfusion review',
  'platelet-transfusion': 'Platelet transfusion review',
  'ivig-review': 'IVIG review',
  'cytopenia-workup': 'Cytopenia work-up',
};

const LINEAGE_NAME: Record<Lineage, [string, string]> = { neutrophil: ['neutropenia', 'ANC'], platelet: ['thrombocytopenia', 'PLT'], hemoglobin: ['anemia', 'Hb'] };

/** "neutropenia (ANC < 0.5)", with the severe threshold in force. */
export function severeName(lineage: Lineage, threshold: number): string {
  const [name, label] = LINEAGE_NAME[lineage];
  return `${name} (${label} < ${fmt(threshold)})`;
}

/** The threshold a recommendation applied, in words ("< 0.5 ×10⁹/L", "early ICAHT grade ≥ 3"). */
export function thresholdText(r: Pick<Recommendation, 'threshold'>, severe: Thresholds['severe']): string {
  const { comparator, value, unit } = r.threshold;
  const cmp = comparator === '>=' ? '≥' : comparator === '<=' ? '≤' : comparator;
  if (unit === 'day') return `severe cytopenia (ANC < ${fmt(severe.anc)}, platelets < ${fmt(severe.platelets)} or Hb < ${fmt(severe.hemoglobin)}) still present on day +${fmt(value)}`;
  if (unit === 'grade') return `early ICAHT grade ${cmp} ${fmt(value)}`;
  if (unit === 'score') return `CAR-HEMATOTOX ${cmp} ${fmt(value)}`;
  return `${cmp} ${fmt(value)} ${displayUnit(unit)}`;
}
