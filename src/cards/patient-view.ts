/**
 * Assessment → patient-view cards: a summary card (ICAHT, day post infusion, CAR-HEMATOTOX) and
 * one card per recommendation of docs/clinical-logic.md §10. Each card says what it saw (values and
 * dates), why it advises, the threshold in force and its source. No CAR-T infusion, no cards.
 */
import type { Card, Suggestion } from '../cds-hooks/schemas.js';
import { boundaries, ctcaeGrade, defaultLln } from '../clinical/ctcae.js';
import type { HospitalThresholds, Thresholds } from '../clinical/thresholds.js';
import { SOURCES } from '../clinical/thresholds.js';
import type { Terminology } from '../clinical/terminology.js';
import type {
  PersistenceResult,
  Analyte,
  Assessment,
  AssessmentIssue,
  CtcaeTerm,
  LandmarkValue,
  Recommendation,
  SevereCytopenia,
} from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import { below } from '../clinical/bounds.js';
import { addDays } from '../clinical/dates.js';
import {
  ANALYTE_LABELS,
  bCellText,
  capitalize,
  CENSORING_TEXT,
  cd4cd8Text,
  changeText,
  fmtMeasured,
  HEMATOTOX_LABELS,
  phenotypeText,
  phtText,
  TERM_ANALYTE,
  thresholdText,
} from '../clinical/format.js';
import { coversDay, isSevere, LINEAGE_TERM, nadirOf } from '../clinical/severe-cytopenia.js';
import {
  baseCard,
  citation,
  countsUnread,
  unreadOf,
  countsTable,
  dayLabel,
  earlyGrade,
  fmt,
  hematotoxText,
  plural,
  stableUuid,
  table,
  unreadInfusionList,
  unreadInfusions,
  valueWithUnit,
  withUnreadDataNote,
  type CardContext,
} from './common.js';
import { mdText } from './markdown.js';
import { createSuggestion, filgrastimRequest, serviceRequest } from './suggestions.js';
import { DEFAULT_ORDERABLES, type Orderables } from './orderables.js';

export function patientViewCards(
  a: Assessment,
  thresholds: HospitalThresholds,
  ctx: CardContext,
  terminology?: Terminology,
): Card[] {
  if (a.dayPostInfusion === null && terminology) {
    const unread = unreadInfusions(a, terminology);
    return unread.length > 0 ? [unreadInfusionCard(a, unread, ctx)] : [];
  }
  if (a.dayPostInfusion === null || a.dayPostInfusion < 0 || a.dayPostInfusion > thresholds.values.actions.followUpDays)
    return [];
  return withUnreadDataNote(
    [...a.recommendations.map((r) => recommendationCard(r, a, thresholds, ctx)), summaryCard(a, thresholds, ctx)],
    a,
  );
}

/**
 * No infusion could be read, but a record coded as one was left out: without this card the patient
 * would get none, as if never treated (one malformed record would cost them all their cards).
 */
function unreadInfusionCard(a: Assessment, unread: readonly AssessmentIssue[], ctx: CardContext): Card {
  const detail = [
    `**Why:** this record holds a CAR-T infusion that could not be read, so day 0 is not known and nothing that counts from it (cytopenia grades, ICAHT, recovery; G-CSF, transfusion and IVIG advice) was assessed:`,
    unreadInfusionList(unread),
    'Check the infusion in the chart; the EHR sent it in a shape this service does not read.',
  ].join('\n\n');
  const uuid = stableUuid(ctx.serviceId, ctx.patientId, 'unread-infusion', ...unread.map((i) => i.resource), a.asOf);
  return baseCard(
    'unread-infusion',
    uuid,
    'CAR-T infusion record could not be read: hematotoxicity not assessed',
    'warning',
    detail,
    SOURCES.ehaEbmt,
    ctx,
  );
}

function icahtText(a: Assessment): string {
  const e = a.icaht.early;
  if (e.grade === null) return 'early ICAHT not gradable (no ANC)';
  return `early ICAHT grade ${earlyGrade(e)}`;
}

/** The phase of care the summary speaks to: early (days 0–30), late (to day +100), immune reconstitution. */
type Phase = 'early' | 'late' | 'immune';
function phaseOf(day: number, t: Thresholds): Phase {
  return day <= t.icaht.earlyLastDay ? 'early' : day <= t.icaht.lateTIcahtLastDay ? 'late' : 'immune';
}

/**
 * The summary: what a clinician reads in ten seconds, for the phase of care. Facts an action card
 * of the same response already states are left to that card.
 */
function summaryCard(a: Assessment, thresholds: HospitalThresholds, ctx: CardContext): Card {
  const t = thresholds.values;
  const day = a.dayPostInfusion ?? 0;
  const phase = phaseOf(day, t);
  const kinds = new Set(a.recommendations.map((r) => r.kind));
  const product = a.infusions.at(-1)?.product ?? 'CAR-T';
  const headline = PHASE_HEADLINE[phase](a, t);
  const detail = [
    `**${capitalize(dayLabel(day))} after ${mdText(product)}** (infused ${a.infusionDate ?? ''}); assessed ${a.asOf}.`,
    countsTable(a, ['neutrophils', 'platelets', 'hemoglobin']),
    ...PHASE_DETAIL[phase](a, t, kinds),
    ...censoringNote(a),
    ...dataNotes(a),
  ].join('\n\n');
  return baseCard(
    'hematotoxicity-summary',
    stableUuid(ctx.serviceId, ctx.patientId, a.infusionDate, 'summary', a.asOf),
    `CAR-T ${dayLabel(day)}: ${headline}`,
    'info',
    detail,
    phase === 'immune' ? SOURCES.seed000 : SOURCES.ehaEbmt,
    ctx,
  );
}

/** The summary line after "CAR-T day +N: ". */
const PHASE_HEADLINE: Record<Phase, (a: Assessment, t: Thresholds) => string> = {
  early: (a) => `${icahtText(a)}; ${latestCounts(a)}`,
  late: (a, t) =>
    `late ICAHT ${gradeOrDash(a.icaht.late.grade)}, late T-ICAHT ${gradeOrDash(a.icaht.thrombocytopenia.late.grade)}; ` +
    `PHT ${phtText(a, t)}; ${transfusionsShort(a, t)}`,
  immune: (a, t) => `${persistenceShort(a, t)}${immuneText(a, t, true)}`,
};

/** "cytopenia past day +90 (ANC, PLT); " for the immune-phase headline (cytopenicNear). */
function persistenceShort(a: Assessment, t: Thresholds): string {
  const low = cytopenicNear(a.persistentCytopenia.day90, t);
  return low.length > 0 ? `cytopenia past day +90 (${low.map((l) => PERSISTENCE_LABELS[l]).join(', ')}); ` : '';
}

/** The phase paragraph(s) of the summary detail. */
const PHASE_DETAIL: Record<Phase, (a: Assessment, t: Thresholds, kinds: Set<string>) => string[]> = {
  early: (a, t, kinds) => [
    ...(kinds.has('cytopenia-workup') ? [] : [`**EHA/EBMT ICAHT:** ${icahtDetail(a, t)}`]),
    `**Thrombocytopenia (T-ICAHT):** early grade ${earlyGrade(a.icaht.thrombocytopenia.early)} (platelets < ${fmt(t.counts.platelets.ctcaeGrade3)} on ${plural(a.icaht.thrombocytopenia.early.daysBelow50, 'day')}, < ${fmt(t.counts.platelets.severe)} on ${plural(a.icaht.thrombocytopenia.early.daysBelow20, 'day')}).`,
    ...(kinds.has('g-csf-prophylaxis')
      ? []
      : [
          `**${hematotoxText(a)}** ${a.lymphodepletionDate ? 'before lymphodepletion' : 'before day 0 (no lymphodepletion recorded)'}.`,
        ]),
  ],
  late: (a, t, kinds) => [
    `**EHA/EBMT ICAHT:** early grade ${earlyGrade(a.icaht.early)}; late grade ${lateText(a, t)}. Neutrophil recovery: ${phenotypeText(a.icaht.phenotype, t)}.`,
    `**Thrombocytopenia (T-ICAHT):** early ${earlyGrade(a.icaht.thrombocytopenia.early)}, late (days ${t.icaht.earlyLastDay + 1}–${t.icaht.lateTIcahtLastDay}) ${gradeOrDash(a.icaht.thrombocytopenia.late.grade)}.`,
    ...(kinds.has('cytopenia-workup')
      ? []
      : [`**Prolonged toxicity (severe cytopenia on day +${t.pht.day}):** ${phtText(a, t)}.`]),
    `**Transfusions:** ${transfusionsText(a, t)}.`,
    ...persistenceLines(a, t),
  ],
  immune: (a, t) => [
    `**Immune reconstitution:** ${immuneText(a, t, false)}.`,
    ...(a.icaht.late.grade !== null ? [`**Late ICAHT:** grade ${lateText(a, t)}.`] : []),
    ...persistenceLines(a, t),
  ],
};

const PERSISTENCE_LABELS = { neutrophils: 'ANC', platelets: 'PLT', hemoglobin: 'Hb' } as const;
type PersistenceLineage = keyof typeof PERSISTENCE_LABELS;

/**
 * The counts near a landmark that are a cytopenia as Wang 2021 defines it (clinical spec §4): neutropenia ANC
 * < 1.5 [counts.neutrophils.ctcaeGrade2], thrombocytopenia PLT < 100 [counts.platelets.lateTIcahtGrade1],
 * anemia Hb below the lower limit of normal (CTCAE grade ≥ 1: 120 g/L men, 110 women by default).
 */
function cytopenicNear(p: PersistenceResult | null, t: Thresholds): PersistenceLineage[] {
  if (!p) return [];
  const low: Record<PersistenceLineage, (v: LandmarkValue) => boolean> = {
    neutrophils: (v) => below(v, t.counts.neutrophils.ctcaeGrade2),
    platelets: (v) => below(v, t.counts.platelets.lateTIcahtGrade1),
    hemoglobin: (v) => v.grade >= 1,
  };
  return (Object.keys(PERSISTENCE_LABELS) as PersistenceLineage[]).filter((l) => {
    const v = p[l];
    return v !== null && low[l](v);
  });
}

/**
 * Cytopenia persisting past day +90 and at one year (clinical spec §4; the immune-reconstitution thesis follows
 * to one year): the value nearest each landmark of each count that is a cytopenia, said as measured ("ANC 0.9
 * ×10⁹/L (CTCAE grade 3, day +91)"). Nothing when no count near it is, or none was measured.
 */
function persistenceLines(a: Assessment, t: Thresholds): string[] {
  const lines: string[] = [];
  for (const [label, p] of [
    ['past day +90', a.persistentCytopenia.day90],
    ['at one year', a.persistentCytopenia.year1],
  ] as const) {
    const parts = cytopenicNear(p, t).flatMap((l) => {
      const v = p?.[l];
      return v ? [`${PERSISTENCE_LABELS[l]} ${valueWithUnit(v)} (CTCAE grade ${v.grade}, ${dayLabel(v.day)})`] : [];
    });
    if (parts.length > 0)
      lines.push(
        `**Cytopenia ${label}** (ANC < ${fmt(t.counts.neutrophils.ctcaeGrade2)}, PLT < ${fmt(t.counts.platelets.lateTIcahtGrade1)}, Hb below normal; Wang 2021): ${parts.join('; ')}.`,
      );
  }
  return lines;
}

const gradeOrDash = (g: number | null): string => (g === null ? 'not gradable yet' : String(g));

/** "ANC 0.2, platelets 35, Hb 82 g/L" from the latest values. */
function latestCounts(a: Assessment): string {
  const parts: string[] = [];
  if (a.latest.anc) parts.push(`ANC ${fmtMeasured(a.latest.anc)}`);
  if (a.latest.platelets) parts.push(`PLT ${fmtMeasured(a.latest.platelets)}`);
  if (a.latest.hemoglobin) parts.push(`Hb ${valueWithUnit(a.latest.hemoglobin)}`);
  if (parts.length > 0) return parts.join(', ');
  return countsUnread(a) ? 'no readable counts since infusion' : 'no counts since infusion';
}

/** The early ICAHT grade with the day counts (or the "no recovery" fact) that decide it. */
function icahtDetail(a: Assessment, t: Thresholds): string {
  const e = a.icaht.early;
  const n = t.counts.neutrophils;
  const counts = `ANC ≤ ${fmt(n.severe)} on ${plural(e.daysAnc500, 'day')}, ≤ ${fmt(n.profound)} on ${plural(e.daysAnc100, 'day')} in days 0–${t.icaht.earlyLastDay}`;
  const noRecovery = e.noRecovery
    ? e.grade === 4
      ? `; no neutrophil recovery from ${dayLabel(e.noRecovery.sinceDay)} through ${dayLabel(e.noRecovery.throughDay)}`
      : e.complete
        ? ''
        : `; no recovery since ${dayLabel(e.noRecovery.sinceDay)}: grade 4 if none by day +${t.icaht.earlyLastDay}`
    : '';
  return `${icahtText(a)} (${counts}${noRecovery}). Neutrophil recovery: ${phenotypeText(a.icaht.phenotype, t)}.`;
}

/** The late ICAHT grade and the measurements that confirm it. */
function lateText(a: Assessment, t: Thresholds): string {
  const late = a.icaht.late;
  if (late.grade === null) {
    return late.measurements === 0
      ? 'not gradable (no ANC after day +30)'
      : `not gradable (${plural(late.measurements, 'ANC measurement')} after day +${t.icaht.earlyLastDay}; ${t.icaht.lateConfirmations} needed)`;
  }
  const by = late.confirmedBy?.map((p) => `${fmtMeasured(p)} on ${dayLabel(p.day)}`).join(', ');
  return `${late.grade}${by ? ` (ANC ${by})` : ''}`;
}

/** Red cell and platelet transfusions in the last 30 days [`icaht.earlyLastDay`]. */
function recentTransfusions(a: Assessment, t: Thresholds): { red: number; plt: number } {
  const since = (a.dayPostInfusion ?? 0) - t.icaht.earlyLastDay;
  const recent = (a.events ?? []).filter((e) => (e.day ?? -Infinity) > since);
  return {
    red: recent.filter((e) => e.kind === 'red-cell-transfusion').length,
    plt: recent.filter((e) => e.kind === 'platelet-transfusion').length,
  };
}

/** Red cell and platelet transfusions in the last 30 days (transfusion dependence). */
function transfusionsText(a: Assessment, t: Thresholds): string {
  const { red, plt } = recentTransfusions(a, t);
  if (a.events === undefined) return 'transfusions not read';
  if (red + plt === 0) return `no transfusion in the last ${t.icaht.earlyLastDay} days`;
  return `${plural(red, 'red cell transfusion')}, ${plural(plt, 'platelet transfusion')} in the last ${t.icaht.earlyLastDay} days`;
}

/** "transfusions in 30 days: 1 RBC, 2 PLT" for the summary line. */
function transfusionsShort(a: Assessment, t: Thresholds): string {
  const { red, plt } = recentTransfusions(a, t);
  return red + plt === 0
    ? `no transfusion in ${t.icaht.earlyLastDay} days`
    : `transfusions in ${t.icaht.earlyLastDay} days: ${red} RBC, ${plt} PLT`;
}

/** IgG, B cells and CD4/CD8 (short form for the summary line). */
function immuneText(a: Assessment, t: Thresholds, short: boolean): string {
  const g = a.immunoglobulins.IgG;
  const igg = g.latest
    ? `IgG ${valueWithUnit(g.latest)} (${g.latest.date})${!short && g.changePct !== null ? `, ${changeText(g)} vs baseline` : ''}`
    : unreadOf(a, ['igg'])
      ? `IgG not readable${short ? '' : ' (see the data notes)'}`
      : 'IgG not measured';
  const parts = [
    igg,
    short ? bCellShort(a) : bCellText(a.bCellAplasia, t),
    short ? cd4Short(a) : cd4cd8Text(a.cd4cd8, t),
  ];
  return parts.join('; ');
}

function bCellShort(a: Assessment): string {
  const b = a.bCellAplasia;
  if (b.present === null) return 'B cells not measured';
  if (b.lossDay !== null) return `B cells back since ${dayLabel(b.lossDay)}`;
  return b.present ? 'B-cell aplasia' : 'no B-cell aplasia';
}

function cd4Short(a: Assessment): string {
  const cd4 = a.latest.cd4Absolute;
  return cd4
    ? `CD4 ${valueWithUnit(cd4)}`
    : a.cd4cd8.latestRatio !== null
      ? `CD4/CD8 ${fmtMeasured({ value: a.cd4cd8.latestRatio, comparator: a.cd4cd8.latestRatioComparator })}`
      : 'CD4 not measured';
}

/** Says so when ICAHT counting stopped early (death, a later CAR-T, allogeneic HSCT). */
function censoringNote(a: Assessment): string[] {
  const c = a.icaht.censoring;
  if (!c) return [];
  return [
    `**Counting stopped:** ICAHT and T-ICAHT count to ${dayLabel(c.lastCountedDay)}: ${CENSORING_TEXT[c.reason]} on ${c.date} (${dayLabel(c.day)}).`,
  ];
}

/** Issues a clinician should know about, in words; how many results were not used, by status. */
function dataNotes(a: Assessment): string[] {
  const shown = a.issues.filter((i) => SHOWN_ISSUES.has(i.code));
  const ignored = Object.entries(a.ignoredObservations).map(([status, n]) => mdText(`${n} ${status}`));
  if (shown.length === 0 && ignored.length === 0) return [];
  const lines = shown.slice(0, 5).map((i) => `- ${mdText(capitalize(i.message))}.`);
  if (shown.length > 5) lines.push(`- ${plural(shown.length - 5, 'more note')} in the SMART app.`);
  if (ignored.length > 0) {
    // A record may give any status: each one not read is counted under its own name.
    const listed = ignored.length > 5 ? [...ignored.slice(0, 5), `and ${ignored.length - 5} other statuses`] : ignored;
    lines.push(`- Results not used because of their status: ${listed.join(', ')}.`);
  }
  return [`**Data notes:**\n${lines.join('\n')}`];
}

/** Issues the summary lists (censoring has its own line; unread resources their own note). */
const SHOWN_ISSUES = new Set<string>([
  'data-gap',
  'stale-data',
  'unit-unreadable',
  'value-missing',
  'date-missing',
  'infusion',
  'sex-unknown',
  'birth-date-partial',
  'transfusion-product-unknown',
  'ivig-recent',
  'comparator',
  'value-implausible',
  'version-ambiguous',
  'date-future',
]);

function hematotoxTable(a: Assessment): string {
  const h = a.hematotox;
  const rows = (Object.keys(HEMATOTOX_LABELS) as (keyof typeof HEMATOTOX_LABELS)[]).map((k) => {
    const c = h.components[k];
    return c
      ? [HEMATOTOX_LABELS[k], valueWithUnit(c), c.date, String(c.points)]
      : [HEMATOTOX_LABELS[k], 'not measured', '–', '–'];
  });
  return table([a.lymphodepletionDate ? 'Before lymphodepletion' : 'Before day 0', 'Value', 'Date', 'Points'], rows);
}

/** The last five lab days of one count, with their CTCAE grade and whether a transfusion preceded them. */
function recentTable(a: Assessment, analyte: Analyte, thresholds: HospitalThresholds): string {
  const days = (a.series?.[analyte] ?? []).filter((d) => d.day >= 0).slice(-5);
  if (days.length === 0) return '';
  const term = (Object.keys(TERM_ANALYTE) as CtcaeTerm[]).find((k) => TERM_ANALYTE[k] === analyte);
  const unit = displayUnit(a.latest[analyte]?.unit ?? '');
  const noted = days.some((d) => d.transfusionSupported);
  const rows = days.map((d) => [
    d.date,
    dayLabel(d.day),
    fmtMeasured(d),
    ...(term
      ? [
          String(
            ctcaeGrade(d, d.lln ?? defaultLln(term, thresholds.values, a.sex), boundaries(term, thresholds.values)),
          ),
        ]
      : []),
    ...(noted
      ? [
          d.transfusionSupported
            ? `within ${plural(thresholds.values.recovery.transfusionFreeDays, 'day')} of a transfusion`
            : '',
        ]
      : []),
  ]);
  const header = [
    'Date',
    'Day',
    `${ANALYTE_LABELS[analyte] ?? analyte} (${unit})`,
    ...(term ? ['CTCAE grade'] : []),
    ...(noted ? ['Note'] : []),
  ];
  return `Recent values:\n\n${table(header, rows)}`;
}

const SUMMARIES: Record<Recommendation['kind'], (r: Recommendation, a: Assessment, t: HospitalThresholds) => string> = {
  'g-csf': (r, _a, t) =>
    `ANC ${valueOf(r)} on ${dayOf(r)}, ${r.lastTreatmentDay === undefined ? 'no G-CSF recorded' : `no G-CSF since ${dayLabel(r.lastTreatmentDay)}`}: consider filgrastim ${fmt(t.values.actions.filgrastimUgPerKg)} µg/kg/day`,
  'neutropenia-on-gcsf': (r) =>
    r.treatmentAfterValue
      ? `ANC ${valueOf(r)} on ${dayOf(r)}, G-CSF started after this count: repeat the count, work-up if it persists`
      : `ANC ${valueOf(r)} on ${dayOf(r)} despite G-CSF since ${dayLabel(r.recentTreatmentDays?.[0] ?? null)}: counts daily, work-up if it persists`,
  'g-csf-prophylaxis': (_r, a, t) =>
    `${hematotoxText(a)}: consider prophylactic G-CSF from day +${t.values.actions.gcsfProphylaxisStartDay}`,
  'red-cell-transfusion': (r) =>
    `Hb ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review irradiated red cell transfusion`,
  'platelet-transfusion': (r) =>
    `Platelets ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review irradiated platelet transfusion`,
  'ivig-review': (r) => `IgG ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review IVIG replacement`,
  'cytopenia-workup': (r, a, t) => {
    const landmark =
      r.threshold.unit === 'day'
        ? a.severeCytopenias
            .map((e) => ({ e, v: landmarkValue(a, e, r.threshold.value) }))
            // The lineage whose value around the landmark is severe: the one that makes PHT (severe-cytopenia.ts).
            .find((x) => x.v !== null && isSevere(x.v, x.e.threshold))
        : undefined;
    if (landmark?.v) {
      const label = ANALYTE_LABELS[TERM_ANALYTE[LINEAGE_TERM[landmark.e.lineage]]] ?? '';
      return `Severe cytopenia on day +${fmt(r.threshold.value)} (PHT): ${label} ${valueWithUnit(landmark.v)} on ${dayLabel(landmark.v.day)}; work up the cytopenia`;
    }
    if (r.threshold.unit === 'day')
      return `Severe cytopenia on day +${fmt(r.threshold.value)} (PHT): work up the cytopenia`;
    // The trigger the rule used (recommendations.ts cytopeniaWorkup): early ICAHT at the work-up grade, else late ICAHT.
    const e = a.icaht.early;
    const workupGrade = t.values.actions.workupIcahtGrade;
    if (e.grade === null || e.grade < workupGrade) {
      const late = a.icaht.late;
      const values = (late.confirmedBy ?? []).map((p) => `${valueWithUnit(p)} on ${dayLabel(p.day)}`).join(', ');
      return `Late ICAHT grade ${late.grade ?? ''}${values ? ` (ANC ${values})` : ''}: work up the cytopenia`;
    }
    if (e.grade === 4 && e.noRecovery)
      return `${capitalize(icahtText(a))}: no neutrophil recovery by ${dayLabel(e.noRecovery.throughDay)}; work up the cytopenia`;
    const n = t.values.counts.neutrophils;
    return `${capitalize(icahtText(a))} (ANC ≤ ${fmt(n.severe)} on ${plural(e.daysAnc500, 'day')}${e.daysAnc100 > 0 ? `, ≤ ${fmt(n.profound)} on ${plural(e.daysAnc100, 'day')}` : ''}): work up the cytopenia`;
  },
  'b-cell-recovery': (r, a) =>
    `B cells returned on ${dayLabel(a.bCellAplasia.lossDay)} after ${a.infusions.at(-1)?.product ?? 'CAR-T'}: review disease status (MRD)`,
};

/** The value nearest the PHT landmark (engine: persistentCytopenia.pht) of an episode that covers it. */
function landmarkValue(a: Assessment, e: SevereCytopenia, landmark: number): LandmarkValue | null {
  return coversDay(e, landmark) ? (a.persistentCytopenia.pht?.[LINEAGE_TERM[e.lineage]] ?? null) : null;
}

function workupTable(a: Assessment, thresholds: HospitalThresholds): string {
  const landmark = thresholds.values.pht.day;
  const rows = a.severeCytopenias.map((e) => {
    const analyte = TERM_ANALYTE[LINEAGE_TERM[e.lineage]];
    const near = landmarkValue(a, e, landmark);
    const latest = a.latest[analyte];
    const on = (day: number): string => `${dayLabel(day)}${a.infusionDate ? ` (${addDays(a.infusionDate, day)})` : ''}`;
    return [
      `${ANALYTE_LABELS[analyte] ?? analyte} < ${fmt(e.threshold)}`,
      // Wang 2021 tells severe cytopenia already present before the infusion from new-onset after it (spec §1).
      `${on(e.onsetDay)}, ${e.newOnset ? 'new after the infusion' : e.presentAtBaseline ? 'present at baseline' : 'before the infusion'}`,
      `${fmtMeasured(nadirOf(e))} on ${on(e.nadirDay)}`,
      near ? `${valueWithUnit(near)} (${dayLabel(near.day)})` : '–',
      latest ? `${valueWithUnit(latest)} (${dayLabel(latest.day)})` : '–',
      e.ongoing ? `ongoing, ${plural(e.durationDays, 'day')}` : `recovered ${dayLabel(e.recoveryDay)}`,
    ];
  });
  return rows.length > 0
    ? `Severe cytopenia episodes:\n\n${table(['Episode', 'Onset', 'Nadir', `Around day +${landmark}`, 'Latest', 'Status'], rows)}`
    : '';
}

const valueOf = (r: Recommendation): string => (r.values[0] ? valueWithUnit(r.values[0]) : '');
const dayOf = (r: Recommendation): string => dayLabel(r.values[0]?.day ?? null);

/** Card facts beyond the reason: the trend behind a count, the episodes behind a work-up, the score. */
function factsFor(r: Recommendation, a: Assessment, thresholds: HospitalThresholds): string[] {
  const analyte = r.values[0]?.analyte;
  switch (r.kind) {
    case 'cytopenia-workup':
      return [workupTable(a, thresholds)];
    case 'g-csf-prophylaxis':
      return [hematotoxTable(a)]; // the B-ALL caveat is among the recommendation's notes
    default:
      return analyte ? [recentTable(a, analyte, thresholds)] : [];
  }
}

function recommendationCard(r: Recommendation, a: Assessment, thresholds: HospitalThresholds, ctx: CardContext): Card {
  const threshold = thresholdText(r, thresholds.values.counts);
  const detail = [
    `**Why:** ${mdText(r.reason)}`,
    ...factsFor(r, a, thresholds),
    ...(r.notes.length > 0 ? [r.notes.map((n) => `- ${mdText(n)}`).join('\n')] : []),
    `**Threshold in force:** ${threshold} (${r.threshold.overridden ? 'hospital setting' : 'default'}). ${
      // A hospital setting rests on the hospital's source alone, not on the defaults'.
      r.alsoCited?.length && !r.threshold.overridden
        ? `**Sources:** ${[r.source, ...r.alsoCited].map(citation).join('; ')}.`
        : `**Source:** ${citation(r.source)}.`
    }`,
  ]
    .filter(Boolean)
    .join('\n\n');
  const uuid = stableUuid(ctx.serviceId, ctx.patientId, a.infusionDate, r.kind, r.evidence.join(',') || a.asOf);
  const card = baseCard(r.kind, uuid, SUMMARIES[r.kind](r, a, thresholds), r.urgency, detail, r.source, ctx);
  const suggestions = suggestionsFor(r, a, thresholds, uuid, ctx);
  return suggestions.length > 0
    ? { ...card, suggestions, selectionBehavior: r.kind === 'cytopenia-workup' ? 'any' : 'at-most-one' }
    : card;
}

function suggestionsFor(
  r: Recommendation,
  a: Assessment,
  thresholds: HospitalThresholds,
  cardUuid: string,
  ctx: CardContext,
): Suggestion[] {
  const s = (n: number): string => stableUuid(cardUuid, 'suggestion', n);
  const why = r.reason;
  const o = ctx.orderables ?? DEFAULT_ORDERABLES;
  const w = a.bodyWeight;
  // A weight reported as a bound (">150 kg") gives no dose in µg: the order stays per kg.
  const weight =
    w && w.unit === 'kg' && !w.comparator ? { kg: w.value, date: w.date, reference: w.reference } : undefined;
  const perKg = thresholds.values.actions.filgrastimUgPerKg;
  switch (r.kind) {
    case 'g-csf':
      return [
        createSuggestion(
          s(1),
          `Order filgrastim ${fmt(perKg)} µg/kg/day (draft)`,
          'Create a draft filgrastim order',
          filgrastimRequest(ctx.patientId, why, r.evidence, undefined, weight, perKg),
        ),
      ];
    case 'g-csf-prophylaxis': {
      const startDay = thresholds.values.actions.gcsfProphylaxisStartDay;
      const start = a.infusionDate ? addDays(a.infusionDate, startDay) : undefined;
      return [
        createSuggestion(
          s(1),
          `Order prophylactic filgrastim from day +${startDay} (draft)`,
          `Create a draft filgrastim order starting on day +${startDay}`,
          filgrastimRequest(ctx.patientId, why, r.evidence, start, weight, perKg),
        ),
      ];
    }
    case 'red-cell-transfusion':
      return [
        createSuggestion(
          s(1),
          'Order irradiated red cells (draft)',
          'Create a draft order for irradiated red cells',
          serviceRequest(ctx.patientId, o.redCells, why, r.evidence, [o.irradiated]),
        ),
      ];
    case 'platelet-transfusion':
      return [
        createSuggestion(
          s(1),
          'Order irradiated platelets (draft)',
          'Create a draft order for irradiated platelets',
          serviceRequest(ctx.patientId, o.platelets, why, r.evidence, [o.irradiated]),
        ),
      ];
    case 'ivig-review':
      return [
        createSuggestion(
          s(1),
          'Repeat serum IgG (draft)',
          'Create a draft order for serum IgG',
          serviceRequest(ctx.patientId, o.igg, why, r.evidence),
        ),
      ];
    case 'cytopenia-workup':
      return workupSuggestions(r, s, ctx.patientId, o);
    case 'neutropenia-on-gcsf':
    case 'b-cell-recovery':
      return [];
  }
}

/** The work-up of a cytopenia: marrow evaluation, viral PCR (four orders, one suggestion) and ferritin, as drafts. */
function workupSuggestions(
  r: Recommendation,
  s: (n: number) => string,
  patientId: string,
  o: Orderables,
): Suggestion[] {
  const why = r.reason;
  const viral = o.viralPcr.map((code) =>
    createSuggestion(
      '',
      '',
      `Create a draft order: ${code.text ?? ''}`,
      serviceRequest(patientId, code, why, r.evidence),
    ),
  );
  // What is recorded since the cytopenia began is not asked for again (the card says what it saw).
  const done = r.workupDone ?? {};
  return [
    ...(done.marrow
      ? []
      : [
          createSuggestion(
            s(1),
            'Bone marrow aspirate and biopsy (draft)',
            'Create a draft order for marrow evaluation',
            serviceRequest(patientId, o.marrow, why, r.evidence),
          ),
        ]),
    {
      label: `Viral PCR: ${o.viralPcr.map((c) => c.text ?? '').join(', ')} (drafts)`,
      uuid: s(2),
      actions: viral.flatMap((v) => v.actions ?? []),
    },
    ...(done.ferritin
      ? []
      : [
          createSuggestion(
            s(3),
            'Ferritin for HLH/MAS (draft)',
            'Create a draft ferritin order',
            serviceRequest(patientId, o.ferritin, why, r.evidence),
          ),
        ]),
  ];
}
