/**
 * How numbers and days are written for people (cards, the SMART app, recommendation texts).
 */
import type { Thresholds } from './thresholds.js';
import type {
  Analyte,
  Assessment,
  BCellAplasiaResult,
  Cd4Cd8Result,
  CtcaeTerm,
  HematotoxResult,
  LabPoint,
  Lineage,
  Recommendation,
  RecommendationKind,
} from './types.js';
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

const LINEAGE_NAME: Record<Lineage, [string, string]> = {
  neutrophil: ['neutropenia', 'ANC'],
  platelet: ['thrombocytopenia', 'PLT'],
  hemoglobin: ['anemia', 'Hb'],
};

/** "neutropenia (ANC < 0.5)", with the severe threshold in force. */
export function severeName(lineage: Lineage, threshold: number): string {
  const [name, label] = LINEAGE_NAME[lineage];
  return `${name} (${label} < ${fmt(threshold)})`;
}

/** The threshold a recommendation applied, in words ("< 0.5 ×10⁹/L", "early ICAHT grade ≥ 3"). */
export function thresholdText(r: Pick<Recommendation, 'threshold'>, severe: Thresholds['severe']): string {
  const { comparator, value, unit } = r.threshold;
  const cmp = comparator === '>=' ? '≥' : comparator === '<=' ? '≤' : comparator;
  if (unit === 'day') {
    return (
      `severe cytopenia (ANC < ${fmt(severe.anc)}, platelets < ${fmt(severe.platelets)} or Hb < ${fmt(severe.hemoglobin)}) ` +
      `still present on day +${fmt(value)}`
    );
  }
  if (unit === 'grade') return `early ICAHT grade ${cmp} ${fmt(value)}`;
  if (unit === 'score') return `CAR-HEMATOTOX ${cmp} ${fmt(value)}`;
  return `${cmp} ${fmt(value)} ${displayUnit(unit)}`;
}

export const capitalize = (s: string): string => `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`;

/** How lab analytes and CTCAE terms are named on cards and in the app. */
export const ANALYTE_LABELS: Partial<Record<Analyte, string>> = {
  anc: 'ANC',
  platelets: 'Platelets',
  hemoglobin: 'Hemoglobin',
  wbc: 'WBC',
  lymphocytes: 'Lymphocytes',
  igg: 'IgG',
};
export const TERM_ANALYTE: Record<CtcaeTerm, Analyte> = {
  neutrophils: 'anc',
  platelets: 'platelets',
  hemoglobin: 'hemoglobin',
  wbc: 'wbc',
  lymphocytes: 'lymphocytes',
};
export const HEMATOTOX_LABELS = {
  platelets: 'Platelets',
  anc: 'ANC',
  hemoglobin: 'Hemoglobin',
  crp: 'CRP',
  ferritin: 'Ferritin',
} as const;

/** "4 (high)", "≥ 3 (high; crp missing)", "incomplete (crp, ferritin missing)". */
export function hematotoxScoreText(h: HematotoxResult): string {
  if (h.score !== null) return `${h.score} (${h.risk ?? ''})`;
  if (h.risk === 'high') return `≥ ${h.partialScore} (high; ${h.missing.join(', ')} missing)`;
  return `incomplete (${h.missing.join(', ')} missing)`;
}

/** Prolonged hematologic toxicity on the landmark day, or why it cannot be said yet. */
export function phtText(
  a: Pick<Assessment, 'prolongedHematologicToxicity' | 'dayPostInfusion'>,
  t: Thresholds,
): string {
  if (a.prolongedHematologicToxicity !== null) return a.prolongedHematologicToxicity ? 'yes' : 'no';
  return (a.dayPostInfusion ?? 0) < t.pht.day
    ? `not yet assessable (before day ${t.pht.day})`
    : `cannot be judged (no values within ${t.pht.windowDays} days of day ${t.pht.day})`;
}

/** B-cell aplasia, its onset, or the return of B cells (and what that means after tisagenlecleucel). */
export function bCellText(b: BCellAplasiaResult, t: Thresholds): string {
  if (b.present === null) return 'B cells not measured';
  if (b.lossDay !== null) {
    const months = Math.round(t.bCellAplasia.relapseWindowDays / 30.4);
    const unconfirmed = b.lossUnconfirmed ? ' (one sample, unconfirmed)' : '';
    const relapse = b.lossPredictsRelapse
      ? ` (loss of B-cell aplasia within ${months} months after tisagenlecleucel predicts relapse)`
      : '';
    return `B cells returned on ${dayLabel(b.lossDay)}${unconfirmed}${relapse}`;
  }
  return b.present ? `B-cell aplasia since ${dayLabel(b.onsetDay)}` : 'no B-cell aplasia';
}

/** CD4/CD8 ratio, its inversion, and low CD4 (antiviral prophylaxis). */
export function cd4cd8Text(cd: Cd4Cd8Result, t: Thresholds): string {
  if (cd.inverted === null) return 'CD4/CD8 not measured';
  const low = cd.cd4Low ? `; CD4 < ${fmt(t.cd4.low)} ×10⁹/L: antiviral prophylaxis stays indicated` : '';
  return `CD4/CD8 ${cd.latestRatio ?? '–'}${cd.inverted ? ` (inverted since ${dayLabel(cd.onsetDay)})` : ''}${low}`;
}
