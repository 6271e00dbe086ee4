/**
 * patient-view over HTTP with a G-CSF order still to be given (docs/clinical-logic.md §10, "Ordered,
 * not yet given"): read from the prefetch, or from fhirServer when the EHR did not prefetch it, the
 * card names the order, is a warning and offers no duplicate order. The test app's today is
 * 2026-11-22; the infusion was on 2026-11-17 (day +5).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { Bundle, FhirResource, MedicationRequest } from 'fhir/r4.js';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { DemoFhirServer } from '../../src/demo/fhir-server.js';
import { cardKind } from '../../src/shared/card-kind.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { serveFhir, type TestFhirServer } from '../helpers/servers.js';

const PATIENT = 'p-ordered';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const searchset = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});
/** Filgrastim (RxNorm 68442, ValueSet g-csf), ordered this morning, not yet given. */
const order: MedicationRequest = {
  resourceType: 'MedicationRequest',
  id: 'gcsf-order',
  status: 'active',
  intent: 'order',
  medicationCodeableConcept: { coding: [{ system: RXNORM, code: '68442' }], text: 'Filgrastim 300 mcg SC daily' },
  subject: { reference: `Patient/${PATIENT}` },
  authoredOn: '2026-11-22T07:40:00Z',
};
/** The rest of the record: tisagenlecleucel (NDC 0078-0846-19) on 2026-11-17 and ANC 0.2 ×10⁹/L today. */
const record = {
  patient: { resourceType: 'Patient', id: PATIENT, gender: 'female', birthDate: '1990-01-01' },
  observations: searchset({
    resourceType: 'Observation',
    id: 'anc-today',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] },
    subject: { reference: `Patient/${PATIENT}` },
    effectiveDateTime: '2026-11-22T08:00:00Z',
    valueQuantity: { value: 0.2, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' },
  }),
  medicationAdministrations: searchset({
    resourceType: 'MedicationAdministration',
    id: 'car-t',
    status: 'completed',
    medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
    subject: { reference: `Patient/${PATIENT}` },
    effectiveDateTime: '2026-11-17T10:00:00Z',
  }),
  procedures: searchset(),
  conditions: searchset(),
};

const ORDERED = {
  indicator: 'warning',
  summary: 'ANC 0.2 ×10⁹/L on day +5: G-CSF ordered on 2026-11-22, no dose recorded yet; check it is given',
};
const ALREADY =
  '**Already ordered, not yet recorded as given:** Filgrastim 300 mcg SC daily (MedicationRequest/gcsf-order, ordered 2026-11-22). No new order is offered; check that it is carried out.';

let fhir: TestFhirServer;
let t: TestApp;

beforeAll(async () => {
  const server = new DemoFhirServer();
  await server.load({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource: order, request: { method: 'PUT', url: `MedicationRequest/${order.id}` } }],
  });
  fhir = await serveFhir(server);
  t = buildTestApp();
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

async function gcsfCard(context: { prefetch: Record<string, unknown>; fhirServer?: string }): Promise<Card> {
  const res = await request(t.app)
    .post(`/cds-services/${PATIENT_VIEW_ID}`)
    .send(hookRequest('patient-view', PATIENT, context))
    .expect(200);
  const card = (res.body as { cards: Card[] }).cards.find((c) => cardKind(c) === 'g-csf');
  if (!card) throw new Error('no G-CSF card');
  return card;
}

describe('patient-view: G-CSF ordered and not yet given', () => {
  test('prefetched: the card names the order, is a warning, and offers no second order', async () => {
    const card = await gcsfCard({
      prefetch: { ...record, medicationRequests: searchset(order), serviceRequests: searchset() },
    });
    expect(card).toMatchObject(ORDERED);
    expect(card.suggestions).toBeUndefined();
    expect(card.detail).toContain(ALREADY);
  });

  test('not prefetched: read from fhirServer (active orders of the patient only), the same card', async () => {
    fhir.requests.length = 0;
    const card = await gcsfCard({ prefetch: record, fhirServer: fhir.baseUrl });
    expect(card).toMatchObject(ORDERED);
    expect(card.detail).toContain(ALREADY);
    expect(fhir.requests.map((r) => r.url.replace(/^.*\/demo\/fhir\//, '')).sort()).toEqual([
      `MedicationRequest?patient=${PATIENT}&status=active&_count=1000`,
      `ServiceRequest?patient=${PATIENT}&status=active&_count=1000`,
    ]);
  });

  test('neither prefetched nor readable (no fhirServer): the order is offered as before, and the card says what it could not read', async () => {
    const card = await gcsfCard({ prefetch: record });
    expect(card).toMatchObject({
      indicator: 'critical',
      summary: 'ANC 0.2 ×10⁹/L on day +5, no G-CSF recorded: consider filgrastim 5 µg/kg/day',
    });
    expect(card.suggestions?.map((s) => s.label)).toEqual(['Order filgrastim 5 µg/kg/day (draft)']);
    expect(card.detail).toContain(
      '**Data not used:** MedicationRequests could not be read (not prefetched and no fhirServer was given); assessed without it.',
    );
  });
});
