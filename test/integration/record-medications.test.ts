/**
 * Administrations recorded against a formulary Medication (medicationReference, as EHRs that code
 * them by reference send them): the service reads the Medications the prefetch did not include from
 * fhirServer, in one search by _id, so the CAR-T infusion and G-CSF doses are seen. Over real HTTP,
 * against a demo FHIR server that holds only the Medications. The test app's today is 2026-11-22.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { Bundle, FhirResource, MedicationAdministration } from 'fhir/r4.js';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { ORDER_SIGN_ID } from '../../cds-services/order-sign-hematotox.js';
import { draftOrders, transfusionOrder } from '../helpers/orders.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { cardKind } from '../../src/shared/card-kind.js';
import { DemoFhirServer } from '../../src/demo/fhir-server.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { serveFhir, type TestFhirServer } from '../helpers/servers.js';
import { MEDICATION_READ_SHARE } from '../../cds-services/draft-orders.js';
import { IDS_PER_SEARCH } from '../../src/fhir/medication-search.js';

const PATIENT = 'p-by-reference';
const searchset = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});
const given = (id: string, reference: string, date: string): MedicationAdministration => ({
  resourceType: 'MedicationAdministration',
  id,
  status: 'completed',
  medicationReference: { reference },
  subject: { reference: `Patient/${PATIENT}` },
  effectiveDateTime: `${date}T10:00:00Z`,
});
/** ANC 0.2 ×10⁹/L today, day +5 after an infusion on 2026-11-17. */
const anc: FhirResource = {
  resourceType: 'Observation',
  id: 'anc-today',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] },
  subject: { reference: `Patient/${PATIENT}` },
  effectiveDateTime: '2026-11-22T08:00:00Z',
  valueQuantity: { value: 0.2, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' },
};

/** patient-view's prefetch keys: the patient, today's ANC, `administrations` (and any Medication given with them). */
const prefetchWith = (...administrations: FhirResource[]): Record<string, unknown> => ({
  patient: { resourceType: 'Patient', id: PATIENT, gender: 'female', birthDate: '1990-01-01' },
  observations: searchset(anc),
  medicationAdministrations: searchset(...administrations),
  procedures: searchset(),
  conditions: searchset(),
});

let fhir: TestFhirServer;
let t: TestApp;

/** A demo FHIR server holding only the Medications kymriah-1 and filgrastim-1. */
async function medicationServer(): Promise<DemoFhirServer> {
  const server = new DemoFhirServer();
  await server.load({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      // NDC 0078-0846-19: tisagenlecleucel (car-t-product); RxNorm 68442: filgrastim (g-csf).
      {
        resourceType: 'Medication',
        id: 'kymriah-1',
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
      },
      {
        resourceType: 'Medication',
        id: 'filgrastim-1',
        code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '68442' }] },
      },
    ].map((resource) => ({
      resource: resource as FhirResource,
      request: { method: 'PUT' as const, url: `Medication/${resource.id}` },
    })),
  });
  return server;
}

beforeAll(async () => {
  const server = await medicationServer();
  fhir = await serveFhir(server);
  t = buildTestApp();
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

async function patientView(administrations: MedicationAdministration[], fhirServer?: string): Promise<Card[]> {
  const body = hookRequest('patient-view', PATIENT, {
    ...(fhirServer ? { fhirServer } : {}),
    prefetch: prefetchWith(...administrations),
  });
  const res = await request(t.app).post(`/cds-services/${PATIENT_VIEW_ID}`).send(body).expect(200);
  return (res.body as { cards: Card[] }).cards;
}

const medicationSearches = (): string[] =>
  fhir.requests.filter((r) => r.url.includes('/Medication')).map((r) => r.url.replace(/^.*\/demo\/fhir\//, ''));

describe('patient-view: Medications named by administrations are read from fhirServer', () => {
  test('the CAR-T product by reference sets day 0: the G-CSF card on day +5, after one search for the Medication', async () => {
    fhir.requests.length = 0;
    const cards = await patientView([given('ma-car-t', 'Medication/kymriah-1', '2026-11-17')], fhir.baseUrl);
    expect(cards.find((c) => cardKind(c) === 'g-csf')).toMatchObject({
      indicator: 'critical',
      summary: 'ANC 0.2 ×10⁹/L on day +5, no G-CSF recorded: consider filgrastim 5 µg/kg/day',
    });
    expect(medicationSearches()).toEqual(['Medication?_id=kymriah-1&_count=50']);
  });

  test('a G-CSF dose by reference is counted: no G-CSF card; both Medications in one search', async () => {
    fhir.requests.length = 0;
    const cards = await patientView(
      [
        given('ma-car-t', 'Medication/kymriah-1', '2026-11-17'),
        given('ma-g', 'https://ehr.example.org/fhir/Medication/filgrastim-1', '2026-11-21'),
      ],
      fhir.baseUrl,
    );
    expect(cards.map(cardKind)).not.toContain('g-csf');
    expect(cards.map(cardKind)).toContain('hematotoxicity-summary');
    expect(medicationSearches()).toEqual(['Medication?_id=kymriah-1,filgrastim-1&_count=50']);
  });

  test('a Medication fhirServer does not have: the G-CSF card says a dose may be among the unread', async () => {
    const cards = await patientView(
      [
        given('ma-car-t', 'Medication/kymriah-1', '2026-11-17'),
        given('ma-x', 'Medication/not-on-server', '2026-11-21'),
      ],
      fhir.baseUrl,
    );
    const card = cards.find((c) => cardKind(c) === 'g-csf');
    expect(card?.detail).toContain(
      '1 MedicationAdministration record could not be read: a G-CSF dose among them would not be counted here. Check the chart before ordering.',
    );
    expect(card?.detail).toContain(
      '**Data not used:** 1 record names a drug that could not be identified and was left out: MedicationAdministration/ma-x (Medication/not-on-server was not in the data received).',
    );
  });

  test(`61 Medications named: two searches of at most ${IDS_PER_SEARCH} ids, run side by side; the product among them is found`, async () => {
    fhir.requests.length = 0;
    const others = Array.from({ length: 60 }, (_, i) => given(`ma-${i}`, `Medication/m-${i}`, '2026-11-20'));
    const cards = await patientView([given('ma-car-t', 'Medication/kymriah-1', '2026-11-17'), ...others], fhir.baseUrl);
    const searches = medicationSearches();
    expect(searches.map((url) => new URLSearchParams(url.split('?')[1]).get('_id')?.split(',').length)).toEqual([
      50, 11,
    ]);
    expect(searches[0]).toMatch(/^Medication\?_id=kymriah-1,m-0,m-1,/);
    expect(cards.map(cardKind)).toContain('g-csf');
  });

  test('Medications the prefetch includes are not read again', async () => {
    fhir.requests.length = 0;
    const kymriah = {
      resourceType: 'Medication',
      id: 'kymriah-1',
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
    } as FhirResource;
    const body = hookRequest('patient-view', PATIENT, {
      fhirServer: fhir.baseUrl,
      prefetch: prefetchWith(given('ma-car-t', 'Medication/kymriah-1', '2026-11-17'), kymriah),
    });
    const res = await request(t.app).post(`/cds-services/${PATIENT_VIEW_ID}`).send(body).expect(200);
    expect((res.body as { cards: Card[] }).cards.map(cardKind)).toContain('g-csf');
    expect(fhir.requests).toEqual([]);
  });
});

describe('order-sign: the same read for an order advised on', () => {
  test('a red-cell order on day +5 after a CAR-T product given by reference: switch to irradiated (EHA/EBMT)', async () => {
    fhir.requests.length = 0;
    const body = hookRequest('order-sign', PATIENT, {
      fhirServer: fhir.baseUrl,
      // The EHR sends patient-view's keys anyway: taken as given, only the Medication is read.
      prefetch: prefetchWith(given('ma-car-t', 'Medication/kymriah-1', '2026-11-17')),
    });
    (body['context'] as Record<string, unknown>)['draftOrders'] = draftOrders(
      transfusionOrder('rbc-1', PATIENT, 'red-cells'),
    );
    const res = await request(t.app).post(`/cds-services/${ORDER_SIGN_ID}`).send(body).expect(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(cards.map((c) => `${cardKind(c)}:${c.indicator}`)).toEqual(['transfusion-irradiation:warning']);
    expect(medicationSearches()).toEqual(['Medication?_id=kymriah-1&_count=50']);
  });
});

describe('a fhirServer that never answers the Medication search', () => {
  let hanging: TestFhirServer;
  let app: TestApp;
  beforeAll(async () => {
    hanging = await serveFhir(new DemoFhirServer(), { hangOn: /\/Medication\?/ });
    app = buildTestApp({ env: { FHIR_TIMEOUT_MS: '3000' } });
  }, 60_000);
  afterAll(async () => {
    await hanging.close();
  });

  test(`costs ${Math.round(3000 * MEDICATION_READ_SHARE)} ms, not the call, and the log says why (without the product's Medication there is no day 0, so no card)`, async () => {
    const body = hookRequest('patient-view', PATIENT, {
      fhirServer: hanging.baseUrl,
      prefetch: prefetchWith(given('ma-car-t', 'Medication/kymriah-1', '2026-11-17')),
    });
    const started = performance.now();
    const res = await request(app.app).post(`/cds-services/${PATIENT_VIEW_ID}`).send(body);
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    // Day 0 is not known without the product's Medication: no card counts from it.
    expect((res.body as { cards: Card[] }).cards).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(2000); // a third of the 3 s deadline, not two thirds or all of it
    const warned = app.logs.records().find((r) => r['msg'] === 'Medications named by administrations not read');
    expect(warned).toMatchObject({
      medications: 1,
      reason: 'fhirServer did not answer within the 1000 ms this read may take',
    });
  });

  test('one search that hangs loses only its own ids: the product, found by the other, still sets day 0', async () => {
    // 61 ids: the first search holds kymriah-1 and m-0…m-48, the second m-49…m-59 and never answers.
    const partly = await serveFhir(await medicationServer(), { hangOn: /_id=m-49,/ });
    try {
      const others = Array.from({ length: 60 }, (_, i) => given(`ma-${i}`, `Medication/m-${i}`, '2026-11-20'));
      const body = hookRequest('patient-view', PATIENT, {
        fhirServer: partly.baseUrl,
        prefetch: prefetchWith(given('ma-car-t', 'Medication/kymriah-1', '2026-11-17'), ...others),
      });
      const res = await request(app.app).post(`/cds-services/${PATIENT_VIEW_ID}`).send(body).expect(200);
      const card = (res.body as { cards: Card[] }).cards.find((c) => cardKind(c) === 'g-csf');
      expect(card?.detail).toContain(
        "11 Medications the patient's administrations name could not be read from fhirServer (fhirServer did not answer within the 1000 ms this read may take).",
      );
      expect(card?.detail).toContain('60 records name a drug that could not be identified and were left out');
    } finally {
      await partly.close();
    }
  });
});
