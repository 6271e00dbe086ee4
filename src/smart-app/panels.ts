/**
 * The panels beside the timeline: recommendations (the cards' advice, with sources), ICAHT,
 * CAR-HEMATOTOX, current CTCAE grades, severe cytopenia episodes, immunoglobulins, B and T cells,
 * CRS, events and the data-quality notes. Everything shows its values and dates; what could not be
 * judged says so instead of showing a grade.
 */
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Assessment, CtcaeTerm } from '../clinical/types.js';
import {
  ANALYTE_LABELS,
  bCellText,
  capitalize,
  cd4cd8Text,
  dayLabel,
  fmt,
  HEMATOTOX_LABELS,
  hematotoxScoreText,
  phtText,
  plural,
  RECOMMENDATION_TITLES,
  severeName,
  TERM_ANALYTE,
  thresholdText,
  valueWithUnit,
} from '../clinical/format.js';
import { h, link, table, type Child } from './dom.js';
import { EVENT_STYLE, eventRuns } from './timeline.js';

function panel(id: string, title: string, ...children: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    ...children,
  );
}

const testValue = (testid: string, text: string): HTMLElement => h('strong', { 'data-testid': testid }, text);

export function recommendationsPanel(a: Assessment, t: HospitalThresholds): HTMLElement {
  if (a.recommendations.length === 0) {
    const none = h(
      'p',
      { 'data-testid': 'no-recommendations' },
      'None of the rules advises an action today. The counts and grades are below.',
    );
    return panel('recommendations', 'Recommendations', none);
  }
  const items = a.recommendations.map((r) =>
    h(
      'li',
      {
        class: `recommendation ${r.urgency}`,
        'data-testid': 'recommendation',
        'data-kind': r.kind,
        'data-urgency': r.urgency,
      },
      h(
        'div',
        { class: 'rec-head' },
        h('span', { class: `badge ${r.urgency}` }, r.urgency),
        ' ',
        h('strong', {}, RECOMMENDATION_TITLES[r.kind]),
      ),
      h('p', {}, r.reason),
      h(
        'p',
        { class: 'small' },
        `Threshold in force: ${thresholdText(r, t.values.severe)} (${r.threshold.overridden ? 'hospital setting' : 'default'}). Source: `,
        link(r.source.label, r.source.url),
      ),
      r.notes.length > 0 ? h('ul', { class: 'notes' }, ...r.notes.map((n) => h('li', {}, n))) : null,
    ),
  );
  return panel('recommendations', 'Recommendations', h('ul', { class: 'recommendations' }, ...items));
}

function gradeText(grade: number | null, atLeast: boolean, complete: boolean): string {
  if (grade === null) return 'not gradable';
  return `${atLeast ? '≥ ' : ''}${grade}${complete ? '' : ' (so far)'}`;
}

export function icahtPanel(a: Assessment, t: HospitalThresholds): HTMLElement {
  const v = t.values;
  const e = a.icaht.early;
  const tp = a.icaht.thrombocytopenia;
  const gaps = e.dataGaps.map((g) => `${dayLabel(g.fromDay)}–${dayLabel(g.toDay)}`);
  const late = a.icaht.late.grade;
  const beforeLate = a.dayPostInfusion !== null && a.dayPostInfusion < v.icaht.late.firstDay;
  const lateGrade = late === null ? (beforeLate ? `from day +${v.icaht.late.firstDay}` : 'not gradable') : String(late);
  return panel(
    'icaht',
    'EHA/EBMT ICAHT',
    table(
      ['', 'Grade', 'Basis'],
      [
        [
          `Early (days 0–${v.icaht.early.lastDay})`,
          testValue('icaht-early-grade', gradeText(e.grade, e.atLeast, e.complete)),
          `ANC ≤ ${fmt(v.icaht.early.anc500)} on ${plural(e.daysAnc500, 'day')}, ≤ ${fmt(v.icaht.early.anc100)} on ${plural(e.daysAnc100, 'day')}`,
        ],
        [
          `Late (from day +${v.icaht.late.firstDay})`,
          testValue('icaht-late-grade', lateGrade),
          a.icaht.late.nadir
            ? `lowest confirmed ANC ${valueWithUnit(a.icaht.late.nadir)} on ${dayLabel(a.icaht.late.nadir.day)}`
            : a.icaht.late.grade === null && (a.dayPostInfusion ?? 0) >= v.icaht.late.firstDay
              ? `needs ${v.icaht.late.confirmations} consecutive ANC values from day +${v.icaht.late.firstDay}`
              : '–',
        ],
        [
          'Thrombocytopenia, early',
          testValue('ticaht-early-grade', gradeText(tp.early.grade, tp.early.atLeast, tp.early.complete)),
          `PLT < ${fmt(v.icaht.thrombocytopenia.early50)} on ${plural(tp.early.daysBelow50, 'day')}, ` +
            `< ${fmt(v.icaht.thrombocytopenia.early20)} on ${plural(tp.early.daysBelow20, 'day')}`,
        ],
        [
          'Thrombocytopenia, late',
          String(tp.late.grade ?? '–'),
          `days ${v.icaht.late.firstDay}–${v.icaht.thrombocytopenia.lateLastDay}`,
        ],
      ],
    ),
    h('p', {}, 'Neutrophil recovery: ', testValue('phenotype', a.icaht.phenotype ?? 'not yet known')),
    gaps.length > 0
      ? h(
          'p',
          { class: 'warning-text', 'data-testid': 'icaht-gaps' },
          `ANC not measured on ${gaps.join(', ')}: the grade could be higher (shown as ≥).`,
        )
      : null,
  );
}

export function hematotoxPanel(a: Assessment): HTMLElement {
  const x = a.hematotox;
  const rows = (Object.keys(HEMATOTOX_LABELS) as (keyof typeof HEMATOTOX_LABELS)[]).map((k) => {
    const c = x.components[k];
    return c
      ? [HEMATOTOX_LABELS[k], valueWithUnit(c), c.date, String(c.points)]
      : [HEMATOTOX_LABELS[k], h('span', { class: 'missing' }, 'not measured'), '–', '–'];
  });
  return panel(
    'hematotox',
    'CAR-HEMATOTOX',
    h(
      'p',
      {},
      'Score: ',
      testValue('hematotox-score', hematotoxScoreText(x)),
      x.baselineBefore ? ` — values before ${x.baselineBefore}` : '',
    ),
    table(['', 'Value', 'Date', 'Points'], rows),
    h('p', { class: 'small' }, x.caveat, ' Source: ', link(x.source.label, x.source.url)),
  );
}

export function ctcaePanel(a: Assessment): HTMLElement {
  const rows = (Object.keys(TERM_ANALYTE) as CtcaeTerm[]).map((term) => {
    const c = a.ctcae[term];
    return [
      ANALYTE_LABELS[TERM_ANALYTE[term]] ?? term,
      c.latestValue
        ? `${valueWithUnit(c.latestValue)} (${c.latestValue.date}, ${dayLabel(c.latestValue.day)})`
        : h('span', { class: 'missing' }, 'no value since day 0'),
      h('span', { 'data-testid': `ctcae-latest-${term}` }, c.latest === null ? '–' : String(c.latest)),
      c.worstValue ? `${c.worst ?? '–'} (${fmt(c.worstValue.value)} on ${dayLabel(c.worstValue.day)})` : '–',
    ];
  });
  return panel('ctcae', 'CTCAE v5.0 grades', table(['', 'Latest value', 'Latest grade', 'Worst since day 0'], rows));
}

export function episodesPanel(a: Assessment, t: HospitalThresholds): HTMLElement {
  const pht = phtText(a, t.values);
  const rows = a.severeCytopenias.map((e) => [
    capitalize(severeName(e.lineage, e.threshold)),
    `${dayLabel(e.onsetDay)}${e.newOnset ? '' : ' (before infusion)'}`,
    `${fmt(e.nadir)} on ${dayLabel(e.nadirDay)}`,
    e.ongoing ? h('span', { class: 'warning-text' }, 'ongoing') : dayLabel(e.recoveryDay),
    plural(e.durationDays, 'day'),
  ]);
  return panel(
    'episodes',
    'Severe cytopenia (Wang et al., Front Oncol 2021; CIBMTR)',
    rows.length > 0
      ? table(['Episode', 'Onset', 'Nadir', 'Recovery', 'Duration'], rows, { 'data-testid': 'episodes' })
      : h('p', { 'data-testid': 'episodes' }, 'No severe cytopenia since the infusion.'),
    h('p', {}, `Prolonged hematologic toxicity (severe cytopenia on day ${t.values.pht.day}): `, testValue('pht', pht)),
  );
}

export function immunePanel(a: Assessment, t: HospitalThresholds, trend: HTMLElement): HTMLElement {
  const g = a.immunoglobulins.IgG;
  const ig = (['IgG', 'IgA', 'IgM'] as const).map((name) => {
    const r = a.immunoglobulins[name];
    return [
      name,
      r.baseline ? `${valueWithUnit(r.baseline)} (${r.baseline.date})` : '–',
      r.latest
        ? `${valueWithUnit(r.latest)} (${r.latest.date}, ${dayLabel(r.latest.day)})`
        : h('span', { class: 'missing' }, 'not measured'),
      r.changePct === null ? '–' : `${r.changePct > 0 ? '+' : ''}${r.changePct}%`,
    ];
  });
  return panel(
    'immune',
    'Immune reconstitution',
    table(['', 'Baseline', 'Latest', 'Change'], ig),
    h('div', { class: 'trend', 'aria-label': 'IgG over time with the IVIG threshold' }, trend),
    g.decline ? h('p', { class: 'warning-text' }, 'IgG has declined from baseline.') : null,
    h('p', {}, 'B cells: ', testValue('b-cells', bCellText(a.bCellAplasia, t.values))),
    h('p', {}, 'T cells: ', testValue('cd4cd8', cd4cd8Text(a.cd4cd8, t.values))),
  );
}

export function crsPanel(a: Assessment): HTMLElement | null {
  const c = a.crs;
  if (c.crs.grade === null && !c.tocilizumab.given && !c.corticosteroids.given) return null;
  return panel(
    'crs',
    'CRS and its treatment',
    h(
      'p',
      {},
      `CRS grade ${c.crs.grade ?? '–'}${c.crs.onsetDay !== null ? ` from ${dayLabel(c.crs.onsetDay)}` : ''}`,
      c.tocilizumab.given ? `; tocilizumab ×${c.tocilizumab.doses} from ${dayLabel(c.tocilizumab.firstDay)}` : '',
      c.corticosteroids.given
        ? `; corticosteroids ×${c.corticosteroids.doses} from ${dayLabel(c.corticosteroids.firstDay)}`
        : '',
    ),
    c.associations.length > 0
      ? h(
          'ul',
          { class: 'notes' },
          ...c.associations.map((x) =>
            h('li', {}, `${x.finding}: ${x.association} (`, link(x.source.label, x.source.url), ')'),
          ),
        )
      : null,
  );
}

export function eventsPanel(a: Assessment): HTMLElement {
  const rows = eventRuns(a.events ?? []).map((r) => [
    r.fromDay === r.toDay ? r.fromDate : `${r.fromDate} – ${r.toDate}`,
    r.fromDay === r.toDay ? dayLabel(r.fromDay) : `${dayLabel(r.fromDay)} to ${r.toDay >= 0 ? '+' : ''}${r.toDay}`,
    h('span', { class: 'event' }, EVENT_STYLE[r.kind].code),
    `${r.display || EVENT_STYLE[r.kind].label}${r.count > 1 ? ` (${r.count}×)` : ''}`,
  ]);
  return panel(
    'events',
    'Events',
    rows.length > 0
      ? table(['Date', 'Day', '', 'What'], rows, { 'data-testid': 'events' })
      : h('p', {}, 'No events recorded.'),
  );
}

export function dataQualityPanel(a: Assessment): HTMLElement {
  const byCode = new Map<string, string[]>();
  for (const i of a.issues) byCode.set(i.code, [...(byCode.get(i.code) ?? []), i.message]);
  const ignored = Object.entries(a.ignoredObservations);
  const items: Child[] = [...byCode.entries()].map(([code, messages]) =>
    h(
      'li',
      { 'data-testid': 'data-issue', 'data-code': code },
      h('strong', {}, `${code} (${messages.length})`),
      h(
        'ul',
        {},
        ...messages.slice(0, 8).map((m) => h('li', {}, m)),
        messages.length > 8 ? h('li', {}, `… ${messages.length - 8} more`) : null,
      ),
    ),
  );
  if (ignored.length > 0) {
    const text = `Not used because of their status: ${ignored.map(([s, n]) => `${n} ${s}`).join(', ')}`;
    items.push(h('li', { 'data-testid': 'data-issue', 'data-code': 'status-ignored' }, text));
  }
  const body =
    items.length > 0
      ? h('ul', { class: 'issues' }, ...items)
      : h('p', { 'data-testid': 'no-data-issues' }, 'No problems found in the data read.');
  return panel('data-quality', 'Data quality', body);
}
