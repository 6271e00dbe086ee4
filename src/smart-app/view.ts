/**
 * The patient view once the record is assessed: the banner and summary first (summary.ts), then the
 * timeline and the panels. Re-rendered in place when the record is read again.
 */
import type { Patient } from 'fhir/r4.js';
import { ivigThreshold } from '../clinical/thresholds.js';
import type { Analyte, Assessment } from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import type { EngineContext } from './app-config.js';
import { laneSpecs } from './chart-common.js';
import { byId, h } from './dom.js';
import {
  crsPanel,
  ctcaePanel,
  dataQualityPanel,
  episodesPanel,
  eventsPanel,
  hematotoxPanel,
  icahtPanel,
  immunePanel,
} from './panels.js';
import { PRINT_CHART_WIDTH, setPrintHeader } from './print.js';
import { setStatus } from './status.js';
import { patientIdentity, type PatientIdentity } from './identity.js';
import { nowTiles, patientBanner, recommendationsSection } from './summary.js';
import { eventLegend, renderTimeline, type Timeline } from './timeline.js';
import { renderTrend } from './trend.js';

export interface View {
  assessment: Assessment;
  engine: EngineContext;
  who: PatientIdentity;
  timeline?: Timeline;
  rangeChoice: string;
  range: [number, number];
  extraLanes: Analyte[];
}

export interface ViewInput {
  assessment: Assessment;
  engine: EngineContext;
  patient: Patient | undefined;
  conditionsUnavailable: string | undefined;
  focus: string | undefined;
}

function rangeFor(choice: string, a: Assessment): [number, number] {
  const today = Math.max(a.dayPostInfusion ?? 0, 1);
  if (choice === 'today') return [-7, today + 1];
  return [-7, Number(choice)];
}

function drawTimeline(view: View): void {
  const a = view.assessment;
  const container = byId('timeline');
  view.timeline?.destroy();
  view.timeline = renderTimeline(
    container,
    a,
    view.engine.thresholds,
    laneSpecs(a, view.engine.thresholds, view.extraLanes),
    view.range,
  );
  container.dataset['range'] = view.range.join(',');
}

function readTime(): string {
  const d = new Date();
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function renderPanels(a: Assessment, engine: EngineContext, conditionsUnavailable: string | undefined): HTMLElement {
  const t = engine.thresholds;
  const panels = byId('panels');
  const trend = h('div', { class: 'trend' });
  panels.replaceChildren(
    icahtPanel(a, t),
    episodesPanel(a, t),
    ctcaePanel(a),
    hematotoxPanel(a),
    immunePanel(a, t, trend),
    crsPanel(a, conditionsUnavailable),
    eventsPanel(a),
    dataQualityPanel(a),
  );
  return trend;
}

function renderNoInfusion(a: Assessment): void {
  byId('summary').replaceChildren();
  byId('panels').replaceChildren(
    h(
      'section',
      { class: 'panel', 'data-testid': 'no-infusion' },
      h('h2', {}, 'No CAR-T infusion in this record'),
      h(
        'p',
        {},
        'No CAR-T product administration or infusion procedure was found, so there is no day 0 to grade against. ' +
          'The codes the app looks for are in fhir-profiles/ValueSet-car-t-product.json and ValueSet-car-t-infusion-procedure.json.',
      ),
    ),
    dataQualityPanel(a),
  );
  byId('timeline').replaceChildren();
  byId('legend').replaceChildren();
}

/** Draws (or redraws, after reading again) the whole view; returns its state. */
export function renderView(previous: View | undefined, input: ViewInput): View {
  const a = input.assessment;
  const who = patientIdentity(input.patient, a.patientId);
  const rangeChoice = previous?.rangeChoice ?? 'today';
  const view: View = {
    assessment: a,
    engine: input.engine,
    who,
    rangeChoice,
    range: rangeFor(rangeChoice, a),
    extraLanes: previous?.extraLanes ?? [],
  };
  previous?.timeline?.destroy();
  byId('patient').replaceChildren(patientBanner(who, a, readTime()));
  setPrintHeader(who);
  byId('page-actions').hidden = false;
  byId('view').hidden = false;
  byId('skip-link').hidden = false;
  if (a.infusionDate === null) {
    byId('toolbar').hidden = true;
    renderNoInfusion(a);
    setStatus('ready');
    return view;
  }
  byId('toolbar').hidden = false;
  byId('summary').replaceChildren(
    nowTiles(a, input.engine.thresholds),
    recommendationsSection(a, input.engine.thresholds),
  );
  const trend = renderPanels(a, input.engine, input.conditionsUnavailable);
  byId('legend').replaceChildren(...eventLegend(a));
  drawTimeline(view);
  const straddles = a.issues.some((i) => i.code === 'birth-date-partial'); // the engine's rule, said there
  const ivig = ivigThreshold(input.engine.thresholds.values, a.ageYears, straddles).value;
  const unit = displayUnit(a.latest.igg?.unit ?? 'mg/dL');
  renderTrend(trend, a.series?.igg ?? [], 'IgG', unit, { value: ivig, label: `IVIG < ${ivig}` }, a.latest.igg);
  if (input.focus) {
    const el = byId('summary').querySelector<HTMLElement>(`[data-kind="${CSS.escape(input.focus)}"]`);
    el?.classList.add('focused');
    el?.scrollIntoView({ block: 'nearest' });
  }
  setStatus('ready');
  return view;
}

export function wireControls(current: () => View, reload: () => void): void {
  const toolbar = byId('toolbar');
  for (const button of toolbar.querySelectorAll<HTMLButtonElement>('button[data-range]')) {
    button.addEventListener('click', () => {
      const v = current();
      v.rangeChoice = button.dataset['range'] ?? 'today';
      v.range = rangeFor(v.rangeChoice, v.assessment);
      v.timeline?.setRange(...v.range);
      byId('timeline').dataset['range'] = v.range.join(',');
      for (const b of toolbar.querySelectorAll('button[data-range]'))
        b.setAttribute('aria-pressed', String(b === button));
    });
  }
  for (const box of toolbar.querySelectorAll<HTMLInputElement>('input[data-lane]')) {
    box.addEventListener('change', () => {
      const v = current();
      const lane = box.dataset['lane'] as Analyte;
      v.extraLanes = box.checked ? [...v.extraLanes, lane] : v.extraLanes.filter((l) => l !== lane);
      drawTimeline(v);
    });
  }
  byId('print').addEventListener('click', () => window.print());
  byId('reload').addEventListener('click', reload);
  let width = byId('timeline').clientWidth;
  window.addEventListener('resize', () => {
    const now = byId('timeline').clientWidth;
    if (now !== width) {
      width = now;
      current().timeline?.resize(now);
    }
  });
  // Printed pages are narrower than the screen: draw for the page, then restore.
  window.addEventListener('beforeprint', () => {
    setPrintHeader(current().who);
    current().timeline?.print(true, PRINT_CHART_WIDTH);
  });
  window.addEventListener('afterprint', () => current().timeline?.print(false, byId('timeline').clientWidth));
}
