/**
 * What the cards advise (clinical-spec section 8), each with the threshold in force, its source,
 * the values it rests on and how old they are. Every threshold comes from HospitalThresholds.
 */
import type { HospitalThresholds } from './thresholds.js';
import { ivigThreshold, SOURCES, sourceFor } from './thresholds.js';
import type { Analyte, ClinicalEvent, HematotoxResult, LabPoint, Recommendation } from './types.js';
import { displayUnit } from './units.js';
import { dayLabel, fmt } from './format.js';

export interface RecommendationInput {
  asOfDay: number;
  /** Latest post-infusion value of each analyte, with its day. */
  latest: Partial<Record<Analyte, LabPoint>>;
  events: readonly ClinicalEvent[];
  hematotox: HematotoxResult;
  pht: boolean | null;
  earlyIcahtGrade: number | null;
  earlyIcahtAtLeast: boolean;
  ageYears: number | null;
  /** Observations behind prolonged or severe cytopenia, cited by the work-up recommendation. */
  workupEvidence: string[];
}

const valueText = (label: string, p: LabPoint): string => `${label} ${fmt(p.value)} ${displayUnit(p.unit)} on ${dayLabel(p.day)} (${p.date})`;

export function recommend(input: RecommendationInput, thresholds: HospitalThresholds): Recommendation[] {
  const t = thresholds.values;
  const a = t.actions;
  const out: Recommendation[] = [];
  if (input.asOfDay < 0 || input.asOfDay > a.followUpDays) return out;
  const ageOf = (p: LabPoint): number => input.asOfDay - (p.day ?? input.asOfDay);
  const isStale = (p: LabPoint): boolean => ageOf(p) > a.maxLabAgeDays;
  const threshold = (value: number, unit: string, comparator: Recommendation['threshold']['comparator'], path: string): Recommendation['threshold'] => ({ value, unit, comparator, path, overridden: thresholds.overridden.has(path) });
  const staleNote = (p: LabPoint, label: string): string[] => (isStale(p) ? [`No ${label} in the last ${a.maxLabAgeDays} days: the latest is ${ageOf(p)} days old. Repeat the count before acting.`] : []);
  const irradiation = input.asOfDay >= a.irradiatedFromDay && input.asOfDay <= a.irradiatedToDay;
  const irradiationNote = irradiation
    ? `Use irradiated blood products (EHA/EBMT: from 7 days before leukapheresis to ${a.irradiatedToDay} days after CAR-T; day +${input.asOfDay} now).`
    : 'Irradiation of blood products per local policy (beyond the EHA/EBMT window after CAR-T).';
  const events = (kind: ClinicalEvent['kind']): ClinicalEvent[] => input.events.filter((e) => e.kind === kind && e.day !== null && e.day >= 0 && e.day <= input.asOfDay);

  // G-CSF for severe neutropenia (seed 002: ANC < 0.5 is the warning line; EHA/EBMT 2023).
  const anc = input.latest.anc;
  if (anc && anc.value < a.gcsfAnc) {
    const recentGcsf = events('g-csf').filter((e) => input.asOfDay - (e.day ?? 0) <= a.gcsfRecentDays);
    out.push({
      kind: 'g-csf',
      urgency: isStale(anc) ? 'warning' : 'critical',
      reason: `${valueText('ANC', anc)} is below ${fmt(a.gcsfAnc)} ×10⁹/L: severe neutropenia. Consider G-CSF (filgrastim 5 µg/kg/day) for prolonged ANC < ${fmt(a.gcsfAnc)}.`,
      threshold: threshold(a.gcsfAnc, '10*9/L', '<', 'actions.gcsfAnc'),
      source: sourceFor(thresholds, 'actions.gcsfAnc', SOURCES.ehaEbmt),
      evidence: [anc.reference],
      values: [{ ...anc, analyte: 'anc' }],
      stale: isStale(anc),
      notes: [
        ...staleNote(anc, 'ANC'),
        ...(recentGcsf.length > 0 ? [`G-CSF already given on ${recentGcsf.map((e) => dayLabel(e.day)).join(', ')}.`] : []),
        'Seed 002: G-CSF, red cell and platelet transfusion are triggered at ANC < 0.5, Hb < 60 g/L and platelets < 20 ×10⁹/L.',
      ],
      ...(recentGcsf.length > 0 ? { recentTreatmentDays: recentGcsf.map((e) => e.day ?? 0) } : {}),
    });
  }

  // Prophylactic G-CSF from day +2 [actions.gcsfProphylaxisStartDay] when CAR-HEMATOTOX is high (EHA/EBMT 2023); moot once ANC is
  // already below the therapeutic threshold (the G-CSF recommendation above covers it).
  const therapeutic = out.some((r) => r.kind === 'g-csf');
  if (!therapeutic && input.hematotox.risk === 'high' && input.asOfDay >= a.gcsfProphylaxisFromDay && input.asOfDay <= a.gcsfProphylaxisToDay && events('g-csf').length === 0) {
    const h = input.hematotox;
    out.push({
      kind: 'g-csf-prophylaxis',
      urgency: 'info',
      reason: `CAR-HEMATOTOX ${h.score ?? `≥ ${h.partialScore}`} (high risk, ≥ ${t.hematotox.highRiskScore}) on day +${input.asOfDay}: consider prophylactic G-CSF from day +${a.gcsfProphylaxisStartDay}.`,
      threshold: threshold(t.hematotox.highRiskScore, 'score', '>=', 'hematotox.highRiskScore'),
      source: sourceFor(thresholds, 'hematotox.highRiskScore', SOURCES.ehaEbmt),
      evidence: Object.values(h.components).map((c) => c.reference),
      values: [],
      stale: false,
      notes: [h.caveat, ...(h.missing.length > 0 ? [`Not measured before lymphodepletion: ${h.missing.join(', ')}.`] : [])],
    });
  }

  // Red cell transfusion review (seed 002: Hb < 60 g/L; institutions may set 70–80).
  const hb = input.latest.hemoglobin;
  if (hb && hb.value < a.redCellHemoglobin) {
    const severe = hb.value < t.severe.hemoglobin;
    out.push({
      kind: 'red-cell-transfusion',
      urgency: isStale(hb) ? 'warning' : severe ? 'critical' : 'warning',
      reason: `${valueText('Hemoglobin', hb)} is below ${fmt(a.redCellHemoglobin)} g/L${severe ? ' (severe anemia)' : ''}: review red cell transfusion.`,
      threshold: threshold(a.redCellHemoglobin, 'g/L', '<', 'actions.redCellHemoglobin'),
      source: sourceFor(thresholds, 'actions.redCellHemoglobin', SOURCES.seed002),
      evidence: [hb.reference],
      values: [{ ...hb, analyte: 'hemoglobin' }],
      stale: isStale(hb),
      notes: [...staleNote(hb, 'hemoglobin'), irradiationNote],
    });
  }

  // Platelet transfusion review (seed 002: platelets < 20; institutions may set 10).
  const plt = input.latest.platelets;
  if (plt && plt.value < a.plateletCount) {
    const severe = plt.value < t.severe.platelets;
    out.push({
      kind: 'platelet-transfusion',
      urgency: isStale(plt) ? 'warning' : severe ? 'critical' : 'warning',
      reason: `${valueText('Platelets', plt)} are below ${fmt(a.plateletCount)} ×10⁹/L${severe ? ' (severe thrombocytopenia)' : ''}: review platelet transfusion.`,
      threshold: threshold(a.plateletCount, '10*9/L', '<', 'actions.plateletCount'),
      source: sourceFor(thresholds, 'actions.plateletCount', SOURCES.seed002),
      evidence: [plt.reference],
      values: [{ ...plt, analyte: 'platelets' }],
      stale: isStale(plt),
      notes: [...staleNote(plt, 'platelet count'), irradiationNote],
    });
  }

  // IVIG review (Hill et al.; Stanford practice): IgG < 400 mg/dL, children per local target.
  const igg = input.latest.igg;
  const { value: iggThreshold, path: iggPath, pediatric } = ivigThreshold(t, input.ageYears);
  if (igg && igg.value < iggThreshold) {
    const lastIvig = events('ivig').filter((e) => (e.day ?? 0) <= (igg.day ?? 0)).at(-1);
    const sinceIvig = lastIvig && igg.day !== null && lastIvig.day !== null ? igg.day - lastIvig.day : null;
    out.push({
      kind: 'ivig-review',
      urgency: 'warning',
      reason: `${valueText('IgG', igg)} is below ${fmt(iggThreshold)} mg/dL${pediatric ? ' (pediatric target)' : ''}: review IVIG replacement.`,
      threshold: threshold(iggThreshold, 'mg/dL', '<', iggPath),
      source: sourceFor(thresholds, iggPath, SOURCES.ivig),
      evidence: [igg.reference],
      values: [{ ...igg, analyte: 'igg' }],
      stale: false,
      notes: [
        'Replacement is also considered for IgG 400–600 mg/dL with serious or recurrent infections.',
        ...(sinceIvig !== null && sinceIvig <= t.immunoglobulins.ivigRecentDays ? [`IgG measured ${sinceIvig} days after IVIG on ${dayLabel(lastIvig?.day ?? null)}.`] : []),
      ],
    });
  }

  // Cytopenia work-up: PHT on day 28 or early ICAHT ≥ 3 (EHA/EBMT 2023).
  const icahtHigh = input.earlyIcahtGrade !== null && input.earlyIcahtGrade >= a.workupIcahtGrade;
  if (input.pht === true || icahtHigh) {
    const why = [
      ...(input.pht === true ? [`severe cytopenia persists on day ${t.pht.day} (prolonged hematologic toxicity)`] : []),
      ...(icahtHigh ? [`early ICAHT grade ${input.earlyIcahtAtLeast ? '≥ ' : ''}${input.earlyIcahtGrade ?? ''}`] : []),
    ];
    out.push({
      kind: 'cytopenia-workup',
      urgency: 'warning',
      reason: `${why.join('; ')}: work up the cytopenia.`,
      threshold: input.pht === true ? threshold(t.pht.day, 'day', '=', 'pht.day') : threshold(a.workupIcahtGrade, 'grade', '>=', 'actions.workupIcahtGrade'),
      source: sourceFor(thresholds, input.pht === true ? 'pht.day' : 'actions.workupIcahtGrade', SOURCES.ehaEbmt),
      evidence: input.workupEvidence,
      values: [],
      stale: false,
      notes: [
        'Bone marrow evaluation; viral studies (CMV, EBV, parvovirus B19, HHV-6); ferritin for HLH/MAS.',
        'Consider an autologous CD34+ boost or a thrombopoietin agonist for persistent cytopenia.',
      ],
    });
  }
  return out;
}
