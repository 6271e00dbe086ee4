/**
 * What the first screen answers before any chart: who the patient is (name, birth date,
 * identifier, product, day after infusion), how they are now (latest ANC, platelets and hemoglobin
 * with their dates and CTCAE grades; ICAHT and T-ICAHT), and what to do (the recommendations, most
 * urgent first, each with its reason; threshold, source and notes one click away).
 */
import {
  ageText,
  dayLabel,
  fmt,
  phenotypeShort,
  RECOMMENDATION_TITLES,
  thresholdText,
  valueWithUnit,
} from '../clinical/format.js';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Analyte, Assessment, CtcaeTerm, Recommendation } from '../clinical/types.js';
import { h, link, type Child } from './dom.js';
import type { PatientIdentity } from './identity.js';

/** The banner: name, birth date and age, sex, identifier, product and infusion date, day after infusion. */
export function patientBanner(who: PatientIdentity, a: Assessment, readAt: string): HTMLElement {
  const sep = (): HTMLElement => h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · ');
  const infusion = a.infusions.at(-1);
  return h(
    'div',
    { class: 'banner' },
    h('strong', { class: 'patient-name', 'data-testid': 'patient-name' }, who.name),
    sep(),
    h(
      'span',
      { 'data-testid': 'birth-date' },
      who.birthDate ? `born ${who.birthDate}` : 'birth date not recorded',
      a.ageYears !== null ? ` (${ageText(a.ageYears, who.birthDate, a.asOf)}, ${a.sex})` : ` (${a.sex})`,
    ),
    who.identifier ? sep() : null,
    who.identifier ? h('span', { 'data-testid': 'identifier' }, who.identifier) : null,
    h('br', {}),
    a.infusionDate
      ? h('span', { 'data-testid': 'product' }, `${infusion?.product ?? 'CAR-T'} infused ${a.infusionDate}`)
      : h('span', {}, 'no CAR-T infusion found'),
    sep(),
    a.dayPostInfusion !== null
      ? h('strong', { class: 'day', 'data-testid': 'day' }, dayLabel(a.dayPostInfusion))
      : null,
    h('span', { class: 'muted' }, ` (as of ${a.asOf}; record read ${readAt})`),
  );
}

const TILE_TERMS: [Analyte, CtcaeTerm, string][] = [
  ['anc', 'neutrophils', 'ANC'],
  ['platelets', 'platelets', 'Platelets'],
  ['hemoglobin', 'hemoglobin', 'Hemoglobin'],
];

function countTile(a: Assessment, analyte: Analyte, term: CtcaeTerm, label: string): HTMLElement {
  const latest = a.latest[analyte];
  const grade = a.ctcae[term].latest;
  return h(
    'div',
    { class: `tile${grade !== null && grade >= 3 ? ' severe' : ''}`, 'data-testid': `latest-${analyte}` },
    h('span', { class: 'tile-label' }, label),
    latest
      ? h('span', { class: 'tile-value' }, valueWithUnit(latest))
      : h('span', { class: 'tile-value missing' }, 'not measured'),
    latest
      ? h('span', { class: 'tile-date' }, `${latest.date}${latest.day !== null ? `, ${dayLabel(latest.day)}` : ''}`)
      : null,
    h(
      'span',
      { class: 'tile-grade' },
      'CTCAE grade ',
      h('strong', { 'data-testid': `ctcae-latest-${term}` }, grade === null ? '–' : String(grade)),
    ),
  );
}

function gradeText(grade: number | null, atLeast: boolean, complete: boolean): string {
  if (grade === null) return 'not gradable';
  return `${atLeast ? '≥ ' : ''}${grade}${complete ? '' : ' (so far)'}`;
}

function icahtTile(a: Assessment, t: HospitalThresholds): HTMLElement {
  const e = a.icaht.early;
  const tp = a.icaht.thrombocytopenia.early;
  const firstLate = t.values.icaht.earlyLastDay + 1;
  const late =
    a.icaht.late.grade !== null
      ? String(a.icaht.late.grade)
      : (a.dayPostInfusion ?? 0) < firstLate
        ? `from day +${firstLate}`
        : 'not gradable';
  return h(
    'div',
    { class: `tile icaht${(e.grade ?? 0) >= 3 ? ' severe' : ''}`, 'data-testid': 'now-icaht' },
    h('span', { class: 'tile-label' }, 'EHA/EBMT ICAHT'),
    h(
      'span',
      { class: 'tile-value' },
      'Early ',
      h('strong', { 'data-testid': 'icaht-early-grade' }, gradeText(e.grade, e.atLeast, e.complete)),
      ' · late ',
      h('strong', { 'data-testid': 'icaht-late-grade' }, late),
    ),
    h(
      'span',
      { class: 'tile-date' },
      'T-ICAHT early ',
      h('strong', { 'data-testid': 'ticaht-early-grade' }, gradeText(tp.grade, tp.atLeast, tp.complete)),
    ),
    h(
      'span',
      { class: 'tile-grade' },
      'Neutrophil recovery: ',
      h('strong', { 'data-testid': 'phenotype' }, phenotypeShort(a.icaht.phenotype)),
    ),
  );
}

/** Latest counts with dates and grades, and the current ICAHT grades. */
export function nowTiles(a: Assessment, t: HospitalThresholds): HTMLElement {
  return h(
    'section',
    { class: 'now', 'aria-label': 'Latest counts and ICAHT', 'data-testid': 'now' },
    ...TILE_TERMS.map(([analyte, term, label]) => countTile(a, analyte, term, label)),
    icahtTile(a, t),
  );
}

const URGENCY_ORDER: Record<Recommendation['urgency'], number> = { critical: 0, warning: 1, info: 2 };

function recommendationItem(r: Recommendation, t: HospitalThresholds): HTMLElement {
  const details: Child[] = [
    h(
      'p',
      { class: 'small' },
      `Threshold in force: ${thresholdText(r, t.values.counts)} (${r.threshold.overridden ? 'hospital setting' : 'default'}). Source: `,
      link(r.source.label, r.source.url),
    ),
    r.notes.length > 0 ? h('ul', { class: 'notes' }, ...r.notes.map((n) => h('li', {}, n))) : null,
  ];
  return h(
    'li',
    {
      class: `recommendation ${r.urgency}`,
      'data-testid': 'recommendation',
      'data-kind': r.kind,
      'data-urgency': r.urgency,
    },
    h(
      'p',
      { class: 'rec-head' },
      h('span', { class: `badge ${r.urgency}` }, r.urgency),
      ' ',
      h('strong', {}, RECOMMENDATION_TITLES[r.kind]),
    ),
    h('p', { class: 'rec-reason' }, r.reason),
    h('details', { class: 'rec-details' }, h('summary', {}, 'Threshold, source and notes'), ...details),
  );
}

/** The recommendations, most urgent first (the engine's order within one urgency). */
export function recommendationsSection(a: Assessment, t: HospitalThresholds): HTMLElement {
  const sorted = a.recommendations
    .map((r, i) => ({ r, i }))
    .sort((x, y) => URGENCY_ORDER[x.r.urgency] - URGENCY_ORDER[y.r.urgency] || x.i - y.i)
    .map(({ r }) => r);
  return h(
    'section',
    { class: 'recommendations-section', id: 'recommendations', 'aria-labelledby': 'recommendations-title' },
    h('h2', { id: 'recommendations-title' }, 'Recommendations'),
    sorted.length > 0
      ? h('ul', { class: 'recommendations' }, ...sorted.map((r) => recommendationItem(r, t)))
      : h(
          'p',
          { 'data-testid': 'no-recommendations' },
          `None of the rules advises an action today (severe thresholds: ANC < ${fmt(t.values.counts.neutrophils.severe)}, ` +
            `platelets < ${fmt(t.values.counts.platelets.severe)}, Hb < ${fmt(t.values.counts.hemoglobin.severe)} g/L).`,
        ),
  );
}
