/**
 * What the cards advise (docs/clinical-logic.md §10), each with the threshold in force, its source,
 * the values it rests on and how old they are. Every threshold comes from HospitalThresholds.
 *
 * One function per kind of recommendation; red cell and platelet transfusion share one, told apart
 * by a TransfusionRule.
 */
import { below } from './bounds.js';
import type { HospitalThresholds, Thresholds } from './thresholds.js';
import { ivigThreshold, SOURCES, sourceFor, transfusionTrigger } from './thresholds.js';
import type {
  AssessmentIssue,
  Analyte,
  BCellAplasiaResult,
  ClinicalEvent,
  HematotoxResult,
  IcahtResult,
  IrradiationWindow,
  LabPoint,
  Recommendation,
} from './types.js';
import { comparedToDraw } from './dates.js';
import {
  capitalize,
  dayLabel,
  fmt,
  fmtMeasured,
  HEMATOTOX_LABELS,
  irradiationNote,
  plural,
  valueWithUnit,
} from './format.js';

export interface RecommendationInput {
  asOfDay: number;
  /** Latest post-infusion value of each analyte, with its day. */
  latest: Partial<Record<Analyte, LabPoint>>;
  /** The instant (epoch ms) of the value each latest point holds; none for a result dated without a time. */
  latestAt: Partial<Record<Analyte, number>>;
  /** The last draw of the latest lab day when it is not the value kept (the day's worst), with its instant. */
  lastDraws: Partial<Record<Analyte, { point: LabPoint; ms: number }>>;
  events: readonly ClinicalEvent[];
  hematotox: HematotoxResult;
  pht: boolean | null;
  icaht: IcahtResult;
  ageYears: number | null;
  /** The birth date leaves two ages, one each side of the pediatric age, and the IVIG targets differ (assess.ts). */
  ageStraddles: boolean;
  bCellAplasia: BCellAplasiaResult;
  irradiation: IrradiationWindow | null;
  /** Observations behind prolonged or severe cytopenia, cited by the work-up recommendation. */
  workupEvidence: string[];
  /** The day the current cytopenia began: a marrow sampling or a ferritin from then on is a work-up done. */
  workupSinceDay: number;
  /** The assessment's issues: those about a cited value or a newer result of its analyte become notes. */
  issues: readonly AssessmentIssue[];
}

const valueText = (label: string, p: LabPoint): string =>
  `${label} ${valueWithUnit(p)} on ${dayLabel(p.day)} (${p.date})`;

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
  const workup = cytopeniaWorkup(ctx);
  // On G-CSF with ANC still below 0.5, the next step is the work-up: one card asks for it.
  const gcsf = gcsfTreatment(ctx, workup !== undefined);
  const all = [
    gcsf,
    // Prophylaxis is moot once a card above speaks of G-CSF. On day 0–1 a count below 0.5 asks for no G-CSF
    // yet (actions.gcsfTreatmentFromDay): for a high CAR-HEMATOTOX, prophylaxis from day +2 is the advice.
    gcsf ? undefined : gcsfProphylaxis(ctx),
    transfusionReview(ctx, RED_CELL),
    transfusionReview(ctx, PLATELET),
    ivigReview(ctx),
    workup,
    bCellRecovery(ctx),
  ];
  return all
    .filter((r): r is Recommendation => r !== undefined)
    .map((r) => withUnreadTreatmentNote(withLabNotes(r, input.issues), input.issues));
}

/** Results of an analyte newer than the value a card cites, not used for these reasons. */
const NOT_USED: ReadonlySet<AssessmentIssue['code']> = new Set([
  'unit-unreadable',
  'value-missing',
  'value-implausible',
  'date-future',
]);

/**
 * What a card must say about the values it cites: one reported as a lower bound (">0.1") or given
 * twice with nothing to tell which version is current, and a newer result of the same analyte that
 * could not be used (a card would otherwise present an older value as the latest without a word).
 */
function withLabNotes(r: Recommendation, issues: readonly AssessmentIssue[]): Recommendation {
  const notes: string[] = [];
  for (const v of r.values) {
    for (const i of issues)
      if ((i.code === 'comparator' || i.code === 'version-ambiguous') && i.resource === v.reference)
        notes.push(`${capitalize(i.message)}; check it before acting.`);
    const newer = issues.filter(
      (i) => i.analyte === v.analyte && i.date !== undefined && i.date > v.date && NOT_USED.has(i.code),
    );
    const [first] = newer;
    if (first)
      notes.push(
        `A newer result could not be used: ${first.message}${newer.length > 1 ? ` (and ${plural(newer.length - 1, 'more')})` : ''}. The value above is the latest that could be read.`,
      );
    // A result with no date to the day may be newer than the value cited: said, with the record it is.
    const undated = issues.filter((i) => i.analyte === v.analyte && i.code === 'date-missing');
    const [u] = undated;
    if (u)
      notes.push(
        `${plural(undated.length, 'result')} with no date to the day could not be used and may be newer (${u.resource ?? 'no id'}${undated.length > 1 ? `, and ${plural(undated.length - 1, 'more')}` : ''}). The value above is the latest that could be read.`,
      );
  }
  return notes.length > 0 ? { ...r, notes: [...r.notes, ...notes] } : r;
}

/**
 * The records a recommendation's "not yet given" rests on, by kind: a G-CSF dose is a
 * MedicationAdministration, a transfusion a Procedure. Those left out as unreadable may hold one, and
 * so may a MedicationStatement or MedicationRequest sent among the administrations (service.ts).
 */
const GIVEN_DRUG = ['MedicationAdministration', 'MedicationStatement', 'MedicationRequest'];
const TREATMENT_RECORDS: Partial<Record<Recommendation['kind'], [types: string[], what: string]>> = {
  'g-csf': [GIVEN_DRUG, 'a G-CSF dose'],
  'g-csf-prophylaxis': [GIVEN_DRUG, 'a G-CSF dose'],
  'red-cell-transfusion': [['Procedure'], 'a red cell transfusion'],
  'platelet-transfusion': [['Procedure'], 'a platelet transfusion'],
  'ivig-review': [GIVEN_DRUG, 'an IVIG dose'],
};

/**
 * A card that asks for a treatment not yet recorded cannot be sure of it when records of that
 * treatment's type could not be read: it says so (the "Data not used" note alone does not say what
 * it means for this card).
 */
function withUnreadTreatmentNote(r: Recommendation, issues: readonly AssessmentIssue[]): Recommendation {
  const records = TREATMENT_RECORDS[r.kind];
  if (!records) return r;
  const [types, what] = records;
  const counts = types
    .map((type) => ({
      type,
      n: issues.filter(
        (i) => (i.code === 'resource-invalid' || i.code === 'medication-unknown') && i.resource?.startsWith(type),
      ).length,
    }))
    .filter((c) => c.n > 0);
  if (counts.length === 0) return r;
  const unread = counts.map((c) => plural(c.n, `${c.type} record`)).join(' and ');
  const note = `${unread} could not be read: ${what} among them would not be counted here. Check the chart before ordering.`;
  return { ...r, notes: [...r.notes, note] };
}

/** The latest ANC when it is below the severe threshold (< 0.5). */
function severeNeutropenia(ctx: RuleContext): LabPoint | undefined {
  const anc = ctx.input.latest.anc;
  return anc && below(anc, ctx.t.counts.neutrophils.severe) ? anc : undefined;
}

/**
 * The G-CSF course the patient is on, if any: the doses whose days of effect join up to today. A
 * dose acts for `gcsfRecentDays` days (filgrastim, daily), a long-acting one (pegfilgrastim) for
 * `longActingGcsfDays`; the course starts at the first dose of the run of overlapping doses that
 * still acts on the assessment day.
 */
function gcsfCourse(ctx: RuleContext): { sinceDay: number | null; course: ClinicalEvent[] } {
  const { input, a } = ctx;
  const doses = ctx.events('g-csf').sort((x, y) => (x.day ?? 0) - (y.day ?? 0)); // events() gives a new array
  let first = 0;
  let actsTo = -Infinity;
  doses.forEach((dose, i) => {
    const day = dose.day ?? 0;
    if (day > actsTo) first = i; // a day without G-CSF acting before this dose: a new course
    actsTo = Math.max(actsTo, day + (dose.longActing ? a.longActingGcsfDays : a.gcsfRecentDays));
  });
  if (actsTo < input.asOfDay) return { sinceDay: null, course: [] };
  const course = doses.slice(first);
  return { sinceDay: course[0]?.day ?? null, course };
}

/** "3 doses", or "2 doses; long-acting G-CSF on day +2, counted 14 days per dose" with long-acting doses. */
function courseText(ctx: RuleContext, course: readonly ClinicalEvent[]): string {
  const longActing = course.filter((dose) => dose.longActing);
  if (longActing.length === 0) return plural(course.length, 'dose');
  const days = longActing.map((dose) => dayLabel(dose.day ?? 0)).join(', ');
  return `${plural(course.length, 'dose')}; long-acting G-CSF on ${days}, counted ${plural(ctx.a.longActingGcsfDays, 'day')} per dose`;
}

function ruleContext(input: RecommendationInput, thresholds: HospitalThresholds): RuleContext {
  const t = thresholds.values;
  const a = t.actions;
  const ageOf = (p: LabPoint): number => input.asOfDay - (p.day ?? input.asOfDay);
  const isStale = (p: LabPoint): boolean => ageOf(p) > a.maxLabAgeDays;
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
    irradiationNote: irradiationNote(input.irradiation, t),
  };
}

/**
 * G-CSF for severe neutropenia (Wang et al. 2021: ANC < 0.5 is the warning line; EHA/EBMT 2023).
 * Without G-CSF in the last days: "consider G-CSF", critical on a recent count. Already on G-CSF:
 * the card no longer asks for G-CSF; it says when the work-up falls due (the work-up card asks for
 * it once due), as information.
 */
function gcsfTreatment(ctx: RuleContext, workupDue: boolean): Recommendation | undefined {
  const { t, isStale } = ctx;
  const anc = severeNeutropenia(ctx);
  // EHA/EBMT 2023 (Table 3) give G-CSF from day +2: a count of day 0 or +1 asks for none yet.
  if (!anc || (anc.day ?? -Infinity) < ctx.a.gcsfTreatmentFromDay) return undefined;
  const cutoff = t.counts.neutrophils.severe;
  const path = 'counts.neutrophils.severe';
  const course = gcsfCourse(ctx);
  const base = {
    threshold: ctx.threshold(cutoff, '10*9/L', '<', path),
    source: sourceFor(ctx.thresholds, path, SOURCES.ehaEbmt),
    alsoCited: [SOURCES.seed002],
    evidence: [anc.reference],
    values: [{ ...anc, analyte: 'anc' as const }],
    stale: isStale(anc),
  };
  if (course.sinceDay === null) {
    // An earlier course, no longer acting: said, so that "no G-CSF" is not read as "never any".
    const doses = ctx.events('g-csf');
    // A loop, not Math.max(...): a record may hold any number of doses (spread arguments overflow the stack).
    const last = doses.reduce<number | undefined>((d, e) => Math.max(d ?? -Infinity, e.day ?? 0), undefined);
    return {
      ...base,
      kind: 'g-csf',
      urgency: isStale(anc) ? 'warning' : 'critical',
      reason:
        `${valueText('ANC', anc)} is below ${fmt(cutoff)} ×10⁹/L (severe neutropenia) and no G-CSF is recorded in the last ${plural(ctx.a.gcsfRecentDays, 'day')}` +
        (last === undefined
          ? '.'
          : ` (the last dose: ${dayLabel(last)}, ${plural(doses.length, 'dose')} since day 0).`),
      ...(last === undefined ? {} : { lastTreatmentDay: last }),
      notes: [
        ...ctx.staleNote(anc, 'ANC'),
        `EHA/EBMT 2023: G-CSF (filgrastim ${fmt(ctx.a.filgrastimUgPerKg)} µg/kg/day) for severe neutropenia after CAR-T.`,
      ],
    };
  }
  if (workupDue) return undefined;
  // Every dose given after the count was drawn (ANC 0.3 at 06:00, the first dose at 10:00): not "despite G-CSF".
  const afterValue = course.course.every((dose) => comparedToDraw(dose, ctx.input.latestAt.anc, anc.date) > 0);
  return {
    ...base,
    kind: 'neutropenia-on-gcsf',
    urgency: 'info',
    reason:
      (afterValue
        ? `${valueText('ANC', anc)} is below ${fmt(cutoff)} ×10⁹/L; G-CSF was started after it was drawn (${dayLabel(course.sinceDay)}, ${courseText(ctx, course.course)}): repeat the count to see its effect. `
        : `${valueText('ANC', anc)} is still below ${fmt(cutoff)} ×10⁹/L on G-CSF since ${dayLabel(course.sinceDay)} (${courseText(ctx, course.course)}). `) +
      workupWhen(ctx),
    ...(afterValue ? { treatmentAfterValue: true } : {}),
    notes: [
      ...ctx.staleNote(anc, 'ANC'),
      'EHA/EBMT 2023: persisting neutropenia despite G-CSF calls for a marrow and infection work-up.',
    ],
    recentTreatmentDays: course.course.map((x) => x.day ?? 0),
  };
}

/**
 * When the work-up falls due if the neutropenia persists: the day the early ICAHT count reaches the
 * work-up grade (days 0–30), or, after day +30, a second count confirming late ICAHT at that grade.
 */
function workupWhen(ctx: RuleContext): string {
  const { input, t, a } = ctx;
  const n = fmt(t.counts.neutrophils.severe);
  const grade = a.workupIcahtGrade;
  if (input.asOfDay > t.icaht.earlyLastDay) {
    return `If another ANC ≤ ${n} confirms it (late ICAHT grade ${grade === 3 ? '3' : `≥ ${grade}`}), work up the cytopenia.`;
  }
  const d = t.icaht.durationDays;
  // Days ≤ 0.5 that make the work-up grade (EHA/EBMT Table 1): 1 → 1 day, 2 → short, 3 → long; 4 → no recovery.
  const needed = grade <= 1 ? 1 : grade === 2 ? d.short : grade === 3 ? d.long : undefined;
  const dueDay = needed === undefined ? undefined : input.asOfDay + Math.max(1, needed - input.icaht.early.daysAnc500);
  if (dueDay === undefined || dueDay > t.icaht.earlyLastDay) {
    return `If there is no neutrophil recovery by day +${t.icaht.earlyLastDay} (early ICAHT grade 4), work up the cytopenia.`;
  }
  return `If ANC stays ≤ ${n} to ${dayLabel(dueDay)} (${plural(needed ?? 0, 'day')}, early ICAHT grade ${grade}), work up the cytopenia.`;
}

/**
 * Prophylactic G-CSF from day +2 [actions.gcsfProphylaxisStartDay] when CAR-HEMATOTOX is high
 * (EHA/EBMT 2023), within the prophylaxis window and when no G-CSF has been given yet.
 */
function gcsfProphylaxis(ctx: RuleContext): Recommendation | undefined {
  const { input, t, a } = ctx;
  const h = input.hematotox;
  const inWindow = input.asOfDay >= a.gcsfProphylaxisFromDay && input.asOfDay <= a.gcsfProphylaxisStartDay;
  if (h.risk !== 'high' || !inWindow || ctx.events('g-csf').length > 0) return undefined;
  return {
    kind: 'g-csf-prophylaxis',
    urgency: 'info',
    reason:
      `CAR-HEMATOTOX ${h.score ?? `≥ ${h.partialScore}`} (high risk, ≥ ${t.hematotox.highRiskScore}) on day +${input.asOfDay}: ` +
      `consider prophylactic G-CSF from day +${a.gcsfProphylaxisStartDay}.`,
    threshold: ctx.threshold(t.hematotox.highRiskScore, 'score', '>=', 'hematotox.highRiskScore'),
    source: sourceFor(ctx.thresholds, 'hematotox.highRiskScore', SOURCES.ehaEbmt),
    alsoCited: [SOURCES.hematotox],
    evidence: Object.values(h.components).map((c) => c.reference),
    values: [],
    stale: false,
    notes: [
      h.caveat,
      ...(h.missing.length > 0
        ? [`Not measured at baseline: ${h.missing.map((m) => HEMATOTOX_LABELS[m]).join(', ')}.`]
        : []),
    ],
  };
}

/** What tells the red cell and the platelet transfusion reviews apart. */
interface TransfusionRule {
  kind: 'red-cell-transfusion' | 'platelet-transfusion';
  product: 'red-cell' | 'platelet';
  analyte: 'hemoglobin' | 'platelets';
  term: 'hemoglobin' | 'platelets';
  unit: string;
  /** Reason text: "<label> <verb> below <trigger> <unitText> (<severeText>): review <productText> transfusion." */
  label: string;
  verb: 'is' | 'are';
  unitText: string;
  severeText: string;
  productText: string;
  /** Name of the value in the stale note. */
  staleLabel: string;
}

/** Red cell transfusion review (Wang et al. 2021: Hb < 60 g/L; institutions may set 70–80). */
const RED_CELL: TransfusionRule = {
  kind: 'red-cell-transfusion',
  product: 'red-cell',
  analyte: 'hemoglobin',
  term: 'hemoglobin',
  unit: 'g/L',
  label: 'Hemoglobin',
  verb: 'is',
  unitText: 'g/L',
  severeText: 'severe anemia',
  productText: 'red cell',
  staleLabel: 'hemoglobin',
};

/** Platelet transfusion review (Wang et al. 2021: platelets < 20; institutions may set 10). */
const PLATELET: TransfusionRule = {
  kind: 'platelet-transfusion',
  product: 'platelet',
  analyte: 'platelets',
  term: 'platelets',
  unit: '10*9/L',
  label: 'Platelets',
  verb: 'are',
  unitText: '×10⁹/L',
  severeText: 'severe thrombocytopenia',
  productText: 'platelet',
  staleLabel: 'platelet count',
};

/**
 * Transfusion review below the trigger: critical when also below the severe threshold and the
 * value is recent. None once a transfusion of that product (or of an unknown product) is recorded
 * on or after the value's date: the action asked for has been taken.
 */
function transfusionReview(ctx: RuleContext, rule: TransfusionRule): Recommendation | undefined {
  const { isStale } = ctx;
  const worst = ctx.input.latest[rule.analyte];
  const { value: trigger, path } = transfusionTrigger(ctx.t, rule.product);
  if (!worst || !below(worst, trigger)) return undefined;
  const products = [...ctx.events(rule.kind), ...ctx.events('transfusion-unspecified')];
  let p = worst;
  if (products.some((e) => doneSince(e, ctx.input.latestAt[rule.analyte], worst))) {
    // Answered; but a later draw of that day still below the trigger, after the product, asks again.
    const later = ctx.input.lastDraws[rule.analyte];
    if (!later || !below(later.point, trigger) || products.some((e) => doneSince(e, later.ms, later.point)))
      return undefined;
    p = later.point;
  }
  const severe = below(p, ctx.t.counts[rule.term].severe);
  return {
    kind: rule.kind,
    urgency: isStale(p) ? 'warning' : severe ? 'critical' : 'warning',
    reason:
      `${valueText(rule.label, p)} ${rule.verb} below ${fmt(trigger)} ${rule.unitText}${severe ? ` (${rule.severeText})` : ''}, ` +
      `with no ${rule.productText} transfusion recorded since: review ${rule.productText} transfusion.`,
    threshold: ctx.threshold(trigger, rule.unit, '<', path),
    source: sourceFor(ctx.thresholds, path, SOURCES.seed002),
    // Clinical spec §8: red cells "seed 002; EHA/EBMT"; both products are irradiated per EHA/EBMT.
    alsoCited: [SOURCES.ehaEbmt],
    evidence: [p.reference],
    values: [{ ...p, analyte: rule.analyte }],
    stale: isStale(p),
    notes: [...ctx.staleNote(p, rule.staleLabel), ctx.irradiationNote],
  };
}

/**
 * Whether a treatment recorded as `e` answers the value `p`, drawn at `valueMs`: given at or after
 * the draw, or recorded with a date but no time on the value's lab date (the order within that day
 * is unknown, and a product given on the day of a low count most likely answered it). One given
 * before the draw, earlier the same day included, did not: a count still below the trigger after it
 * asks again (docs/clinical-logic.md §10).
 */
function doneSince(e: ClinicalEvent, valueMs: number | undefined, p: LabPoint): boolean {
  return comparedToDraw(e, valueMs, p.date) >= 0;
}

/** IVIG review (Hill et al.; Stanford practice): IgG < 400 mg/dL, children per local target. */
function ivigReview(ctx: RuleContext): Recommendation | undefined {
  const { input, t } = ctx;
  const igg = input.latest.igg;
  const { value: iggThreshold, path: iggPath, pediatric } = ivigThreshold(t, input.ageYears, input.ageStraddles);
  // The note that says which target a birth date without a day left in force, quoted on the card.
  const age = input.ageStraddles ? input.issues.find((i) => i.code === 'birth-date-partial') : undefined;
  if (!igg || !below(igg, iggThreshold)) return undefined;
  // IVIG given since this IgG was drawn: the review it asks for happened; a later IgG brings it back.
  if (ctx.events('ivig').some((e) => doneSince(e, input.latestAt.igg, igg))) return undefined;
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
    alsoCited: [SOURCES.seed000],
    evidence: [igg.reference],
    values: [{ ...igg, analyte: 'igg' }],
    stale: false,
    notes: [
      'Replacement is also considered for IgG 400–600 mg/dL with serious or recurrent infections.',
      ...(recentIvig ? [`IgG measured ${sinceIvig} days after IVIG on ${dayLabel(lastIvig?.day ?? null)}.`] : []),
      ...(age ? [`${capitalize(age.message)}.`] : []),
    ],
  };
}

/**
 * Cytopenia work-up (EHA/EBMT 2023): PHT on day 28, or early ICAHT ≥ 3 — which includes
 * neutropenia persisting despite G-CSF for two weeks, and "no recovery by day +30" (grade 4).
 */
function cytopeniaWorkup(ctx: RuleContext): Recommendation | undefined {
  const { input, t, a } = ctx;
  const e = input.icaht.early;
  const pht = input.pht === true;
  const icahtHigh = e.grade !== null && e.grade >= a.workupIcahtGrade;
  const late = input.icaht.late;
  const lateHigh = late.grade !== null && late.grade >= a.workupIcahtGrade && severeNeutropenia(ctx) !== undefined;
  if (!pht && !icahtHigh && !lateHigh) return undefined;
  const course = gcsfCourse(ctx);
  const n = t.counts.neutrophils;
  const noRecovery =
    e.noRecovery && e.grade === 4 && e.daysAnc100 < t.icaht.durationDays.long
      ? `no neutrophil recovery (ANC ≤ ${fmt(n.severe)}) from ${dayLabel(e.noRecovery.sinceDay)} through ${dayLabel(e.noRecovery.throughDay)}`
      : undefined;
  const why = [
    ...(pht ? [`severe cytopenia still present on day +${t.pht.day} (prolonged hematologic toxicity)`] : []),
    ...(icahtHigh
      ? [
          `early ICAHT grade ${e.atLeast ? '≥ ' : ''}${e.grade ?? ''}${e.complete ? '' : ' so far'}: ` +
            (noRecovery ??
              `ANC ≤ ${fmt(n.severe)} on ${plural(e.daysAnc500, 'day')}, ≤ ${fmt(n.profound)} on ${plural(e.daysAnc100, 'day')}`),
        ]
      : []),
    ...(lateHigh && !icahtHigh
      ? [
          `late ICAHT grade ${late.grade ?? ''}: ANC ${late.confirmedBy?.map((p) => `${fmtMeasured(p)} on ${dayLabel(p.day)}`).join(', ') ?? ''}`,
        ]
      : []),
    ...(course.sinceDay !== null && severeNeutropenia(ctx) ? [`despite G-CSF since ${dayLabel(course.sinceDay)}`] : []),
  ];
  const done = workupDone(ctx);
  const since = dayLabel(input.workupSinceDay);
  const recorded = [
    ...(done.marrow ? [`marrow sampling on ${dayLabel(done.marrow.day)}`] : []),
    ...(done.ferritin ? [`ferritin ${valueWithUnit(done.ferritin)} on ${dayLabel(done.ferritin.day)}`] : []),
  ];
  const asks = [
    ...(done.marrow ? [] : ['Bone marrow aspirate and biopsy']),
    'viral PCR (CMV, EBV, parvovirus B19, HHV-6)',
    ...(done.ferritin ? [] : ['ferritin for HLH/MAS']),
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
      ...(recorded.length > 0
        ? [`Already recorded since the cytopenia began (${since}): ${recorded.join('; ')}.`]
        : []),
      `${capitalize(asks.join('; '))}.`,
      'Consider an autologous CD34+ boost (if cells are stored) or a thrombopoietin agonist for persistent cytopenia.',
    ],
    ...(recorded.length > 0 ? { workupDone: done } : {}),
  };
}

/**
 * The parts of the work-up recorded since the current cytopenia began (`workupSinceDay`): a bone
 * marrow sampling (Procedure, `marrow-evaluation`), the latest ferritin. The card asks only for the rest.
 */
function workupDone(ctx: RuleContext): NonNullable<Recommendation['workupDone']> {
  const from = ctx.input.workupSinceDay;
  const marrow = ctx
    .events('marrow-evaluation')
    .filter((e) => (e.day ?? -1) >= from)
    .at(-1);
  const ferritin = ctx.input.latest.ferritin;
  return {
    ...(marrow ? { marrow: { day: marrow.day ?? from, reference: marrow.reference } } : {}),
    ...(ferritin && (ferritin.day ?? -1) >= from ? { ferritin } : {}),
  };
}

/**
 * Loss of B-cell aplasia within 6 months of tisagenlecleucel predicts CD19+ relapse: review
 * disease status (marrow MRD). Warning: it asks for a decision, not an emergency.
 */
function bCellRecovery(ctx: RuleContext): Recommendation | undefined {
  const b = ctx.input.bCellAplasia;
  if (!b.lossPredictsRelapse || b.lossDay === null) return undefined;
  const latest = b.latest;
  const t = ctx.t.bCellAplasia;
  const measured = latest
    ? [
        ...(latest.percent !== undefined
          ? [`CD19+ ${fmtMeasured({ value: latest.percent, comparator: latest.percentComparator })}% of lymphocytes`]
          : []),
        ...(latest.absolute !== undefined
          ? [`${fmtMeasured({ value: latest.absolute * 1000, comparator: latest.absoluteComparator })} CD19+ cells/µL`]
          : []),
      ].join(', ')
    : '';
  return {
    kind: 'b-cell-recovery',
    urgency: 'warning',
    reason:
      `B cells returned on ${dayLabel(b.lossDay)} after B-cell aplasia since ${dayLabel(b.onsetDay)}` +
      `${measured && latest ? ` (latest ${dayLabel(latest.day)}, ${latest.date}: ${measured})` : ''}, ` +
      `within ${Math.round(t.relapseWindowDays / 30.4)} months of tisagenlecleucel: review disease status (bone marrow MRD).`,
    threshold: ctx.threshold(t.relapseWindowDays, 'days-after-infusion', '<=', 'bCellAplasia.relapseWindowDays'),
    source: sourceFor(ctx.thresholds, 'bCellAplasia.relapseWindowDays', SOURCES.bCellRelapse),
    evidence: latest ? [latest.reference] : [],
    values: [],
    stale: false,
    notes: [
      `B-cell aplasia: CD19+ < ${fmt(t.cd19Percent)}% of lymphocytes and/or < ${fmt(t.cd19Absolute * 1000)} cells/µL; loss confirmed by ${plural(t.lossConfirmations, 'sample')}.`,
      'B-cell recovery after tisagenlecleucel for ALL was associated with relapse (hazard ratio 4.5 within the first year; Pulsipher et al. 2022); bone marrow NGS-MRD predicts relapse best.',
    ],
  };
}
