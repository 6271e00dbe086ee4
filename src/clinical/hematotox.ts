/**
 * CAR-HEMATOTOX (Rejeski et al., Blood 2021;138:2499; docs/clinical-logic.md §7), from baseline
 * values before lymphodepletion:
 *   platelets > 175 → 0, 75–175 → 1, < 75 ×10^9/L → 2; ANC < 1.2 ×10^9/L → 1; Hb < 90 g/L → 1;
 *   CRP > 3.0 mg/dL → 1; ferritin 650–2000 → 1, > 2000 ng/mL → 2. 0–1 low, ≥ 2 high risk.
 * Boundaries belong to the middle band (175 and 75 score 1; 650 and 2000 score 1); ANC 1.2,
 * Hb 90 and CRP 3.0 score 0. Derived in large B-cell lymphoma: in B-ALL about 90% score high.
 */
import { atOrBelow, below, boundOf, type Measured } from './bounds.js';
import { SOURCES, type Thresholds } from './thresholds.js';
import type { HematotoxComponent, HematotoxResult, LabValue } from './types.js';

export const BALL_CAVEAT =
  'CAR-HEMATOTOX was derived and validated in large B-cell lymphoma. In B-ALL about 90% of patients score high ' +
  '(Nair et al., ALL-Hematotox, which replaces ferritin with marrow disease burden), so a high score discriminates little here.';

type Component = HematotoxResult['missing'][number];

/**
 * The points of one baseline value. A value reported as a bound scores where the bound decides,
 * else by its number (§3): each band is tested from the side of its own comparator.
 */
export function hematotoxPoints(component: Component, m: Measured, t: Thresholds['hematotox']): number {
  switch (component) {
    case 'platelets':
      return below(m, t.plateletsLow) ? 2 : atOrBelow(m, t.plateletsHigh) ? 1 : 0;
    case 'anc':
      return below(m, t.anc) ? 1 : 0;
    case 'hemoglobin':
      return below(m, t.hemoglobin) ? 1 : 0;
    case 'crp':
      return atOrBelow(m, t.crp) ? 0 : 1;
    case 'ferritin':
      return !atOrBelow(m, t.ferritinHigh) ? 2 : !below(m, t.ferritinLow) ? 1 : 0;
  }
}

export function carHematotox(
  baseline: Partial<Record<Component, LabValue>>,
  baselineBefore: string | null,
  t: Thresholds['hematotox'],
): HematotoxResult {
  const components: HematotoxResult['components'] = {};
  const missing: Component[] = [];
  let partial = 0;
  for (const c of ['platelets', 'anc', 'hemoglobin', 'crp', 'ferritin'] as const) {
    const v = baseline[c];
    if (!v) {
      missing.push(c);
      continue;
    }
    const points = hematotoxPoints(c, v, t);
    partial += points;
    components[c] = {
      value: v.value,
      ...boundOf(v),
      unit: v.unit,
      points,
      date: v.date,
      reference: v.reference,
    } satisfies HematotoxComponent;
  }
  const complete = missing.length === 0;
  // Missing components can only add points: a partial score already at the cut-off is high.
  const risk = complete ? (partial >= t.highRiskScore ? 'high' : 'low') : partial >= t.highRiskScore ? 'high' : null;
  return {
    score: complete ? partial : null,
    partialScore: partial,
    risk,
    components,
    missing,
    baselineBefore,
    caveat: BALL_CAVEAT,
    source: SOURCES.hematotox,
  };
}
