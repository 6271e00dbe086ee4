/**
 * The panels beside the timeline: recommendations (the cards' advice, with sources), ICAHT,
 * CAR-HEMATOTOX, current CTCAE grades, severe cytopenia episodes, immunoglobulins, B and T cells,
 * CRS, events and the data-quality notes. Everything shows its values and dates; what could not be
 * judged says so instead of showing a grade.
 */
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Assessment, CtcaeTerm, IssueCode } from '../clinical/types.js';
import { nadirOf } from '../clinical/severe-cytopenia.js';
import {
  ANALYTE_LABELS,
  bCellText,
  capitalize,
  cd4cd8Text,
  changeText,
  dayLabel,
  fmt,
  fmtMeasured,
  HEMATOTOX_LABELS,
  hematotoxScoreText,
  ISSUE_TITLES,
  phenotypeShort,
  phtText,
  plural,
  severeName,
  TERM_ANALYTE,
  valueWithUnit,
} from '../clinical/format.js';
import { h, link, table, type Child } from './dom.js';
import { EVENT_STYLE, eventRuns } from './chart-common.js';

function panel(id: string, title: string, ...children: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    ...children,
  );
}

const testValue = (testid: string, text: string): HTMLElement => h('strong', { 'data-testid': testid }, text);

function gradeText(grade: number | null, atLeast: boolean, complete: boolean): string {
  if (grade === null) return 'not gradable';
  return `${atLeast ? '≥ ' : ''}${grade}${complete ? '' : ' (so far)'}`;
}

export function icahtPanel(a: Assessment, t: HospitalThresholds): HTMLElement {
  const v = t.values;
  const n = v.counts.neutrophils;
  const e = a.icaht.early;
  const tp = a.icaht.thrombocytopenia;
  const gaps = e.dataGaps.map((g) => `${dayLabel(g.fromDay)}–${dayLabel(g.toDay)}`);
  const late = a.icaht.late.grade;
  const firstLate = v.icaht.earlyLastDay + 1;
  const beforeLate = a.dayPostInfusion !== null && a.dayPostInfusion < firstLate;
  const lateGrade = late === null ? (beforeLate ? `from day +${firstLate}` : 'not gradable') : String(late);
  const censoring = a.icaht.censoring;
  return panel(
    'icaht',
    'EHA/EBMT ICAHT',
    table(
      ['', 'Grade', 'Basis'],
      [
        [
          `Early (days 0–${v.icaht.earlyLastDay})`,
          gradeText(e.grade, e.atLeast, e.complete),
          `ANC ≤ ${fmt(n.severe)} on ${plural(e.daysAnc500, 'day')}, ≤ ${fmt(n.profound)} on ${plural(e.daysAnc100, 'day')}` +
            (e.noRecovery
              ? e.grade === 4
                ? `; no neutrophil recovery from ${dayLabel(e.noRecovery.sinceDay)} through ${dayLabel(e.noRecovery.throughDay)}`
                : e.complete
                  ? ''
                  : `; no recovery since ${dayLabel(e.noRecovery.sinceDay)}: grade 4 if none by day +${v.icaht.earlyLastDay}`
              : ''),
        ],
        [
          `Late (from day +${firstLate})`,
          lateGrade,
          a.icaht.late.nadir
            ? `lowest confirmed ANC ${valueWithUnit(a.icaht.late.nadir)} on ${dayLabel(a.icaht.late.nadir.day)}`
            : late === null && !beforeLate
              ? `needs ${v.icaht.lateConfirmations} ANC values from day +${firstLate} (${a.icaht.late.measurements} so far)`
              : '–',
        ],
        [
          'Thrombocytopenia, early',
          gradeText(tp.early.grade, tp.early.atLeast, tp.early.complete),
          `PLT < ${fmt(v.counts.platelets.ctcaeGrade3)} on ${plural(tp.early.daysBelow50, 'day')}, ` +
            `< ${fmt(v.counts.platelets.severe)} on ${plural(tp.early.daysBelow20, 'day')}`,
        ],
        ['Thrombocytopenia, late', String(tp.late.grade ?? '–'), `days ${firstLate}–${v.icaht.lateTIcahtLastDay}`],
      ],
    ),
    censoring
      ? h(
          'p',
          { class: 'warning-text' },
          `Counting stopped after ${dayLabel(censoring.lastCountedDay)} (${censoring.reason.replaceAll('-', ' ')} on ${censoring.date}).`,
        )
      : null,
    h('p', {}, 'Neutrophil recovery: ', h('strong', {}, phenotypeShort(a.icaht.phenotype))),
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
      c.latest === null ? '–' : String(c.latest),
      c.worstValue ? `${c.worst ?? '–'} (${fmtMeasured(c.worstValue)} on ${dayLabel(c.worstValue.day)})` : '–',
    ];
  });
  return panel('ctcae', 'CTCAE v5.0 grades', table(['', 'Latest value', 'Latest grade', 'Worst since day 0'], rows));
}

export function episodesPanel(a: Assessment, t: HospitalThresholds): HTMLElement {
  const pht = phtText(a, t.values);
  const rows = a.severeCytopenias.map((e) => [
    capitalize(severeName(e.lineage, e.threshold)),
    `${dayLabel(e.onsetDay)}${e.newOnset ? '' : ' (before infusion)'}`,
    `${fmtMeasured(nadirOf(e))} on ${dayLabel(e.nadirDay)}`,
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
      changeText(r),
    ];
  });
  return panel(
    'immune',
    'Immune reconstitution',
    table(['', 'Baseline', 'Latest', 'Change'], ig),
    h('div', { class: 'trend', 'aria-label': 'IgG over time with the IVIG threshold' }, trend),
    g.decline
      ? h(
          'p',
          { class: 'warning-text' },
          g.changeComparator === '>' || g.changeComparator === '>='
            ? 'IgG has declined from baseline by its number; reported as a bound, the true fall may be smaller.'
            : 'IgG has declined from baseline.',
        )
      : null,
    h('p', {}, 'B cells: ', testValue('b-cells', bCellText(a.bCellAplasia, t.values))),
    h('p', {}, 'T cells: ', testValue('cd4cd8', cd4cd8Text(a.cd4cd8, t.values))),
  );
}

/**
 * CRS and its treatment. `conditionsUnavailable` says why CRS diagnoses (Conditions) could not be
 * read (scope not granted, or the read failed): a CRS grade recorded only as a Condition is then
 * missing here although the cards show it, and the panel says so.
 */
export function crsPanel(a: Assessment, conditionsUnavailable: string | undefined): HTMLElement {
  const c = a.crs;
  const treated = [
    c.tocilizumab.given ? `tocilizumab ×${c.tocilizumab.doses} from ${dayLabel(c.tocilizumab.firstDay)}` : null,
    c.corticosteroids.given
      ? `corticosteroids ×${c.corticosteroids.doses} from ${dayLabel(c.corticosteroids.firstDay)}`
      : null,
  ].filter((x): x is string => x !== null);
  const grade =
    c.crs.grade !== null
      ? `CRS grade ${c.crs.grade}${c.crs.onsetDay !== null ? ` from ${dayLabel(c.crs.onsetDay)}` : ''}`
      : conditionsUnavailable
        ? 'CRS grade: not available'
        : 'No CRS recorded';
  return panel(
    'crs',
    'CRS and its treatment',
    h('p', { 'data-testid': 'crs-grade' }, grade, treated.length > 0 ? `; ${treated.join('; ')}` : ''),
    conditionsUnavailable
      ? h(
          'p',
          { class: 'warning-text', 'data-testid': 'crs-unavailable' },
          `CRS diagnoses (Conditions) could not be read: ${conditionsUnavailable}. ` +
            'A CRS grade recorded only as a diagnosis is not shown here; the CDS cards show it.',
        )
      : null,
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
      h('strong', {}, `${ISSUE_TITLES[code as IssueCode] ?? code} (${messages.length})`),
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
