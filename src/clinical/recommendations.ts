/**
 * What the cards advise (docs/clinical-logic.md §10), each with the threshold in force, its source,
 * the values it rests on and how old they are. Every threshold comes from HospitalThresholds.
 *
 * One function per kind of recommendation; red cell and platelet transfusion share one, told apart
 * by a TransfusionRule.
 */
import type { HospitalThresholds, Thresholds } from './thresholds.js';
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

const valueText = (label: string, p: LabPoint): string =>
  `${label} ${fmt(p.value)} ${displayUnit(p.unit)} on ${dayLabel(p.day)} (${p.date})`;

/** What every rule reads: the input, the thresholds in force, and helpers on value age and events. */
interface RuleContext {
  input: RecommendationInput;
  thresholds: HospitalThresholds;
  t: Thresholds;
  a: Thresholds['actions'];
  isStale: (p: LabPoint) => boolean;
  /** The "repeat the count" note for a stale value. */
  staleNote: (p: LabPoint, label: string) => string[];
  threshold: (
    value: number,
    unit: string,
    comparator: Recommendation['threshold']['comparator'],
    path: string,
  ) => Recommendation['threshold'];
  /** Events of a kind from day 0 to the assessment day. */
  events: (kind: ClinicalEvent['kind']) => ClinicalEvent[];
  /** Whether blood products must be irradiated on the assessment day. */
  irradiationNote: string;
}

export function recommend(input: RecommendationInput, thresholds: HospitalThresholds): Recommendation[] {
  const a = thresholds.values.actions;
  if (input.asOfDay < 0 || input.asOfDay > a.followUpDays) return [];
  const ctx = ruleContext(input, thresholds);
  const gcsf = gcsfTreatment(ctx);
  const all = [
    gcsf,
    // Prophylaxis is moot once ANC is already below the therapeutic threshold (G-CSF above covers it).
    gcsf ? undefined : gcsfProphylaxis(ctx),
    transfusionReview(ctx, RED_CELL),
    transfusionReview(ctx, PLATELET),
    ivigReview(ctx),
    cytopeniaWorkup(ctx),
  ];
  return all.filter((r): r is Recommendation => r !== undefined);
}

function ruleContext(input: RecommendationInput, thresholds: HospitalThresholds): RuleContext {
  const t = thresholds.values;
  const a = t.actions;
  const ageOf = (p: LabPoint): number => input.asOfDay - (p.day ?? input.asOfDay);
  const isStale = (p: LabPoint): boolean => ageOf(p) > a.maxLabAgeDays;
  const irradiation = input.asOfDay >= a.irradiatedFromDay && input.asOfDay <= a.irradiatedToDay;
  return {
    input,
    thresholds,
    t,
    a,
    isStale,
    staleNote: (p, label) =>
      isStale(p)
        ? [
            `No ${label} in the last ${a.maxLabAgeDays} days: the latest is ${ageOf(p)} days old. Repeat the count before acting.`,
          ]
        : [],
    threshold: (value, unit, comparator, path) => ({
      value,
      unit,
      comparator,
      path,
      overridden: thresholds.overridden.has(path),
    }),
    events: (kind) =>
      input.events.filter((e) => e.kind === kind && e.day !== null && e.day >= 0 && e.day <= input.asOfDay),
    irradiationNote: irradiation
      ? 'Use irradiated blood products (EHA/EBMT: from 7 days before leukapheresis to ' +
        `${a.irradiatedToDay} days after CAR-T; day +${input.asOfDay} now).`
      : 'Irradiation of blood products per local policy (beyond the EHA/EBMT window after CAR-T).',
  };
}

/** G-CSF for severe neutropenia (Wang et al. 2021: ANC < 0.5 is the warning line; EHA/EBMT 2023). */
function gcsfTreatment(ctx: RuleContext): Recommendation | undefined {
  const { input, a, isStale } = ctx;
  const anc = input.latest.anc;
  if (!anc || anc.value >= a.gcsfAnc) return undefined;
  const recentGcsf = ctx.events('g-csf').filter((e) => input.asOfDay - (e.day ?? 0) <= a.gcsfRecentDays);
  return {
    kind: 'g-csf',
    urgency: isStale(anc) ? 'warning' : 'critical',
    reason:
      `${valueText('ANC', anc)} is below ${fmt(a.gcsfAnc)} ×10⁹/L: severe neutropenia. ` +
      `Consider G-CSF (filgrastim 5 µg/kg/day) for prolonged ANC < ${fmt(a.gcsfAnc)}.`,
    threshold: ctx.threshold(a.gcsfAnc, '10*9/L', '<', 'actions.gcsfAnc'),
    source: sourceFor(ctx.thresholds, 'actions.gcsfAnc', SOURCES.ehaEbmt),
    evidence: [anc.reference],
    values: [{ ...anc, analyte: 'anc' }],
    stale: isStale(anc),
    notes: [
      ...ctx.staleNote(anc, 'ANC'),
      ...(recentGcsf.length > 0
        ? [`G-CSF already given on ${recentGcsf.map((e) => dayLabel(e.day)).join(', ')}.`]
        : []),
      'Seed 002: G-CSF, red cell and platelet transfusion are triggered at ANC < 0.5, Hb < 60 g/L and platelets < 20 ×10⁹/L.',
    ],
    ...(recentGcsf.length > 0 ? { recentTreatmentDays: recentGcsf.map((e) => e.day ?? 0) } : {}),
  };
}

/**
 * Prophylactic G-CSF from day +2 [actions.gcsfProphylaxisStartDay] when CAR-HEMATOTOX is high
 * (EHA/EBMT 2023), within the prophylaxis window and when no G-CSF has been given yet.
 */
function gcsfProphylaxis(ctx: RuleContext): Recommendation | undefined {
  const { input, t, a } = ctx;
  const h = input.hematotox;
  const inWindow = input.asOfDay >= a.gcsfProphylaxisFromDay && input.asOfDay <= a.gcsfProphylaxisToDay;
  if (h.risk !== 'high' || !inWindow || ctx.events('g-csf').length > 0) return undefined;
  return {
    kind: 'g-csf-prophylaxis',
    urgency: 'info',
    reason:
      `CAR-HEMATOTOX ${h.score ?? `≥ ${h.partialScore}`} (high risk, ≥ ${t.hematotox.highRiskScore}) on day +${input.asOfDay}: ` +
      `consider prophylactic G-CSF from day +${a.gcsfProphylaxisStartDay}.`,
    threshold: ctx.threshold(t.hematotox.highRiskScore, 'score', '>=', 'hematotox.highRiskScore'),
    source: sourceFor(ctx.thresholds, 'hematotox.highRiskScore', SOURCES.ehaEbmt),
    evidence: Object.values(h.components).map((c) => c.reference),
    values: [],
    stale: false,
    notes: [
      h.caveat,
      ...(h.missing.length > 0 ? [`Not measured before lymphodepletion: ${h.missing.join(', ')}.`] : []),
    ],
  };
}

/** What tells the red cell and the platelet transfusion reviews apart. */
interface TransfusionRule {
  kind: 'red-cell-transfusion' | 'platelet-transfusion';
  analyte: 'hemoglobin' | 'platelets';
  /** The trigger, under `actions` in HospitalThresholds; "severe" is `severe[analyte]`. */
  action: 'redCellHemoglobin' | 'plateletCount';
  unit: string;
  /** Reason text: "<label> <verb> below <trigger> <unitText> (<severeText>): review <product> transfusion." */
  label: string;
  verb: 'is' | 'are';
  unitText: string;
  severeText: string;
  product: string;
  /** Name of the value in the stale note. */
  staleLabel: string;
}

/** Red cell transfusion review (Wang et al. 2021: Hb < 60 g/L; institutions may set 70–80). */
const RED_CELL: TransfusionRule = {
  kind: 'red-cell-transfusion',
  analyte: 'hemoglobin',
  action: 'redCellHemoglobin',
  unit: 'g/L',
  label: 'Hemoglobin',
  verb: 'is',
  unitText: 'g/L',
  severeText: 'severe anemia',
  product: 'red cell',
  staleLabel: 'hemoglobin',
};

/** Platelet transfusion review (Wang et al. 2021: platelets < 20; institutions may set 10). */
const PLATELET: TransfusionRule = {
  kind: 'platelet-transfusion',
  analyte: 'platelets',
  action: 'plateletCount',
  unit: '10*9/L',
  label: 'Platelets',
  verb: 'are',
  unitText: '×10⁹/L',
  severeText: 'severe thrombocytopenia',
  product: 'platelet',
  staleLabel: 'platelet count',
};

/** Transfusion review below the trigger: critical when also below the severe threshold and the value is recent. */
function transfusionReview(ctx: RuleContext, rule: TransfusionRule): Recommendation | undefined {
  const { isStale } = ctx;
  const p = ctx.input.latest[rule.analyte];
  const trigger = ctx.a[rule.action];
  if (!p || p.value >= trigger) return undefined;
  const severe = p.value < ctx.t.severe[rule.analyte];
  const path = `actions.${rule.action}`;
  return {
    kind: rule.kind,
    urgency: isStale(p) ? 'warning' : severe ? 'critical' : 'warning',
    reason:
      `${valueText(rule.label, p)} ${rule.verb} below ${fmt(trigger)} ${rule.unitText}${severe ? ` (${rule.severeText})` : ''}: ` +
      `review ${rule.product} transfusion.`,
    threshold: ctx.threshold(trigger, rule.unit, '<', path),
    source: sourceFor(ctx.thresholds, path, SOURCES.seed002),
    evidence: [p.reference],
    values: [{ ...p, analyte: rule.analyte }],
    stale: isStale(p),
    notes: [...ctx.staleNote(p, rule.staleLabel), ctx.irradiationNote],
  };
}

/** IVIG review (Hill et al.; Stanford practice): IgG < 400 mg/dL, children per local target. */
function ivigReview(ctx: RuleContext): Recommendation | undefined {
  const { input, t } = ctx;
  const igg = input.latest.igg;
  const { value: iggThreshold, path: iggPath, pediatric } = ivigThreshold(t, input.ageYears);
  if (!igg || igg.value >= iggThreshold) return undefined;
  const lastIvig = ctx
    .events('ivig')
    .filter((e) => (e.day ?? 0) <= (igg.day ?? 0))
    .at(-1);
  const sinceIvig = lastIvig && igg.day !== null && lastIvig.day !== null ? igg.day - lastIvig.day : null;
  const recentIvig = sinceIvig !== null && sinceIvig <= t.immunoglobulins.ivigRecentDays;
  return {
    kind: 'ivig-review',
    urgency: 'warning',
    reason: `${valueText('IgG', igg)} is below ${fmt(iggThreshold)} mg/dL${pediatric ? ' (pediatric target)' : ''}: review IVIG replacement.`,
    threshold: ctx.threshold(iggThreshold, 'mg/dL', '<', iggPath),
    source: sourceFor(ctx.thresholds, iggPath, SOURCES.ivig),
    evidence: [igg.reference],
    values: [{ ...igg, analyte: 'igg' }],
    stale: false,
    notes: [
      'Replacement is also considered for IgG 400–600 mg/dL with serious or recurrent infections.',
      ...(recentIvig ? [`IgG measured ${sinceIvig} days after IVIG on ${dayLabel(lastIvig?.day ?? null)}.`] : []),
    ],
  };
}

/** Cytopenia work-up: PHT on day 28 or early ICAHT ≥ 3 (EHA/EBMT 2023). */
function cytopeniaWorkup(ctx: RuleContext): Recommendation | undefined {
  const { input, t, a } = ctx;
  const pht = input.pht === true;
  const icahtHigh = input.earlyIcahtGrade !== null && input.earlyIcahtGrade >= a.workupIcahtGrade;
  if (!pht && !icahtHigh) return undefined;
  const why = [
    ...(pht ? [`severe cytopenia persists on day ${t.pht.day} (prolonged hematologic toxicity)`] : []),
    ...(icahtHigh ? [`early ICAHT grade ${input.earlyIcahtAtLeast ? '≥ ' : ''}${input.earlyIcahtGrade ?? ''}`] : []),
  ];
  return {
    kind: 'cytopenia-workup',
    urgency: 'warning',
    reason: `${why.join('; ')}: work up the cytopenia.`,
    threshold: pht
      ? ctx.threshold(t.pht.day, 'day', '=', 'pht.day')
      : ctx.threshold(a.workupIcahtGrade, 'grade', '>=', 'actions.workupIcahtGrade'),
    source: sourceFor(ctx.thresholds, pht ? 'pht.day' : 'actions.workupIcahtGrade', SOURCES.ehaEbmt),
    evidence: input.workupEvidence,
    values: [],
    stale: false,
    notes: [
      'Bone marrow evaluation; viral studies (CMV, EBV, parvovirus B19, HHV-6); ferritin for HLH/MAS.',
      'Consider an autologous CD34+ boost or a thrombopoietin agonist for persistent cytopenia.',
    ],
  };
}
