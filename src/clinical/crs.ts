/**
 * CRS-associated evidence (docs/clinical-logic.md §9). These are associations reported by the seeds,
 * shown as evidence with their source, never combined into a score.
 */
import { compareMeasured, valuePoint } from './bounds.js';
import { valueWithUnit } from './format.js';
import { SOURCES } from './thresholds.js';
import type { ClinicalEvent, CrsEvidence, LabPoint, LabValue } from './types.js';

/** The markers whose peak matters (CRS and inflammation): charts show each day's highest value. */
export const PEAK_MARKERS = ['ferritin', 'crp', 'il6', 'il10', 'ifnGamma', 'dDimer', 'ldh', 'temperature'] as const;

type PeakAnalyte = keyof CrsEvidence['peaks'];

export function crsEvidence(
  events: readonly ClinicalEvent[],
  labs: Partial<Record<PeakAnalyte | 'fibrinogen' | 'crsGrade', readonly LabValue[]>>,
  dayOf: (date: string) => number,
  asOfDay: number,
  earlyWindow = 30,
): CrsEvidence {
  const post = (e: ClinicalEvent): boolean => e.day !== null && e.day >= 0 && e.day <= asOfDay;
  const given = (kind: 'tocilizumab' | 'corticosteroid'): CrsEvidence['tocilizumab'] => {
    const list = events.filter((e) => e.kind === kind && post(e));
    return { given: list.length > 0, firstDay: list[0]?.day ?? null, doses: list.length };
  };
  const inWindow = (v: LabValue): boolean => {
    const d = dayOf(v.date);
    return d >= 0 && d <= Math.min(earlyWindow, asOfDay);
  };
  const toPoint = (v: LabValue): LabPoint => valuePoint(v, dayOf(v.date));

  const peaks: CrsEvidence['peaks'] = {};
  for (const analyte of PEAK_MARKERS) {
    const best = (labs[analyte] ?? [])
      .filter(inWindow)
      .reduce<LabValue | undefined>((m, v) => (!m || compareMeasured(v, m) > 0 ? v : m), undefined);
    if (best) peaks[analyte] = toPoint(best);
  }
  const fib = (labs.fibrinogen ?? [])
    .filter(inWindow)
    .reduce<LabValue | undefined>((m, v) => (!m || compareMeasured(v, m) < 0 ? v : m), undefined);

  // CRS grade: from coded conditions, else from grade observations.
  const conditions = events.filter((e) => e.kind === 'crs' && e.day !== null && e.day >= -1 && e.day <= asOfDay);
  const grades = (labs.crsGrade ?? []).filter(inWindow);
  let crs: CrsEvidence['crs'] = { grade: null, onsetDay: null, durationDays: null, source: null };
  if (conditions.length > 0) {
    const graded = conditions.filter((c) => c.crsGrade !== undefined);
    const first = conditions[0] as ClinicalEvent;
    const end = conditions
      .map((c) => c.endDate)
      .filter((d): d is string => Boolean(d))
      .sort()
      .at(-1);
    crs = {
      grade: graded.length > 0 ? Math.max(...graded.map((c) => c.crsGrade ?? 0)) : null,
      onsetDay: first.day,
      durationDays: end ? dayOf(end) - (first.day ?? 0) : null,
      source: 'condition',
    };
  } else if (grades.length > 0) {
    const positive = grades.filter((g) => g.value > 0);
    crs = {
      grade: Math.max(...grades.map((g) => g.value)),
      onsetDay: positive[0] ? dayOf(positive[0].date) : null,
      durationDays:
        positive.length > 0 ? dayOf((positive.at(-1) as LabValue).date) - dayOf((positive[0] as LabValue).date) + 1 : 0,
      source: 'observation',
    };
  }

  const tocilizumab = given('tocilizumab');
  const corticosteroids = given('corticosteroid');
  const associations = crsAssociations(tocilizumab, corticosteroids, crs, peaks, fib);
  return {
    crs,
    tocilizumab,
    corticosteroids,
    peaks,
    ...(fib ? { fibrinogenNadir: toPoint(fib) } : {}),
    associations,
  };
}

/** The seeds' associations with the CRS course, its treatment and the inflammatory peaks. */
function crsAssociations(
  tocilizumab: CrsEvidence['tocilizumab'],
  corticosteroids: CrsEvidence['corticosteroids'],
  crs: CrsEvidence['crs'],
  peaks: CrsEvidence['peaks'],
  fib: LabValue | undefined,
): CrsEvidence['associations'] {
  const associations: CrsEvidence['associations'] = [];
  if (tocilizumab.given || corticosteroids.given) {
    associations.push({
      finding: `${[tocilizumab.given ? 'tocilizumab' : '', corticosteroids.given ? 'corticosteroids' : ''].filter(Boolean).join(' and ')} after infusion`,
      association:
        'associated with grade ≥3 thrombocytopenia within 28 days (univariate; not independent on multivariate analysis)',
      source: SOURCES.seed000,
    });
    associations.push({
      finding: 'tocilizumab or corticosteroid use',
      association: 'independent risk factor for delayed recovery from severe neutropenia (HR 0.36)',
      source: SOURCES.seed002,
    });
  }
  if (crs.grade !== null && crs.grade >= 1) {
    associations.push({
      finding: `CRS grade ${crs.grade}`,
      association:
        'higher CRS grade, later CRS onset and longer CRS are independent risk factors for prolonged hematologic toxicity ' +
        '(OR 5.3 per grade)',
      source: SOURCES.seed002,
    });
  }
  if (peaks.dDimer) {
    associations.push({
      finding: `peak D-dimer ${valueWithUnit(peaks.dDimer)}`,
      association: 'higher peak D-dimer is an independent risk factor for delayed neutrophil recovery',
      source: SOURCES.seed002,
    });
  }
  if (peaks.ferritin) {
    associations.push({
      finding: `peak ferritin ${valueWithUnit(peaks.ferritin)}`,
      association: 'higher peak ferritin is an independent risk factor for delayed platelet recovery',
      source: SOURCES.seed002,
    });
  }
  if (peaks.il10) {
    associations.push({
      finding: `peak IL-10 ${valueWithUnit(peaks.il10)}`,
      association: 'higher peak IL-10 is an independent risk factor for delayed red cell recovery',
      source: SOURCES.seed002,
    });
  }
  if (peaks.il6 || peaks.ifnGamma || fib) {
    associations.push({
      finding: 'peak IL-6, IFN-γ and D-dimer, and low fibrinogen',
      association: 'correlate with severe CRS in r/r B-ALL',
      source: SOURCES.seed001,
    });
  }
  return associations;
}
