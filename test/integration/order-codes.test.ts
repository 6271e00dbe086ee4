/**
 * Orders coded the way EHRs send them (products, local codes, references), over real HTTP against
 * the demo FHIR server: each row says which shape and why the expected cards follow.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import request from 'supertest';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { ORDER_SIGN_ID } from '../../cds-services/order-sign-hematotox.js';
import { cardKind } from '../../src/shared/card-kind.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';
import {
  bundledMedication,
  dexamethasoneTabletScd,
  epicDexamethasoneMedication,
  epicDexamethasoneOrder,
  irradiatedRedCellsIsbt,
  localCodeDexamethasone,
  localCodeDexamethasoneEyeDrops,
  methylprednisoloneTabletSbd,
  packedCellsV2,
  pegfilgrastimByReference,
} from '../helpers/vendor-orders.js';

let fhir: TestFhirServer;
let t: TestApp;

beforeAll(async () => {
  const demo = await seededDemo();
  await demo.handle('PUT', `Medication/${epicDexamethasoneMedication.id ?? ''}`, epicDexamethasoneMedication);
  fhir = await serveFhir(demo);
  t = buildTestApp();
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

const bundle = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: resources.map((resource) => ({ resource })),
});

async function sign(patientId: string, orders: Bundle): Promise<Card[]> {
  const body = hookRequest('order-sign', patientId, { fhirServer: fhir.baseUrl });
  (body['context'] as Record<string, unknown>)['draftOrders'] = orders;
  const res = await request(t.app).post(`/cds-services/${ORDER_SIGN_ID}`).send(body).expect(200);
  return (res.body as { cards: Card[] }).cards;
}

test.each<{
  name: string;
  patient: string;
  orders: () => Bundle;
  expected: string[];
  byName?: boolean;
  source: string;
}>([
  {
    name: 'RxNorm SCD 197582 dexamethasone 4 MG Oral Tablet',
    patient: 'cart-day9',
    orders: () => bundle(dexamethasoneTabletScd('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    source: 'CDS Hooks order-sign example shape; RxNorm SCD',
  },
  {
    name: 'Epic: medicationReference to a Medication read from fhirServer',
    patient: 'cart-day9',
    orders: () => bundle(epicDexamethasoneOrder('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    source: 'Epic MedicationRequest.medicationReference',
  },
  {
    name: 'RxNorm SBD methylprednisolone [Medrol]',
    patient: 'cart-day9',
    orders: () => bundle(methylprednisoloneTabletSbd('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    source: 'Oracle Health shape; RxNorm SBD',
  },
  {
    name: 'local code only, ingredient name in the text',
    patient: 'cart-day9',
    orders: () => bundle(localCodeDexamethasone('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    byName: true,
    source: 'name fallback',
  },
  {
    name: 'local code only, brand name in the text (Actemra)',
    patient: 'cart-day9',
    orders: () =>
      bundle({
        ...localCodeDexamethasone('cart-day9'),
        id: 'toci-local',
        medicationCodeableConcept: {
          coding: [{ system: 'https://hospital.example.org/fhir/CodeSystem/pharmacy', code: 'RX-90210' }],
          text: 'Actemra 400 mg IV',
        },
      }),
    expected: ['crs-treatment-cytopenia-risk:info'],
    byName: true,
    source: 'brand-name designation of tocilizumab (FDA label)',
  },
  {
    name: 'local dexamethasone eye drops',
    patient: 'cart-day9',
    orders: () => bundle(localCodeDexamethasoneEyeDrops('cart-day9')),
    expected: [],
    source: 'not systemic: no CRS treatment',
  },
  {
    name: 'pegfilgrastim by reference to a Medication in the Bundle, ANC recovered',
    patient: 'cart-quick',
    orders: () => bundle(pegfilgrastimByReference('cart-quick'), bundledMedication),
    expected: ['g-csf-without-indication:info'],
    source: 'EHA/EBMT 2023: G-CSF for ANC < 0.5',
  },
  {
    name: 'HL7 v2 0426 packed cells, not irradiated, day +9',
    patient: 'cart-day9',
    orders: () => bundle(packedCellsV2('cart-day9')),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products to day +90',
  },
  {
    name: 'ISBT 128 E0398 irradiated red cells',
    patient: 'cart-day9',
    orders: () => bundle(irradiatedRedCellsIsbt('cart-day9')),
    expected: [],
    source: 'already irradiated',
  },
])('$name → $expected ($source)', async ({ patient, orders, expected, byName }) => {
  const cards = await sign(patient, orders());
  expect(cards.map((c) => `${cardKind(c)}:${c.indicator}`)).toEqual(expected);
  const recognisedByName = cards.some((c) => c.detail?.includes('by name'));
  expect(recognisedByName).toBe(byName === true);
});

test('a card recognised by name says so, and quotes the order text', async () => {
  const [card] = await sign('cart-day9', bundle(localCodeDexamethasone('cart-day9')));
  expect(card?.detail).toContain(
    '_Recognised as corticosteroid by name ("Dexamethasone 8 mg IV push"): the order\'s codes are not among the codes this service knows._',
  );
});

test('the Medication of an Epic order is read from fhirServer once, within the call', async () => {
  fhir.requests.length = 0;
  await sign('cart-day9', bundle(epicDexamethasoneOrder('cart-day9')));
  expect(fhir.requests.filter((r) => r.url.startsWith('/demo/fhir/Medication/')).map((r) => r.url)).toEqual([
    `/demo/fhir/Medication/${epicDexamethasoneMedication.id ?? ''}`,
  ]);
});

test('one malformed draft order is named on a card of its own; the others still get their cards', async () => {
  const broken = {
    ...dexamethasoneTabletScd('cart-day9'),
    id: 'broken',
    medicationCodeableConcept: { coding: { code: 'not a list' } },
  };
  const cards = await sign('cart-day9', bundle(broken as unknown as FhirResource, packedCellsV2('cart-day9')));
  expect(cards.map((c) => `${cardKind(c)}:${c.indicator}`)).toEqual([
    'unread-draft-orders:warning',
    'transfusion-irradiation:warning',
  ]);
  expect(cards[0]?.detail).toContain(
    '- MedicationRequest/broken: could not be read (medicationCodeableConcept.coding: Invalid input: expected array, received object)',
  );
});
