/**
 * The app page (index.html): completes the SMART launch (or, for the demo only, opens a patient of
 * the embedded FHIR server directly), reads the record with progress, runs the same engine as the
 * cards in the browser, and draws the timeline and the panels.
 */
import FHIR from 'fhirclient';
import type Client from 'fhirclient/lib/Client';
import type { FhirResource, Patient } from 'fhir/r4.js';
import { assess } from '../clinical/assess.js';
import { screenResources } from '../fhir/resource-schemas.js';
import { addDays, todayIn } from '../clinical/dates.js';
import { dayLabel } from '../clinical/format.js';
import type { Analyte, Assessment } from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import { ivigThreshold } from '../clinical/thresholds.js';
import { issuerAllowed, type SmartAppConfig } from '../smart-config.js';
import { demoFhirBase, engineContext, loadAppConfig, type EngineContext } from './app-config.js';
import { byId, h } from './dom.js';
import { describePath, FhirReadError, loadRecord, QUERY_LABELS, queryPaths, type QueryProgress } from './fhir-data.js';
import {
  crsPanel,
  ctcaePanel,
  dataQualityPanel,
  episodesPanel,
  eventsPanel,
  hematotoxPanel,
  icahtPanel,
  immunePanel,
  recommendationsPanel,
} from './panels.js';
import { setStatus, showError, UserFacingError } from './status.js';
import { EVENT_STYLE, laneSpecs, renderTimeline, renderTrend, type Timeline } from './timeline.js';
import './styles.css';

const DEMO_PATIENT_ID = /^[A-Za-z0-9\-.]{1,64}$/;

async function connect(config: SmartAppConfig): Promise<Client> {
  const params = new URLSearchParams(location.search);
  const demoPatient = params.get('patient');
  if (demoPatient !== null && !params.has('code') && !params.has('state')) {
    const base = demoFhirBase(config);
    if (!base) {
      throw new UserFacingError(
        'Opening a patient directly works only with the demo FHIR server.',
        'Launch the app from the EHR (or from launch.html).',
      );
    }
    if (!DEMO_PATIENT_ID.test(demoPatient))
      throw new UserFacingError('That is not a patient id.', 'Pick a demo patient from launch.html.');
    return FHIR.client({ serverUrl: base, tokenResponse: { patient: demoPatient } });
  }
  let client: Client;
  try {
    client = await FHIR.oauth2.ready();
  } catch (error) {
    throw new UserFacingError(
      `The SMART launch did not complete: ${(error as Error).message.split('\n')[0] ?? ''}`,
      'Open the app from the EHR, or start again from launch.html.',
    );
  }
  if (!issuerAllowed(client.state.serverUrl, config.allowedIssuers)) {
    sessionStorage.clear();
    throw new UserFacingError(
      `Refused: ${client.state.serverUrl} is not an allowed FHIR server.`,
      'The session was cleared.',
    );
  }
  return client;
}

function patientHeader(patient: Patient | undefined, a: Assessment): HTMLElement {
  const name = patient?.name?.[0];
  const display = name?.text ?? [name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
  return h(
    'div',
    {},
    h('strong', {}, display || `Patient ${a.patientId}`),
    ` · ${a.sex}${a.ageYears !== null ? `, ${a.ageYears} y` : ''}`,
    a.infusionDate
      ? ` · ${a.infusions.at(-1)?.product ?? 'CAR-T'} on ${a.infusionDate} · `
      : ' · no CAR-T infusion found · ',
    a.dayPostInfusion !== null ? h('strong', { 'data-testid': 'day' }, dayLabel(a.dayPostInfusion)) : null,
    ` (as of ${a.asOf})`,
  );
}

/** "12 read (2 pages) ✓", "3 read…" or "failed". */
function progressText(p: QueryProgress): string {
  if (p.state === 'failed') return 'failed';
  return `${p.resources} read${p.pages > 1 ? ` (${p.pages} pages)` : ''}${p.state === 'done' ? ' ✓' : '…'}`;
}

function progressView(progress: Map<string, QueryProgress>): HTMLElement {
  return h(
    'div',
    {},
    h('strong', {}, 'Reading the record…'),
    h(
      'ul',
      { class: 'progress', 'data-testid': 'progress' },
      ...[...progress.values()].map((p) =>
        h('li', { 'data-state': p.state }, `${QUERY_LABELS[p.key]}: ${progressText(p)}`),
      ),
    ),
  );
}

interface View {
  assessment: Assessment;
  engine: EngineContext;
  timeline?: Timeline;
  range: [number, number];
  extraLanes: Analyte[];
}

/** The calendar date of a day after the infusion. */
const dateOfDay =
  (a: Assessment) =>
  (day: number): string =>
    a.infusionDate ? addDays(a.infusionDate, day) : '';

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
    dateOfDay(a),
  );
  container.dataset['range'] = view.range.join(',');
}

function render(view: View, patient: Patient | undefined, focus: string | undefined): void {
  const a = view.assessment;
  byId('patient').replaceChildren(patientHeader(patient, a));
  const panels = byId('panels');
  const t = view.engine.thresholds;
  if (a.infusionDate === null) {
    panels.replaceChildren(
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
    byId('view').hidden = false;
    setStatus('ready');
    return;
  }
  const igg = a.series?.igg ?? [];
  const ivig = ivigThreshold(t.values, a.ageYears).value;
  const trend = h('div', {});
  panels.replaceChildren(
    recommendationsPanel(a, t),
    icahtPanel(a, t),
    episodesPanel(a, t),
    ctcaePanel(a),
    hematotoxPanel(a),
    immunePanel(a, t, trend),
    ...[crsPanel(a)].filter((p): p is HTMLElement => p !== null),
    eventsPanel(a),
    dataQualityPanel(a),
  );
  byId('legend').replaceChildren(
    ...Object.values(EVENT_STYLE)
      .filter((s) => s.code !== 'CRS')
      .map((s) => h('span', { class: 'legend-item' }, h('b', {}, s.code), ` ${s.label}`)),
    h('span', { class: 'legend-item' }, 'Shading: CTCAE grade 1–4; dashed red: severe threshold'),
  );
  byId('toolbar').hidden = false;
  byId('view').hidden = false;
  drawTimeline(view);
  renderTrend(
    trend,
    igg,
    'IgG',
    displayUnit(a.latest.igg?.unit ?? 'mg/dL'),
    { value: ivig, label: `IVIG review < ${ivig}` },
    dateOfDay(a),
  );
  if (focus) {
    const el = panels.querySelector<HTMLElement>(`[data-kind="${CSS.escape(focus)}"]`);
    el?.classList.add('focused');
    el?.scrollIntoView({ block: 'center' });
  }
  setStatus('ready');
}

function wireToolbar(view: View): void {
  for (const button of byId('toolbar').querySelectorAll<HTMLButtonElement>('button[data-range]')) {
    button.addEventListener('click', () => {
      view.range = rangeFor(button.dataset['range'] ?? 'today', view.assessment);
      view.timeline?.setRange(...view.range);
      byId('timeline').dataset['range'] = view.range.join(',');
      for (const b of byId('toolbar').querySelectorAll('button[data-range]'))
        b.setAttribute('aria-pressed', String(b === button));
    });
  }
  for (const box of byId('toolbar').querySelectorAll<HTMLInputElement>('input[data-lane]')) {
    box.addEventListener('change', () => {
      const lane = box.dataset['lane'] as Analyte;
      view.extraLanes = box.checked ? [...view.extraLanes, lane] : view.extraLanes.filter((l) => l !== lane);
      drawTimeline(view);
    });
  }
  byId('print').addEventListener('click', () => window.print());
  let width = byId('timeline').clientWidth;
  window.addEventListener('resize', () => {
    const now = byId('timeline').clientWidth;
    if (now !== width) {
      width = now;
      view.timeline?.resize(now);
    }
  });
  // Printed pages are narrower than the screen: draw for the page, then restore.
  window.addEventListener('beforeprint', () => view.timeline?.resize(680));
  window.addEventListener('afterprint', () => view.timeline?.resize(byId('timeline').clientWidth));
}

/** The card that opened the app may name a recommendation to focus (CDS Hooks link appContext). */
function focusOf(client: Client): string | undefined {
  const appContext = (client.state.tokenResponse as { appContext?: unknown } | undefined)?.appContext;
  if (typeof appContext !== 'string') return undefined;
  try {
    const focus = (JSON.parse(appContext) as { focus?: unknown }).focus;
    return typeof focus === 'string' ? focus : undefined;
  } catch {
    return undefined;
  }
}

async function load(client: Client, config: SmartAppConfig, engine: EngineContext, patientId: string): Promise<void> {
  const today = todayIn(engine.timeZone);
  const progress = new Map<string, QueryProgress>();
  setStatus('loading', progressView(progress));
  let resources: FhirResource[];
  try {
    resources = await loadRecord(client, queryPaths(config, patientId, today), (p) => {
      progress.set(p.key, p);
      setStatus('loading', progressView(progress));
    });
  } catch (error) {
    const retry = (): void => void load(client, config, engine, patientId);
    if (error instanceof FhirReadError) {
      const request = `Request: ${describePath(error.path)}. Check the connection or the EHR, then retry.`;
      showError(new UserFacingError(`Could not read the record. ${error.message}`, request), retry);
    } else showError(error, retry);
    return;
  }
  setStatus('loading', `Assessing ${resources.length} resources…`);
  // The record is hostile input too: resources without the shape the engine reads are left out and listed.
  const screened = screenResources(resources);
  const assessment = assess(screened.resources, {
    ...engine,
    asOf: today,
    patientId,
    includeSeries: true,
    inputIssues: screened.issues,
  });
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
  const view: View = { assessment, engine, range: rangeFor('today', assessment), extraLanes: [] };
  render(view, patient, focusOf(client));
  wireToolbar(view);
}

async function main(): Promise<void> {
  setStatus('loading', 'Reading the app configuration…');
  const config = await loadAppConfig();
  const engine = engineContext(config);
  const client = await connect(config);
  const patientId = client.getPatientId();
  if (!patientId)
    throw new UserFacingError('The launch did not name a patient.', 'Open the app from a patient chart in the EHR.');
  await load(client, config, engine, patientId);
}

main().catch((e: unknown) => showError(e));
