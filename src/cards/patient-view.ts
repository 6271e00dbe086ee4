/**
 * Assessment → patient-view cards: a summary card (ICAHT, day post infusion, CAR-HEMATOTOX) and
 * one card per recommendation of docs/clinical-logic.md §10. Each card says what it saw (values and
 * dates), why it advises, the threshold in force and its source. No CAR-T infusion, no cards.
 */
import type { Card, Suggestion } from '../cds-hooks/schemas.js';
import { ctcaeGrade, defaultLln } from '../clinical/ctcae.js';
import type { HospitalThresholds, Thresholds } from '../clinical/thresholds.js';
import { SOURCES } from '../clinical/thresholds.js';
import type {
  Analyte,
  Assessment,
  CtcaeTerm,
  LandmarkValue,
  Recommendation,
  SevereCytopenia,
} from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import { addDays } from '../clinical/dates.js';
import {
  ANALYTE_LABELS,
  bCellText,
  capitalize,
  cd4cd8Text,
  HEMATOTOX_LABELS,
  hematotoxScoreText,
  phtText,
  severeName,
  TERM_ANALYTE,
  thresholdText,
} from '../clinical/format.js';
import { LINEAGE_TERM } from '../clinical/severe-cytopenia.js';
import {
  baseCard,
  countsTable,
  dayLabel,
  fmt,
  plural,
  stableUuid,
  table,
  valueWithUnit,
  withUnreadDataNote,
  type CardContext,
} from './common.js';
import { CODES, createSuggestion, filgrastimRequest, IRRADIATED, serviceRequest } from './suggestions.js';

export function patientViewCards(a: Assessment, thresholds: HospitalThresholds, ctx: CardContext): Card[] {
  if (a.dayPostInfusion === null || a.dayPostInfusion < 0 || a.dayPostInfusion > thresholds.values.actions.followUpDays)
    return [];
  return withUnreadDataNote(
    [...a.recommendations.map((r) => recommendationCard(r, a, thresholds, ctx)), summaryCard(a, thresholds, ctx)],
    a,
  );
}

function icahtText(a: Assessment): string {
  const e = a.icaht.early;
  if (e.grade === null) return 'early ICAHT not gradable (no ANC)';
  return `early ICAHT grade ${e.atLeast ? '≥' : ''}${e.grade}${e.complete ? '' : ' so far'}`;
}

const hematotoxText = (a: Assessment): string => `CAR-HEMATOTOX ${hematotoxScoreText(a.hematotox)}`;

function summaryCard(a: Assessment, thresholds: HospitalThresholds, ctx: CardContext): Card {
  const day = a.dayPostInfusion ?? 0;
  const summary = `CAR-T ${dayLabel(day)}: ${icahtText(a)}; ${hematotoxText(a)}`;
  const detail = [
    `**${dayLabel(day)[0]?.toUpperCase()}${dayLabel(day).slice(1)} after ${a.infusions.at(-1)?.product ?? 'CAR-T'}** (infused ${a.infusionDate ?? ''}), assessed ${a.asOf}.`,
    countsTable(a),
    icahtParagraph(a, thresholds.values),
    `**Severe cytopenia:** ${episodeText(a)}`,
    `**Prolonged toxicity (day ${thresholds.values.pht.day}):** ${phtText(a, thresholds.values)}.`,
    `**${hematotoxText(a)}** from values before lymphodepletion:\n\n${hematotoxTable(a)}\n\n${a.hematotox.caveat}`,
    `**Immune reconstitution:** ${immuneText(a, thresholds.values)}`,
    ...(a.crs.crs.grade !== null || a.crs.tocilizumab.given ? [crsParagraph(a)] : []),
    ...dataNotes(a),
    `Sources: ${SOURCES.ehaEbmt.label}; ${SOURCES.ctcae.label}; ${SOURCES.seed002.label}. Rules: docs/clinical-logic.md.`,
  ].join('\n\n');
  return baseCard(
    'hematotoxicity-summary',
    stableUuid(ctx.serviceId, ctx.patientId, a.infusionDate, 'summary', a.asOf),
    summary,
    'info',
    detail,
    SOURCES.ehaEbmt,
    ctx,
  );
}

function hematotoxTable(a: Assessment): string {
  const h = a.hematotox;
  const rows = (Object.keys(HEMATOTOX_LABELS) as (keyof typeof HEMATOTOX_LABELS)[]).map((k) => {
    const c = h.components[k];
    return c
      ? [HEMATOTOX_LABELS[k], valueWithUnit(c), c.date, String(c.points)]
      : [HEMATOTOX_LABELS[k], 'not measured', '–', '–'];
  });
  return table(['', 'Value', 'Date', 'Points'], rows);
}

/** ICAHT early (with the day counts behind it), late, T-ICAHT and the neutrophil recovery phenotype. */
function icahtParagraph(a: Assessment, t: Thresholds): string {
  const early = t.icaht.early;
  const counts =
    `ANC ≤ ${fmt(early.anc500)} on ${plural(a.icaht.early.daysAnc500, 'day')}, ` +
    `≤ ${fmt(early.anc100)} on ${plural(a.icaht.early.daysAnc100, 'day')} in days 0–${early.lastDay}`;
  const tIcaht = a.icaht.thrombocytopenia;
  return (
    `**EHA/EBMT ICAHT:** ${icahtText(a)} (${counts}); late ICAHT ${a.icaht.late.grade ?? '–'}; ` +
    `thrombocytopenia (T-ICAHT) early ${tIcaht.early.grade ?? '–'}, late ${tIcaht.late.grade ?? '–'}. ` +
    `Neutrophil recovery: ${a.icaht.phenotype ?? 'not yet known'}.`
  );
}

/** CRS grade, tocilizumab and corticosteroids with their first day, and the associations found. */
function crsParagraph(a: Assessment): string {
  const { crs, tocilizumab, corticosteroids, associations } = a.crs;
  const toci = tocilizumab.given ? `; tocilizumab from ${dayLabel(tocilizumab.firstDay)}` : '';
  const steroids = corticosteroids.given ? `; corticosteroids from ${dayLabel(corticosteroids.firstDay)}` : '';
  const found = associations.map((x) => `\n- ${x.finding}: ${x.association} (${x.source.label})`).join('');
  return `**CRS:** grade ${crs.grade ?? '–'}${toci}${steroids}.${found}`;
}

function episodeText(a: Assessment): string {
  if (a.severeCytopenias.length === 0) return 'none.';
  return a.severeCytopenias
    .map(
      (e) =>
        `severe ${severeName(e.lineage, e.threshold)} from ${dayLabel(e.onsetDay)}` +
        `${e.newOnset ? '' : ' (present before infusion)'}, nadir ${fmt(e.nadir)} on ${dayLabel(e.nadirDay)}, ` +
        (e.ongoing
          ? `ongoing (${plural(e.durationDays, 'day')})`
          : `recovered ${dayLabel(e.recoveryDay)} (${plural(e.durationDays, 'day')})`),
    )
    .join('; ')
    .concat('.');
}

function immuneText(a: Assessment, t: Thresholds): string {
  const g = a.immunoglobulins.IgG;
  const parts = [
    g.latest
      ? `IgG ${valueWithUnit(g.latest)} on ${dayLabel(g.latest.day)}${g.changePct !== null ? ` (${g.changePct > 0 ? '+' : ''}${g.changePct}% vs baseline)` : ''}`
      : 'IgG not measured',
    bCellText(a.bCellAplasia, t),
    cd4cd8Text(a.cd4cd8, t),
  ];
  return `${parts.join('; ')}.`;
}

function dataNotes(a: Assessment): string[] {
  const counts = new Map<string, number>();
  for (const i of a.issues) counts.set(i.code, (counts.get(i.code) ?? 0) + 1);
  const ignored = Object.entries(a.ignoredObservations).map(([status, n]) => `${n} ${status}`);
  if (counts.size === 0 && ignored.length === 0) return [];
  const notes = a.issues
    .filter((i) => i.code === 'data-gap' || i.code === 'stale-data' || i.code === 'unit-unreadable')
    .slice(0, 5)
    .map((i) => `- ${i.message}`);
  return [
    `**Data notes:** ${[...counts.entries()].map(([c, n]) => `${n} × ${c}`).join(', ')}${ignored.length ? `; not used by status: ${ignored.join(', ')}` : ''}.\n${notes.join('\n')}`.trim(),
  ];
}

function recentTable(a: Assessment, analyte: Analyte, thresholds: HospitalThresholds): string {
  const days = (a.series?.[analyte] ?? []).filter((d) => d.day >= 0).slice(-5);
  if (days.length === 0) return '';
  const term = (Object.keys(TERM_ANALYTE) as CtcaeTerm[]).find((k) => TERM_ANALYTE[k] === analyte);
  const unit = displayUnit(a.latest[analyte]?.unit ?? '');
  const rows = days.map((d) => [
    d.date,
    dayLabel(d.day),
    fmt(d.value),
    term
      ? String(ctcaeGrade(d.value, d.lln ?? defaultLln(term, thresholds.values, a.sex), thresholds.values.ctcae[term]))
      : '–',
    d.transfusionSupported ? 'after transfusion' : '',
  ]);
  return `Recent values:\n\n${table(['Date', 'Day', `${ANALYTE_LABELS[analyte] ?? analyte} (${unit})`, 'CTCAE', ''], rows)}`;
}

const SUMMARIES: Record<Recommendation['kind'], (r: Recommendation, a: Assessment, t: HospitalThresholds) => string> = {
  'g-csf': (r, a) =>
    r.recentTreatmentDays?.length
      ? `ANC ${valueOf(r)} on ${dayOf(r)} (${icahtText(a)}) despite G-CSF on ${r.recentTreatmentDays.map(dayLabel).join(', ')}`
      : `ANC ${valueOf(r)} on ${dayOf(r)} (${icahtText(a)}): consider G-CSF`,
  'g-csf-prophylaxis': (_r, a, t) =>
    `${hematotoxText(a)} on ${dayLabel(a.dayPostInfusion)}: consider prophylactic G-CSF from day +${t.values.actions.gcsfProphylaxisStartDay}`,
  'red-cell-transfusion': (r) =>
    `Hb ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review irradiated red cell transfusion`,
  'platelet-transfusion': (r) =>
    `Platelets ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review irradiated platelet transfusion`,
  'ivig-review': (r) => `IgG ${valueOf(r)} on ${dayOf(r)} (below ${fmt(r.threshold.value)}): review IVIG replacement`,
  'cytopenia-workup': (r, a, t) => {
    const landmark =
      r.threshold.unit === 'day'
        ? a.severeCytopenias.map((e) => ({ e, v: landmarkValue(a, e, r.threshold.value) })).find((x) => x.v !== null)
        : undefined;
    if (landmark?.v) {
      const label = ANALYTE_LABELS[TERM_ANALYTE[LINEAGE_TERM[landmark.e.lineage]]] ?? '';
      return `Severe cytopenia on day +${fmt(r.threshold.value)} (PHT): ${label} ${valueWithUnit(landmark.v)} on ${dayLabel(landmark.v.day)}; work up the cytopenia`;
    }
    const e = a.icaht.early;
    const early = t.values.icaht.early;
    return `${capitalize(icahtText(a))} (ANC ≤ ${fmt(early.anc500)} on ${plural(e.daysAnc500, 'day')}${e.daysAnc100 > 0 ? `, ≤ ${fmt(early.anc100)} on ${e.daysAnc100}` : ''}) on ${dayLabel(a.dayPostInfusion)}: work up the cytopenia`;
  },
};

/** The value nearest the PHT landmark (engine: persistentCytopenia.pht) of an episode that covers it. */
function landmarkValue(a: Assessment, e: SevereCytopenia, landmark: number): LandmarkValue | null {
  const covers = e.onsetDay <= landmark && (e.recoveryDay === null || e.recoveryDay > landmark);
  return covers ? (a.persistentCytopenia.pht?.[LINEAGE_TERM[e.lineage]] ?? null) : null;
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
      on(e.onsetDay),
      `${fmt(e.nadir)} on ${on(e.nadirDay)}`,
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

function recommendationCard(r: Recommendation, a: Assessment, thresholds: HospitalThresholds, ctx: CardContext): Card {
  const analyte = r.values[0]?.analyte;
  const threshold = thresholdText(r, thresholds.values.severe);
  const detail = [
    `**Why:** ${r.reason}`,
    `**Threshold in force:** ${threshold} (${r.threshold.overridden ? 'hospital setting' : 'default'}; ${r.source.label}).`,
    ...(analyte ? [recentTable(a, analyte, thresholds)] : []),
    ...(r.kind === 'cytopenia-workup' ? [workupTable(a, thresholds), recentTable(a, 'anc', thresholds)] : []),
    ...(r.kind === 'g-csf-prophylaxis'
      ? [`CAR-HEMATOTOX before lymphodepletion (${a.hematotox.baselineBefore ?? 'day 0'}):\n\n${hematotoxTable(a)}`]
      : []),
    ...(r.notes.length > 0 ? [r.notes.map((n) => `- ${n}`).join('\n')] : []),
    ...(r.evidence.length > 0 ? [`Evidence: ${r.evidence.join(', ')}`] : []),
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
  switch (r.kind) {
    case 'g-csf':
      // Not when G-CSF was given in the last days: the note says so and a new order would duplicate it.
      if (r.recentTreatmentDays?.length) return [];
      return [
        createSuggestion(
          s(1),
          'Order filgrastim 5 µg/kg/day (draft)',
          'Create a draft filgrastim order',
          filgrastimRequest(ctx.patientId, why, r.evidence),
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
          filgrastimRequest(ctx.patientId, why, r.evidence, start),
        ),
      ];
    }
    case 'red-cell-transfusion':
      return [
        createSuggestion(
          s(1),
          'Order irradiated red cells (draft)',
          'Create a draft order for irradiated red cells',
          serviceRequest(ctx.patientId, CODES.redCells, why, r.evidence, [IRRADIATED]),
        ),
      ];
    case 'platelet-transfusion':
      return [
        createSuggestion(
          s(1),
          'Order irradiated platelets (draft)',
          'Create a draft order for irradiated platelets',
          serviceRequest(ctx.patientId, CODES.platelets, why, r.evidence, [IRRADIATED]),
        ),
      ];
    case 'ivig-review':
      return [
        createSuggestion(
          s(1),
          'Repeat serum IgG (draft)',
          'Create a draft order for serum IgG',
          serviceRequest(ctx.patientId, CODES.igg, why, r.evidence),
        ),
      ];
    case 'cytopenia-workup':
      return workupSuggestions(r, s, ctx);
  }
}

/** The work-up of a cytopenia: marrow evaluation, viral studies and ferritin (HLH/MAS), as drafts. */
function workupSuggestions(r: Recommendation, s: (n: number) => string, ctx: CardContext): Suggestion[] {
  const why = r.reason;
  return [
    createSuggestion(
      s(1),
      'Bone marrow aspirate and biopsy (draft)',
      'Create a draft order for marrow evaluation',
      serviceRequest(ctx.patientId, CODES.marrow, why, r.evidence),
    ),
    createSuggestion(
      s(2),
      'Viral PCR: CMV, EBV, parvovirus B19, HHV-6 (draft)',
      'Create a draft order for viral studies',
      serviceRequest(ctx.patientId, CODES.viral, why, r.evidence),
    ),
    createSuggestion(
      s(3),
      'Ferritin for HLH/MAS (draft)',
      'Create a draft ferritin order',
      serviceRequest(ctx.patientId, CODES.ferritin, why, r.evidence),
    ),
  ];
}
