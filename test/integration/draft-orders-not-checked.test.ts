/**
 * Draft orders the service cannot check — not the shape it reads, another patient's, past the
 * number one call checks — are named on a card after CAR-T, never dropped in silence (an order
 * left out without a word reads as an order with nothing to say). Over real HTTP against the demo
 * FHIR server; cart-day9 is on day +9 (infused 2026-11-13), when blood products must be irradiated.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { ORDER_SELECT_ID } from '../../cds-services/order-select-hematotox.js';
import { ORDER_SIGN_ID } from '../../cds-services/order-sign-hematotox.js';
import { MAX_DRAFT_ORDERS, MAX_MEDICATION_READS, MEDICATION_READ_SHARE } from '../../cds-services/draft-orders.js';
import { cardKind } from '../../src/shared/card-kind.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';
import { dexamethasoneOrder, draftOrders, transfusionOrder } from '../helpers/orders.js';
import { epicDexamethasoneMedication } from '../helpers/vendor-orders.js';

let fhir: TestFhirServer;
let t: TestApp;

beforeAll(async () => {
  fhir = await serveFhir(await seededDemo());
  t = buildTestApp();
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

async function call(
  hook: 'order-sign' | 'order-select',
  patientId: string,
  orders: Bundle,
  selections?: string[],
  fhirServer = fhir.baseUrl,
): Promise<Card[]> {
  const body = hookRequest(hook, patientId, { fhirServer });
  const context = body['context'] as Record<string, unknown>;
  context['draftOrders'] = orders;
  if (selections) context['selections'] = selections;
  const id = hook === 'order-sign' ? ORDER_SIGN_ID : ORDER_SELECT_ID;
  const res = await request(t.app).post(`/cds-services/${id}`).send(body).expect(200);
  return (res.body as { cards: Card[] }).cards;
}

const kinds = (cards: Card[]): string[] => cards.map((c) => `${cardKind(c)}:${c.indicator}`);
const redCells = (id: string, patientId = 'cart-day9', extra: Record<string, unknown> = {}): FhirResource => ({
  ...transfusionOrder(id, patientId, 'red-cells'),
  ...extra,
});
const bundleOf = (...resources: FhirResource[]): Bundle => draftOrders(...(resources as never[]));

/** The card's "Why" line for one order on day +9, as the rule words it (irradiation in force). */
const WHY_ONE =
  '**Why:** A draft order was not checked for whether a blood product is irradiated, nor for the cytopenia advice on tocilizumab, corticosteroids and G-CSF, on day +9 after CAR-T (infused 2026-11-13):';

describe('order-sign: orders that cannot be checked are named on a card', () => {
  test('a red-cell order whose orderDetail is an object: a warning naming it and why, no irradiation card', async () => {
    const cards = await call('order-sign', 'cart-day9', bundleOf(redCells('rbc-1', 'cart-day9', { orderDetail: {} })));
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    const [card] = cards;
    expect(card?.summary).toBe('A draft order was not checked for CAR-T advice (day +9 after CAR-T)');
    const detail = card?.detail ?? '';
    expect(detail.startsWith(`${WHY_ONE}\n\n- ServiceRequest/rbc-1: could not be read (orderDetail: `)).toBe(true);
    expect(detail).toContain('**Recommendation in force:** ');
    expect(detail).toContain('Check these orders by hand.');
    expect(card?.source.label).toContain('EHA/EBMT');
  });

  test('an order id that is not a FHIR id, and one nested too deep: both listed, with why', async () => {
    let deep: unknown = {};
    for (let i = 0; i < 70; i++) deep = { nested: deep };
    const cards = await call(
      'order-sign',
      'cart-day9',
      bundleOf(
        redCells('mr 1'),
        redCells('rbc-deep', 'cart-day9', { extension: [{ url: 'urn:x', valueString: 'x', deep }] }),
      ),
    );
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    const detail = cards[0]?.detail ?? '';
    expect(detail).toContain(
      '**Why:** 2 draft orders were not checked for whether a blood product is irradiated, nor for the cytopenia advice on tocilizumab, corticosteroids and G-CSF, on day +9 after CAR-T (infused 2026-11-13):',
    );
    expect(detail).toContain('- ServiceRequest (no usable id): could not be read (id: ');
    expect(detail).toContain('- ServiceRequest/rbc-deep: could not be read (nested deeper than 64 levels)');
  });

  test("an order for another patient is not checked against this patient's record", async () => {
    const cards = await call('order-sign', 'cart-day9', bundleOf(redCells('rbc-other', 'no-cart')));
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    expect(cards[0]?.detail).toContain(
      `${WHY_ONE}\n\n- ServiceRequest/rbc-other: is for another patient, not the patient of this call`,
    );
  });

  test('a readable order beside an unreadable one keeps its own card', async () => {
    const cards = await call(
      'order-sign',
      'cart-day9',
      bundleOf(redCells('rbc-bad', 'cart-day9', { note: 'irradiated please' }), redCells('rbc-good')),
    );
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning', 'transfusion-irradiation:warning']);
    // The unreadable order is on its own card, not repeated as "Data not used" on the others.
    expect(cards[1]?.detail).not.toContain('Data not used');
  });

  test('a patient without CAR-T gets no card for an unreadable order (nothing to advise on)', async () => {
    const cards = await call('order-sign', 'no-cart', bundleOf(redCells('rbc-1', 'no-cart', { orderDetail: {} })));
    expect(cards).toEqual([]);
  });

  test(`past ${MAX_DRAFT_ORDERS} draft orders, the rest are listed as not checked`, async () => {
    const orders = Array.from({ length: MAX_DRAFT_ORDERS + 3 }, (_, i) => redCells(`rbc-${i}`));
    const cards = await call('order-sign', 'cart-day9', bundleOf(...orders));
    expect(kinds(cards)).toEqual([
      'unread-draft-orders:warning',
      ...Array.from({ length: MAX_DRAFT_ORDERS }, () => 'transfusion-irradiation:warning'),
    ]);
    const detail = cards[0]?.detail ?? '';
    expect(detail).toContain('**Why:** 3 draft orders were not checked for whether a blood product is irradiated');
    expect(detail).toContain(
      `- ServiceRequest/rbc-${MAX_DRAFT_ORDERS}: past the ${MAX_DRAFT_ORDERS} one call checks\n- ServiceRequest/rbc-${MAX_DRAFT_ORDERS + 1}: past the ${MAX_DRAFT_ORDERS} one call checks`,
    );
  });

  test(`Medications referenced on fhirServer: at most ${MAX_MEDICATION_READS} read in one call`, async () => {
    const orders = Array.from({ length: MAX_MEDICATION_READS + 5 }, (_, i) => ({
      ...dexamethasoneOrder('cart-day9'),
      id: `dex-${i}`,
      medicationCodeableConcept: undefined,
      medicationReference: { reference: `Medication/unknown-${i}` },
    }));
    fhir.requests.length = 0;
    const cards = await call('order-sign', 'cart-day9', bundleOf(...(orders as FhirResource[])));
    const medicationReads = fhir.requests.filter((r) => r.url.startsWith('/demo/fhir/Medication/'));
    expect(medicationReads).toHaveLength(MAX_MEDICATION_READS);
    // Medications not found or not read, and no name to match: each order is listed as not checked.
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    const detail = cards[0]?.detail ?? '';
    expect(detail).toContain(
      '- MedicationRequest/dex-0: its Medication on fhirServer was not found or not a Medication we can read, and its name matches nothing this service knows',
    );
    expect(detail).toContain(`- and ${MAX_MEDICATION_READS} more`);
    const warned = t.logs
      .records()
      .filter(
        (r) => r['msg'] === 'Medications of draft orders not read from fhirServer; those orders matched by name only',
      );
    expect(warned.at(-1)).toMatchObject({ unreadable: 0, notRead: 5, limit: MAX_MEDICATION_READS });
    expect(typeof warned.at(-1)?.['reqId']).toBe('string');
  });
});

describe('one Medication named by many orders', () => {
  test(`is read once and counts once toward the ${MAX_MEDICATION_READS}`, async () => {
    const orders = Array.from({ length: MAX_MEDICATION_READS + 10 }, (_, i) => ({
      ...dexamethasoneOrder('cart-day9'),
      id: `same-${i}`,
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/not-on-the-server' },
    }));
    fhir.requests.length = 0;
    const logged = t.logs.lines.length;
    const cards = await call('order-sign', 'cart-day9', bundleOf(...(orders as FhirResource[])));
    expect(fhir.requests.filter((r) => r.url.startsWith('/demo/fhir/Medication/'))).toHaveLength(1);
    expect(cards[0]?.detail).toContain(`**Why:** ${MAX_MEDICATION_READS + 10} draft orders were not checked`);
    // Not one order skipped as past the cap (the card shows only five, the log counts them all).
    const skipped = t.logs
      .records()
      .slice(logged)
      .filter((r) => typeof r['notRead'] === 'number' && r['notRead'] > 0);
    expect(skipped).toEqual([]);
  });
});

describe('a medication order whose drug cannot be told', () => {
  // Before, each of these was left out without a word (200, no card): an order with nothing to say.
  const dex = (id: string, medication: Record<string, unknown>, contained?: FhirResource[]): FhirResource => ({
    ...dexamethasoneOrder('cart-day9'),
    id,
    medicationCodeableConcept: undefined,
    medicationReference: undefined,
    ...medication,
    ...(contained ? { contained } : {}),
  });
  test.each<[string, FhirResource[], string]>([
    [
      'an empty drug concept ({})',
      [dex('m1', { medicationCodeableConcept: {} })],
      'its drug is empty (no code, no name)',
    ],
    [
      'a drug concept with an empty coding list',
      [dex('m1', { medicationCodeableConcept: { coding: [] } })],
      'its drug is empty (no code, no name)',
    ],
    ['no drug at all', [dex('m1', {})], 'its drug names no Medication'],
    [
      'a contained reference (#nope) to nothing contained',
      [dex('m1', { medicationReference: { reference: '#nope' } })],
      'its contained Medication is missing',
    ],
    [
      'a contained Medication with no code',
      [dex('m1', { medicationReference: { reference: '#med' } }, [{ resourceType: 'Medication', id: 'med' }])],
      'its contained Medication has no drug code',
    ],
    [
      'a Medication in the Bundle with no code',
      [
        dex('m1', { medicationReference: { reference: 'Medication/nocode' } }),
        { resourceType: 'Medication', id: 'nocode' },
      ],
      'its Medication has no drug code',
    ],
    [
      'a urn:uuid: that names no entry',
      [dex('m1', { medicationReference: { reference: 'urn:uuid:11111111-2222-4333-8444-555555555555' } })],
      'its drug reference names nothing in the data received',
    ],
  ])('%s: listed as not checked, with why', async (_what, resources, why) => {
    const cards = await call('order-sign', 'cart-day9', bundleOf(...resources));
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    expect(cards[0]?.detail).toContain(
      `- MedicationRequest/m1: ${why}, and its name matches nothing this service knows`,
    );
  });

  test('a reference with a version or an absolute URL reads Medication/<id> from fhirServer', async () => {
    for (const reference of ['Medication/dexa-v/_history/2', 'https://ehr.example.org/fhir/Medication/dexa-v']) {
      fhir.requests.length = 0;
      const cards = await call('order-sign', 'cart-day9', bundleOf(dex('m1', { medicationReference: { reference } })));
      expect(fhir.requests.map((r) => r.url)).toContain('/demo/fhir/Medication/dexa-v');
      expect(cards[0]?.detail).toContain(
        '- MedicationRequest/m1: its Medication on fhirServer was not found or not a Medication we can read, and its name matches nothing this service knows',
      );
    }
  });
});

describe('a Medication read answered with another Medication', () => {
  // Medication/med1 on the server is dexamethasone; a hostile answer relabels it (another id, or none).
  let relabelling: TestFhirServer;
  beforeAll(async () => {
    const demo = await seededDemo();
    await demo.handle('PUT', 'Medication/med1', { ...epicDexamethasoneMedication, id: 'med1' });
    await demo.handle('PUT', 'Medication/med2', { ...epicDexamethasoneMedication, id: 'med2' });
    const relabelled: Record<string, string | undefined> = { med1: 'zzz', med2: undefined };
    relabelling = await serveFhir(demo, {
      transform: (url, text) => {
        const id = /\/Medication\/(med[12])$/.exec(url)?.[1];
        return id === undefined ? text : JSON.stringify({ ...(JSON.parse(text) as object), id: relabelled[id] });
      },
    });
  });
  afterAll(async () => {
    await relabelling.close();
  });

  // Before: the answer was used whatever its id, and the order advised on as dexamethasone.
  test.each([
    ['another id (zzz)', 'med1'],
    ['no id', 'med2'],
  ])('with %s: the order is listed as not checked, with why', async (_what, id) => {
    const order = {
      ...dexamethasoneOrder('cart-day9'),
      id: 'dex-ref',
      medicationCodeableConcept: undefined,
      medicationReference: { reference: `Medication/${id}` },
    };
    const cards = await call('order-sign', 'cart-day9', bundleOf(order), undefined, relabelling.baseUrl);
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    expect(cards[0]?.detail).toContain(
      '- MedicationRequest/dex-ref: its Medication read from fhirServer came back as another Medication (a different id), and its name matches nothing this service knows',
    );
    expect(relabelling.requests.map((r) => r.url)).toContain(`/demo/fhir/Medication/${id}`);
  });
});

describe('order-select: only the selected orders, and those that cannot be told apart', () => {
  test('a selection that names no draft order is a 400 naming it, not an answer with nothing to say', async () => {
    const body = hookRequest('order-select', 'cart-day9', { fhirServer: fhir.baseUrl });
    const context = body['context'] as Record<string, unknown>;
    context['draftOrders'] = bundleOf(redCells('rbc-1'));
    context['selections'] = ['ServiceRequest/rbc-1', 'ServiceRequest/zzz'];
    const res = await request(t.app).post(`/cds-services/${ORDER_SELECT_ID}`).send(body).expect(400);
    expect(JSON.stringify(res.body)).toContain('context.selections[1] names no resource in context.draftOrders');
  });

  test('a selection may name an order whose id cannot be read: not refused', async () => {
    const cards = await call('order-select', 'cart-day9', bundleOf(redCells('bad id')), ['ServiceRequest/zzz']);
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
  });

  test('an unreadable order that was not selected is not listed; one whose id cannot be read is', async () => {
    const orders = bundleOf(
      redCells('rbc-selected'),
      redCells('rbc-other-draft', 'cart-day9', { orderDetail: {} }),
      redCells('bad id'),
    );
    const cards = await call('order-select', 'cart-day9', orders, ['ServiceRequest/rbc-selected']);
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning', 'transfusion-irradiation:warning']);
    expect(cards[0]?.detail).toContain(`${WHY_ONE}\n\n- ServiceRequest (no usable id): could not be read (id: `);
    expect(cards[0]?.detail).not.toContain('rbc-other-draft');
  });
});

describe('a fhirServer that never answers a Medication read', () => {
  // FHIR_TIMEOUT_MS 3,000: the Medication read may take a third of it (1,000 ms), the record the rest.
  let hanging: TestFhirServer;
  let app: TestApp;
  beforeAll(async () => {
    hanging = await serveFhir(await seededDemo(), { hangOn: /\/Medication\// });
    app = buildTestApp({ env: { FHIR_TIMEOUT_MS: '3000' } });
  }, 60_000);
  afterAll(async () => {
    await hanging.close();
  });

  test(`costs the order its check after ${Math.round(3000 * MEDICATION_READ_SHARE)} ms, not the call: the record is still read and advised on`, async () => {
    const slow = {
      ...dexamethasoneOrder('cart-day9'),
      id: 'dex-slow',
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/slow' },
    };
    const body = hookRequest('order-sign', 'cart-day9', { fhirServer: hanging.baseUrl });
    (body['context'] as Record<string, unknown>)['draftOrders'] = bundleOf(slow, redCells('rbc-1'));
    const started = performance.now();
    const res = await request(app.app).post(`/cds-services/${ORDER_SIGN_ID}`).send(body);
    const ms = performance.now() - started;
    // Before: the read used up the deadline, and the call answered 412 blaming searches never sent.
    expect(res.status).toBe(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning', 'transfusion-irradiation:warning']);
    expect(cards[0]?.detail).toContain(
      '- MedicationRequest/dex-slow: its Medication could not be read from fhirServer, and its name matches nothing this service knows',
    );
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(3000);
    const warned = app.logs
      .records()
      .find(
        (r) => r['msg'] === 'Medications of draft orders not read from fhirServer; those orders matched by name only',
      );
    expect(warned).toMatchObject({
      unreadable: 1,
      notRead: 0,
      reason: 'fhirServer did not answer within the 1000 ms this read may take',
    });
  });

  test('three orders naming the one Medication that hangs: one read, counted once in the log', async () => {
    const orders = ['a', 'b', 'c'].map((k) => ({
      ...dexamethasoneOrder('cart-day9'),
      id: `dex-${k}`,
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/slow' },
    }));
    const body = hookRequest('order-sign', 'cart-day9', { fhirServer: hanging.baseUrl });
    (body['context'] as Record<string, unknown>)['draftOrders'] = bundleOf(...orders);
    hanging.requests.length = 0;
    const logged = app.logs.lines.length;
    const res = await request(app.app).post(`/cds-services/${ORDER_SIGN_ID}`).send(body).expect(200);
    expect(kinds((res.body as { cards: Card[] }).cards)).toEqual(['unread-draft-orders:warning']);
    expect(hanging.requests.filter((r) => r.url.includes('/Medication/'))).toHaveLength(1);
    const warned = app.logs
      .records()
      .slice(logged)
      .find(
        (r) => r['msg'] === 'Medications of draft orders not read from fhirServer; those orders matched by name only',
      );
    // Before: 3, one per order naming it.
    expect(warned).toMatchObject({ unreadable: 1, notRead: 0 });
  });
});
