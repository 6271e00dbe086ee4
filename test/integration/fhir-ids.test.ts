/**
 * A patient id is an id, whatever it looks like: `Patient/JohnSmith` is a Patient read, its answer
 * the patient's data, and no log line or error names the id. Before, an id of letters starting
 * with a capital was taken for the resource type: the Patient read became a "JohnSmith search",
 * the Patient answered was refused as "not a Bundle", and that reason, id included, was logged.
 */
import type { MedicationAdministration, Observation, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { FhirAccessError, FhirGateway, ReadBudget } from '../../src/fhir/gateway.js';
import { buildTestApp, hookRequest, listenDuringTests } from '../helpers/app.js';
import { anc, infusion } from '../helpers/fhir.js';
import { hostileFhir, type HostileFhirServer } from '../helpers/hostile-fhir.js';
import { fakeServer } from '../helpers/servers.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
/** FHIR R4 id: [A-Za-z0-9\-.]{1,64}. */
const fhirId = fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/);

describe('patient-view for patient "JohnSmith", read from fhirServer', () => {
  const ID = 'JohnSmith';
  const { app, logs } = buildTestApp();
  const listening = listenDuringTests(app);
  let fhir: HostileFhirServer;
  const of = <T extends Observation | MedicationAdministration>(r: T): T => ({
    ...r,
    subject: { reference: `Patient/${ID}` },
  });
  const patient: Patient = { resourceType: 'Patient', id: ID, gender: 'male', birthDate: '1961-04-02' };
  beforeAll(async () => {
    fhir = await hostileFhir({
      resources: [patient, of(infusion(0)), of(anc(1, 0.3)), of(anc(2, 0.2))],
    });
  });
  afterAll(async () => {
    await fhir.close();
  });

  test('the Patient read is used, and no log line names the patient', async () => {
    const res = await fetch(`${listening.url()}${SERVICE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(hookRequest('patient-view', ID, { fhirServer: fhir.baseUrl })),
    });
    expect(res.status).toBe(200);
    const cards = JSON.stringify(((await res.json()) as { cards: unknown[] }).cards);
    expect(cards).toContain('ANC 0.2');
    expect(cards).not.toContain('Patient could not be read');
    expect(fhir.requests.map((r) => r.url)).toContain(`/fhir/Patient/${ID}`);
    expect(logs.text).toContain('request served');
    expect(logs.text).not.toContain(ID);
  });
});

describe('FhirGateway reads Patient/{id} as a Patient read for any FHIR id', () => {
  /** What the fake server answers a read with: the Patient read, an Observation, or a 404. */
  let answer: 'patient' | 'observation' | 'not-found' = 'patient';
  let server: Awaited<ReturnType<typeof fakeServer>>;
  beforeAll(async () => {
    server = await fakeServer((req, res) => {
      const id = decodeURIComponent((req.url ?? '').replace(/^\/fhir\/Patient\//, ''));
      const body =
        answer === 'patient'
          ? { resourceType: 'Patient', id }
          : answer === 'observation'
            ? { resourceType: 'Observation', id, status: 'final', code: {} }
            : { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: id }] };
      res.writeHead(answer === 'not-found' ? 404 : 200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(body));
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const gateway = (): FhirGateway =>
    new FhirGateway({
      baseUrl: `${server.url}/fhir`,
      signal: AbortSignal.timeout(5000),
      maxPages: 5,
      maxResponseBytes: 1_048_576,
      budget: new ReadBudget(64 * 1_048_576),
    });

  /** The error a read of Patient/{id} fails with, or the resources it gives. */
  async function readPatient(id: string): Promise<unknown> {
    try {
      return await gateway().fetchAll(`Patient/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof FhirAccessError) return error.message;
      throw error;
    }
  }

  test.each<['patient' | 'observation' | 'not-found', (id: string) => unknown]>([
    ['patient', (id) => [{ resourceType: 'Patient', id }]],
    ['observation', () => 'fhirServer answered Patient read with an Observation, not a Patient'],
    ['not-found', () => 'fhirServer answered 404 to Patient read'],
  ])('answered with %s: the outcome names the type, never the id', async (kind, expected) => {
    answer = kind;
    await fc.assert(
      fc.asyncProperty(fhirId, async (id) => {
        // `.` and `..` would read the base itself: refused before any request, as before.
        const outcome = /^\.{1,2}$/.test(id)
          ? 'refused to fetch Patient read: it resolves outside fhirServer'
          : expected(id);
        expect(await readPatient(id)).toEqual(outcome);
      }),
      { numRuns: 150 },
    );
  });
});
