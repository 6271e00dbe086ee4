/**
 * The app page (index.html): completes the SMART launch (or, for the demo only, opens a patient of
 * the embedded FHIR server directly), reads the record with progress, runs the same engine as the
 * cards in the browser, and draws the summary, the timeline and the panels.
 */
import FHIR from 'fhirclient';
import type Client from 'fhirclient/lib/Client';
import type { FhirResource } from 'fhir/r4.js';
import { assess } from '../clinical/assess.js';
import { medicationsToRead } from '../clinical/record.js';
import type { AssessmentIssue } from '../clinical/types.js';
import { screenResources } from '../fhir/resource-schemas.js';
import { todayIn } from '../clinical/dates.js';
import { issuerAllowed, type AppQueryKey, type SmartAppConfig } from '../smart-config.js';
import { demoFhirBase, engineContext, loadAppConfig, type EngineContext } from './app-config.js';
import { byId } from './dom.js';
import {
  describePath,
  FhirReadError,
  loadRecord,
  readMedications,
  queryPaths,
  type LoadedRecord,
  type QueryProgress,
} from './fhir-data.js';
import { launchedPatient } from './identity.js';
import { progressView } from './progress.js';
import { maySearch, SessionEnded } from './session.js';
import { requireSessionStorage, setStatus, showError, UserFacingError } from './status.js';
import { renderView, wireControls, type View } from './view.js';
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

interface Session {
  client: Client;
  config: SmartAppConfig;
  engine: EngineContext;
  patientId: string;
  view?: View;
}

/** Reads the record (Conditions only when granted); a failure is shown with what to do about it. */
async function read(s: Session): Promise<{ record: LoadedRecord; conditionsUnavailable?: string } | undefined> {
  const paths: Partial<Record<AppQueryKey, string>> = queryPaths(s.config, s.patientId, todayIn(s.engine.timeZone));
  const conditionsGranted = maySearch(s.client, 'Condition', s.client.state.scope ?? s.config.scopes.ehr);
  if (!conditionsGranted) delete paths.conditions;
  const progress = new Map<string, QueryProgress>();
  setStatus('loading', progressView(progress));
  try {
    const record = await loadRecord(
      s.client,
      paths,
      (p) => {
        progress.set(p.key, p);
        setStatus('loading', progressView(progress));
      },
      ['conditions'],
    );
    const why = conditionsGranted
      ? record.unavailable.conditions
      : 'the EHR did not grant the scope patient/Condition.rs';
    return why ? { record, conditionsUnavailable: why } : { record };
  } catch (error) {
    for (const id of ['view', 'page-actions', 'skip-link']) byId(id).hidden = true;
    if (error instanceof SessionEnded) showError(error);
    else if (error instanceof FhirReadError) {
      const request = `Request: ${describePath(error.path)}. Check the connection or the EHR, then retry.`;
      showError(new UserFacingError(`Could not read the record. ${error.message}`, request), () => void load(s));
    } else showError(error, () => void load(s));
    return undefined;
  }
}

/**
 * The Medications the administrations name by reference and the record does not hold, read as the
 * cards read them (by `_id`), so that the app sees the same CAR-T product and G-CSF doses. One that
 * cannot be read, or a scope not granted, is a note; the engine names each administration left unknown.
 * Undefined when the session ended (already shown).
 */
async function namedMedications(
  s: Session,
  resources: readonly FhirResource[],
): Promise<{ resources: FhirResource[]; issues: AssessmentIssue[] } | undefined> {
  const keys = medicationsToRead(resources);
  if (keys.length === 0) return { resources: [], issues: [] };
  const unavailable = (why: string): { resources: FhirResource[]; issues: AssessmentIssue[] } => ({
    resources: [],
    issues: [
      {
        severity: 'warning',
        code: 'data-unavailable',
        message: `the Medications the patient's administrations name could not be read (${why})`,
      },
    ],
  });
  if (!maySearch(s.client, 'Medication', s.client.state.scope ?? s.config.scopes.ehr))
    return unavailable('the EHR did not grant the scope patient/Medication.rs');
  setStatus(
    'loading',
    `Reading the ${keys.length === 1 ? 'Medication' : `${keys.length} Medications`} the administrations name…`,
  );
  try {
    return await readMedications(s.client, keys);
  } catch (error) {
    if (error instanceof SessionEnded) {
      showError(error);
      return undefined;
    }
    return unavailable(error instanceof FhirReadError ? error.detail : 'the read failed');
  }
}

/**
 * The FHIR server answered the Patient read with another patient: nothing of the record is shown,
 * no name or MRN, neither the other person's nor a banner left from an earlier read.
 */
function refuseOtherPatient(s: Session, other: string): void {
  for (const id of ['view', 'page-actions', 'skip-link']) byId(id).hidden = true;
  byId('patient').replaceChildren();
  showError(
    new UserFacingError(
      `The FHIR server answered Patient/${s.patientId} with a different patient (${other}): nothing is shown.`,
      'Tell the EHR’s support team. Retry, or open the app again from the patient’s chart.',
    ),
    () => void load(s),
  );
}

async function load(s: Session): Promise<void> {
  const result = await read(s);
  if (!result) return;
  const identity = launchedPatient(result.record.patientRead, s.patientId);
  if ('otherPatient' in identity) return refuseOtherPatient(s, identity.otherPatient);
  const { resources } = result.record;
  // The record is hostile input too: resources without the shape the engine reads are left out and listed.
  const screened = screenResources(resources);
  screened.issues.push(...result.record.issues);
  const medications = await namedMedications(s, screened.resources);
  if (!medications) return;
  const screenedMedications = screenResources(medications.resources);
  screened.resources.push(...screenedMedications.resources);
  screened.issues.push(...screenedMedications.issues, ...medications.issues);
  setStatus('loading', `Assessing ${screened.resources.length} resources…`);
  const assessment = assess(screened.resources, {
    ...s.engine,
    asOf: todayIn(s.engine.timeZone),
    asOfIsToday: true,
    patientId: s.patientId,
    includeSeries: true,
    inputIssues: screened.issues,
  });
  const first = s.view === undefined;
  s.view = renderView(s.view, {
    assessment,
    engine: s.engine,
    patient: identity.patient,
    conditionsUnavailable: result.conditionsUnavailable,
    focus: first ? focusOf(s.client) : undefined,
  });
  if (first)
    wireControls(
      () => s.view as View,
      () => void load(s),
    );
}

async function main(): Promise<void> {
  requireSessionStorage();
  setStatus('loading', 'Reading the app configuration…');
  const config = await loadAppConfig();
  const engine = engineContext(config);
  const client = await connect(config);
  const patientId = client.getPatientId();
  if (!patientId)
    throw new UserFacingError('The launch did not name a patient.', 'Open the app from a patient chart in the EHR.');
  await load({ client, config, engine, patientId });
}

main().catch((e: unknown) => showError(e));
