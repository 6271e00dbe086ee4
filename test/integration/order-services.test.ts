/**
 * order-sign and order-select (pharmacists, prescribers): draft orders shaped like the CDS Hooks
 * hook examples, for demo patients in the embedded FHIR server. CRS treatment is never blocked
 * (info only); a non-irradiated transfusion in the day −7..+90 window gets a warning with an update
 * to an irradiated product; G-CSF with ANC above the threshold and no indication gets an info card.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ORDER_SELECT_ID } from '../../cds-services/order-select-hematotox.js';
import { ORDER_SIGN_ID } from '../../cds-services/order-sign-hematotox.js';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { cardKind } from '../../src/shared/card-kind.js';
import { cardSchema, cdsResponseSchema, type Card } from '../../src/cds-hooks/schemas.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { fullPrefetch, type DiscoveredService } from '../helpers/ehr.js';
import {
  amoxicillinOrder,
  dexamethasoneOrder,
  draftOrders,
  filgrastimOrder,
  nutritionOrder,
  tocilizumabOrder,
  transfusionOrder,
} from '../helpers/orders.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

let fhir: TestFhirServer;
let t: TestApp;
let services: DiscoveredService[];

beforeAll(async () => {
  fhir = await serveFhir(await seededDemo());
  t = buildTestApp();
  services = ((await request(t.app).get('/cds-services').expect(200)).body as { services: DiscoveredService[] })
    .services;
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

async function sign(patientId: string, bundle: unknown, extra: Record<string, unknown> = {}): Promise<Card[]> {
  const body = hookRequest('order-sign', patientId, { fhirServer: fhir.baseUrl, ...extra });
  (body['context'] as Record<string, unknown>)['draftOrders'] = bundle;
  const res = await request(t.app).post(`/cds-services/${ORDER_SIGN_ID}`).send(body).expect(200);
  expect(cdsResponseSchema.safeParse(res.body).success).toBe(true);
  const cards = (res.body as { cards: Card[] }).cards;
  for (const card of cards) {
    expect(cardSchema.safeParse(card).success).toBe(true);
    expect(card.summary.length).toBeLessThan(140);
    expect(card.source.url).toMatch(/^https:\/\//);
    expect(card.overrideReasons?.every((r) => r.display)).toBe(true);
  }
  return cards;
}

const kinds = (cards: Card[]): string[] => cards.map((c) => `${cardKind(c)}:${c.indicator}`);

test('discovery lists patient-view with its prefetch, and order-sign and order-select with none (the EHR runs no search per order)', () => {
  expect(services.map((s) => `${s.hook}:${s.id}`)).toEqual([
    `patient-view:${PATIENT_VIEW_ID}`,
    `order-sign:${ORDER_SIGN_ID}`,
    `order-select:${ORDER_SELECT_ID}`,
  ]);
  expect(Object.keys(services[0]?.prefetch ?? {})).toEqual(
    expect.arrayContaining(['patient', 'observations', 'medicationAdministrations', 'procedures']),
  );
  expect(services[1]?.prefetch).toBeUndefined();
  expect(services[2]?.prefetch).toBeUndefined();
});

// Worked cases: patient (day post infusion today), orders → expected cards. Source per row.
const CASES: { name: string; patient: string; orders: () => unknown; expected: string[]; source: string }[] = [
  {
    name: 'tocilizumab on day +9',
    patient: 'cart-day9',
    orders: () => draftOrders(nutritionOrder('cart-day9'), tocilizumabOrder('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    source: 'Wang et al. 2021 and the immune-reconstitution thesis',
  },
  {
    name: 'dexamethasone via a contained Medication',
    patient: 'cart-day9',
    orders: () => draftOrders(dexamethasoneOrder('cart-day9')),
    expected: ['crs-treatment-cytopenia-risk:info'],
    source: 'Wang et al. 2021 and the immune-reconstitution thesis',
  },
  {
    name: 'non-irradiated red cells on day +9',
    patient: 'cart-day9',
    orders: () => draftOrders(transfusionOrder('rbc-1', 'cart-day9', 'red-cells')),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90',
  },
  {
    name: 'non-irradiated platelets on day +35',
    patient: 'cart-aplastic',
    orders: () => draftOrders(transfusionOrder('plt-1', 'cart-aplastic', 'platelets')),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023',
  },
  {
    name: 'platelets ordered as irradiated (free text)',
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('plt-2', 'cart-day9', 'platelets', { orderDetail: [{ text: 'Irradiated, leukoreduced' }] }),
      ),
    expected: [],
    source: 'EHA/EBMT 2023',
  },
  {
    name: "red cells on day +9, orderDetail text 'Non-irradiated': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-n0', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Non-irradiated' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, code text 'Red cells, NOT irradiated': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-n1', 'cart-day9', 'red-cells', {
          code: {
            coding: [{ system: 'http://snomed.info/sct', code: '116863004' }],
            text: 'Red cells, NOT irradiated',
          },
        }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, note 'irradiation not required': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-n2', 'cart-day9', 'red-cells', { note: [{ text: 'irradiation not required' }] }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, note 'Do not irradiate': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-n3', 'cart-day9', 'red-cells', { note: [{ text: 'Do not irradiate' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiation: no': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-n4', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiation: no' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'unirradiated': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-n5', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'unirradiated' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, a coded irradiated detail, and a note 'do not irradiate' (the order contradicts itself): a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-n6', 'cart-day9', 'red-cells', {
          orderDetail: [
            {
              coding: [
                { system: 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox', code: 'irradiated' },
              ],
            },
          ],
          note: [{ text: 'do not irradiate' }],
        }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiated, not washed': irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-p0', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiated, not washed' }] }),
      ),
    expected: [],
    source: 'EHA/EBMT 2023; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiated: yes': irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-p1', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiated: yes' }] })),
    expected: [],
    source: 'EHA/EBMT 2023; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, note 'Irradiation: not required': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-m0', 'cart-day9', 'red-cells', { note: [{ text: 'Irradiation: not required' }] }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiation required: No': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-m1', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiation required: No' }] }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiated - No': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-m2', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiated - No' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, orderDetail 'Irradiated? No': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(transfusionOrder('rbc-m3', 'cart-day9', 'red-cells', { orderDetail: [{ text: 'Irradiated? No' }] })),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: "red cells on day +9, note 'Irradiation (not required)': a text that says not irradiated is not irradiated",
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-m4', 'cart-day9', 'red-cells', { note: [{ text: 'Irradiation (not required)' }] }),
      ),
    expected: ['transfusion-irradiation:warning'],
    source: 'EHA/EBMT 2023: irradiated products day −7..+90; docs/clinical-logic.md §10',
  },
  {
    name: 'red cells ordered as irradiated (coded)',
    patient: 'cart-day9',
    orders: () =>
      draftOrders(
        transfusionOrder('rbc-2', 'cart-day9', 'red-cells', {
          orderDetail: [
            {
              coding: [
                { system: 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox', code: 'irradiated' },
              ],
            },
          ],
        }),
      ),
    expected: [],
    source: 'EHA/EBMT 2023',
  },
  {
    name: 'non-irradiated red cells on day +200 (outside the window)',
    patient: 'cart-day200-low-igg',
    orders: () => draftOrders(transfusionOrder('rbc-3', 'cart-day200-low-igg', 'red-cells')),
    expected: [],
    source: 'EHA/EBMT 2023: window ends day +90',
  },
  {
    name: 'G-CSF with ANC recovered and low risk',
    patient: 'cart-quick',
    orders: () => draftOrders(filgrastimOrder('cart-quick')),
    expected: ['g-csf-without-indication:info'],
    source: 'EHA/EBMT 2023: G-CSF for ANC < 0.5',
  },
  {
    name: 'G-CSF with ANC below 0.5',
    patient: 'cart-day9',
    orders: () => draftOrders(filgrastimOrder('cart-day9')),
    expected: [],
    source: 'Wang et al. 2021: ANC < 0.5 → G-CSF',
  },
  {
    name: 'an unrelated drug',
    patient: 'cart-day9',
    orders: () => draftOrders(amoxicillinOrder('cart-day9')),
    expected: [],
    source: '–',
  },
  {
    name: 'an order with no code at all',
    patient: 'cart-day9',
    orders: () =>
      draftOrders({
        resourceType: 'ServiceRequest',
        id: 'x',
        status: 'draft',
        intent: 'order',
        subject: { reference: 'Patient/cart-day9' },
      }),
    expected: [],
    source: '–',
  },
  {
    name: 'tocilizumab for a patient without CAR-T',
    patient: 'no-cart',
    orders: () => draftOrders(tocilizumabOrder('no-cart')),
    expected: [],
    source: 'only after CAR-T',
  },
  { name: 'an empty draftOrders Bundle', patient: 'cart-day9', orders: () => draftOrders(), expected: [], source: '–' },
];

describe.each(CASES)('order-sign: $name ($source)', ({ patient, orders, expected }) => {
  test(`gives ${expected.join(', ') || 'no card'}`, async () => {
    expect(kinds(await sign(patient, orders()))).toEqual(expected);
  });
});

describe('card content', () => {
  test('CRS treatment: information only, the seeds’ associations, current counts and a CBC draft; never blocking', async () => {
    const [card] = await sign('cart-day9', draftOrders(tocilizumabOrder('cart-day9')));
    expect(card?.indicator).toBe('info');
    expect(card?.summary).toMatch(/^Tocilizumab after CAR-T \(day \+9\): monitor blood counts/);
    expect(card?.detail).toContain('this card does not advise against it');
    expect(card?.detail).toContain('grade ≥3 thrombocytopenia');
    expect(card?.detail).toContain('delayed recovery from severe neutropenia (HR 0.36; Wang et al., Front Oncol 2021)');
    expect(card?.detail).toMatch(/\| ANC \| [\d.]+ ×10⁹\/L \| \d{4}-\d{2}-\d{2} \(day \+\d\)/);
    expect(card?.suggestions?.[0]?.actions?.[0]).toMatchObject({
      type: 'create',
      resource: { resourceType: 'ServiceRequest', code: { coding: [{ system: 'http://loinc.org', code: '57021-8' }] } },
    });
  });

  test('non-irradiated transfusion: the update keeps the order and adds irradiation', async () => {
    const order = transfusionOrder('rbc-1', 'cart-day9', 'red-cells');
    const [card] = await sign('cart-day9', draftOrders(order));
    expect(card?.summary).toBe('Red cells ordered on day +9 after CAR-T: use an irradiated product');
    expect(card?.detail).toContain(
      '**Recommendation in force:** Use irradiated cellular blood products from 2026-11-06 (day -7) to 2027-02-11 (day +90). ' +
        'Leukapheresis date not recorded: the window starts 7 days before the infusion; EHA/EBMT 2023 start it 7 days before leukapheresis.',
    );
    expect(card?.selectionBehavior).toBe('at-most-one');
    const action = card?.suggestions?.[0]?.actions?.[0];
    expect(action?.type).toBe('update');
    expect(action?.resource).toEqual({
      ...order,
      orderDetail: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0508', code: 'IR', display: 'Irradiated' }],
          text: 'Irradiated',
        },
      ],
    });
  });

  test('an order that says "Non-irradiated": the card quotes it, and the update replaces that detail', async () => {
    const order = transfusionOrder('rbc-n', 'cart-day9', 'red-cells', {
      orderDetail: [{ text: 'Non-irradiated' }, { text: 'Leukoreduced' }],
      note: [{ text: 'do not irradiate' }],
    });
    const [card] = await sign('cart-day9', draftOrders(order));
    expect(card?.summary).toBe('Red cells ordered on day +9 after CAR-T: use an irradiated product');
    expect(card?.detail).toContain(
      '**Why:** this red cell order is not for an irradiated product, on day +9 after CAR-T (infused 2026-11-13). The order says: "Non-irradiated", "do not irradiate".',
    );
    expect(card?.suggestions?.[0]?.actions?.[0]?.resource).toEqual({
      ...order,
      orderDetail: [
        { text: 'Leukoreduced' },
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0508', code: 'IR', display: 'Irradiated' }],
          text: 'Irradiated',
        },
      ],
    });
  });

  test('a recorded leukapheresis starts the irradiation window 7 days before it (EHA/EBMT 2023)', async () => {
    // cart-day12-no-gcsf: infused 2026-11-10, leukapheresis on day −28 (2026-10-13) → from 2026-10-06.
    const [card] = await sign(
      'cart-day12-no-gcsf',
      draftOrders(transfusionOrder('rbc-2', 'cart-day12-no-gcsf', 'red-cells')),
    );
    expect(card?.detail).toContain(
      '**Recommendation in force:** Use irradiated cellular blood products from 2026-10-06 (day -35) to 2027-02-08 (day +90). ' +
        'The window starts 7 days before leukapheresis on 2026-10-13 (EHA/EBMT 2023).',
    );
  });

  test.each([
    [
      'a local code and its text',
      { coding: [{ system: 'urn:oid:1.2.3.4.5.local', code: 'PLT-APH' }], text: 'Platelets, apheresis, 1 unit' },
      'Platelets, apheresis, 1 unit',
    ],
    ['text only', { text: 'Transfuse 1 unit platelets' }, 'Transfuse 1 unit platelets'],
  ])(
    'a platelet order under %s, not irradiated, on day +9: the warning, saying it was recognised by name',
    async (_name, code, text) => {
      const cards = await sign(
        'cart-day9',
        draftOrders(transfusionOrder('plt-local', 'cart-day9', 'platelets', { code })),
      );
      expect(kinds(cards)).toEqual(['transfusion-irradiation:warning']);
      expect(cards[0]?.summary).toBe('Platelets ordered on day +9 after CAR-T: use an irradiated product');
      expect(cards[0]?.detail).toContain(
        `_Recognised as a platelet transfusion by its name ("${text}"): the order's codes are not among the codes this service knows._`,
      );
    },
  );

  test('a draft order without id gets the warning but no update it could not apply', async () => {
    const order = transfusionOrder('x', 'cart-day9', 'platelets');
    delete order.id;
    const [card] = await sign('cart-day9', draftOrders(order));
    expect(card?.indicator).toBe('warning');
    expect(card?.suggestions).toBeUndefined();
  });

  test('G-CSF above the threshold: says the ANC, its date and that no high-risk indication was found', async () => {
    const [card] = await sign('cart-quick', draftOrders(filgrastimOrder('cart-quick')));
    expect(card?.summary).toMatch(/^G-CSF ordered with ANC [\d.]+ ×10⁹\/L on day \+\d+ \(not below 0\.5\)$/);
    expect(card?.detail).toMatch(
      /and the data show no high-risk indication: CAR-HEMATOTOX \d \(low risk\), early ICAHT grade \d\.(\n|$)/,
    );
    expect(card?.detail).toMatch(/\(\d{4}-\d{2}-\d{2}\)/);
  });

  test("an EHR that still sends patient-view's prefetch gets the same cards as fetching, with no FHIR read", async () => {
    const service = services.find((s) => s.id === PATIENT_VIEW_ID) as DiscoveredService;
    const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId: 'cart-day9' });
    const bundle = draftOrders(tocilizumabOrder('cart-day9'), transfusionOrder('rbc-1', 'cart-day9', 'red-cells'));
    const withPrefetch = await sign('cart-day9', bundle, { prefetch, fhirServer: undefined });
    expect(withPrefetch).toEqual(await sign('cart-day9', bundle));
    expect(kinds(withPrefetch)).toEqual(['crs-treatment-cytopenia-risk:info', 'transfusion-irradiation:warning']);
  });
});

describe('order-sign before the CAR-T infusion is recorded (EHA/EBMT 2023: irradiated products from 7 days before leukapheresis)', () => {
  /** cart-day12-no-gcsf's record (leukapheresis on 2026-10-13) as patient-view's prefetch, without its infusion. */
  async function beforeInfusion(): Promise<Record<string, unknown>> {
    const service = services.find((s) => s.id === PATIENT_VIEW_ID) as DiscoveredService;
    const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId: 'cart-day12-no-gcsf' });
    for (const key of ['medicationAdministrations', 'procedures']) {
      const bundle = prefetch[key] as unknown as { entry: { resource: unknown }[] };
      // The CAR-T product (tisagenlecleucel) and the infusion procedure (CPT 38228).
      bundle.entry = bundle.entry.filter(({ resource }) => !/leucel|"38228"/.test(JSON.stringify(resource)));
    }
    return prefetch;
  }

  test('a platelet order not irradiated, after leukapheresis and before any infusion: warning, with the window it rests on', async () => {
    const cards = await sign(
      'cart-day12-no-gcsf',
      draftOrders(transfusionOrder('plt-0', 'cart-day12-no-gcsf', 'platelets'), tocilizumabOrder('cart-day12-no-gcsf')),
      { prefetch: await beforeInfusion(), fhirServer: undefined },
    );
    // The cytopenia advice (tocilizumab) waits for day 0; irradiation does not.
    expect(kinds(cards)).toEqual(['transfusion-irradiation:warning']);
    expect(cards[0]?.summary).toBe('Platelets ordered before the CAR-T infusion: use an irradiated product');
    const detail = cards[0]?.detail ?? '';
    expect(detail).toContain(
      '**Why:** this platelet order is not for an irradiated product, before the CAR-T infusion (none recorded yet; leukapheresis on 2026-10-13).',
    );
    // 2026-10-13 − 7 days = 2026-10-06; + 90 days = 2027-01-11, the earliest day +90 can fall.
    expect(detail).toContain(
      '**Recommendation in force:** Use irradiated cellular blood products. No CAR-T infusion is recorded yet; leukapheresis on 2026-10-13 opens the window: from 2026-10-06 (7 days before it, EHA/EBMT 2023) to day +90 after the infusion, so at least to 2027-01-11.',
    );
  });

  test('without a leukapheresis or an infusion: no card (the order is none of ours)', async () => {
    const prefetch = await beforeInfusion();
    const procedures = prefetch['procedures'] as { entry: { resource: unknown }[] };
    procedures.entry = procedures.entry.filter(({ resource }) => !/"38225"/.test(JSON.stringify(resource)));
    expect(
      await sign('cart-day12-no-gcsf', draftOrders(transfusionOrder('plt-0', 'cart-day12-no-gcsf', 'platelets')), {
        prefetch,
        fhirServer: undefined,
      }),
    ).toEqual([]);
  });
});

describe('order-sign when the CAR-T infusion record cannot be read (no day 0)', () => {
  /** cart-day9's record as patient-view's prefetch, every administration and procedure dated to the month only. */
  async function monthOnlyPrefetch(): Promise<Record<string, unknown>> {
    const service = services.find((s) => s.id === PATIENT_VIEW_ID) as DiscoveredService;
    const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId: 'cart-day9' });
    for (const key of ['medicationAdministrations', 'procedures']) {
      const bundle = prefetch[key] as unknown as { entry: { resource: Record<string, unknown> }[] };
      for (const { resource } of bundle.entry) {
        if ('effectiveDateTime' in resource) resource['effectiveDateTime'] = '2026-11';
        if ('performedDateTime' in resource) resource['performedDateTime'] = '2026-11';
      }
    }
    return prefetch;
  }

  test('a platelet order gets a warning that it was not checked (irradiation unknown), naming the order and the record', async () => {
    const prefetch = await monthOnlyPrefetch();
    const cards = await sign('cart-day9', draftOrders(transfusionOrder('plt-9', 'cart-day9', 'platelets')), {
      prefetch,
      fhirServer: undefined,
    });
    expect(kinds(cards)).toEqual(['unread-infusion:warning']);
    expect(cards[0]?.summary).toBe(
      'CAR-T infusion record could not be read: this order was not checked for CAR-T advice',
    );
    const detail = cards[0]?.detail ?? '';
    expect(detail).toContain(
      '**Why:** this record holds a CAR-T infusion that could not be read, so day 0 is not known. This order was not checked for whether a blood product must be irradiated, nor for the cytopenia advice on tocilizumab, corticosteroids and G-CSF:\n\n- ServiceRequest/plt-9: Transfuse platelets, 1 adult dose',
    );
    expect(detail).toMatch(
      /The infusion records?:\n\n- (MedicationAdministration|Procedure)\/[^:]+: [^\n]+: no date to the day/,
    );
    expect(
      detail.endsWith(
        'Check the infusion in the chart, and these orders by hand (blood products after CAR-T are irradiated).',
      ),
    ).toBe(true);
  });

  test('an order the service does not advise on still gets no card', async () => {
    const prefetch = await monthOnlyPrefetch();
    expect(
      await sign('cart-day9', draftOrders(amoxicillinOrder('cart-day9')), { prefetch, fhirServer: undefined }),
    ).toEqual([]);
  });
});

describe('order-select', () => {
  async function select(selections: string[]): Promise<Card[]> {
    const body = hookRequest('order-select', 'cart-day9', { fhirServer: fhir.baseUrl });
    Object.assign(body['context'] as Record<string, unknown>, {
      selections,
      draftOrders: draftOrders(
        nutritionOrder('cart-day9'),
        tocilizumabOrder('cart-day9'),
        transfusionOrder('rbc-1', 'cart-day9', 'red-cells'),
      ),
    });
    const res = await request(t.app).post(`/cds-services/${ORDER_SELECT_ID}`).send(body).expect(200);
    return (res.body as { cards: Card[] }).cards;
  }

  test('advises on the selected orders only', async () => {
    expect(kinds(await select(['ServiceRequest/rbc-1']))).toEqual(['transfusion-irradiation:warning']);
    expect(kinds(await select(['NutritionOrder/low-bacteria-diet', 'MedicationRequest/tocilizumab-1']))).toEqual([
      'crs-treatment-cytopenia-risk:info',
    ]);
  });

  test('selecting nothing we advise on gives no cards and reads no FHIR data', async () => {
    const before = fhir.requests.length;
    expect(await select(['NutritionOrder/low-bacteria-diet'])).toEqual([]);
    expect(fhir.requests.length).toBe(before);
  });

  // A draft often has no id yet, only its entry's fullUrl; selections then name the fullUrl. Matched
  // by `Type/id` alone, such an order was never checked (helper review, 2026-11-23).
  test.each([
    [
      'by its fullUrl',
      'urn:uuid:5f0c2b7e-3c1a-4d2e-9b8f-0a1b2c3d4e5f',
      ['urn:uuid:5f0c2b7e-3c1a-4d2e-9b8f-0a1b2c3d4e5f'],
      ['crs-treatment-cytopenia-risk:info'],
    ],
    ['not selected', 'urn:uuid:5f0c2b7e-3c1a-4d2e-9b8f-0a1b2c3d4e5f', ['NutritionOrder/other'], []],
    [
      'with no fullUrl either (cannot be told apart: checked)',
      undefined,
      ['NutritionOrder/other'],
      ['crs-treatment-cytopenia-risk:info'],
    ],
    // A UUID's hex digits are case-insensitive (RFC 9562), as everywhere else a urn:uuid is compared.
    [
      'its fullUrl selected in another case',
      'urn:uuid:5F0C2B7E-3C1A-4D2E-9B8F-0A1B2C3D4E5F',
      ['urn:uuid:5f0c2b7e-3c1a-4d2e-9b8f-0a1b2c3d4e5f'],
      ['crs-treatment-cytopenia-risk:info'],
    ],
  ] as const)('a draft order without an id, %s', async (_name, fullUrl, selections, expected) => {
    const { id: _id, ...order } = tocilizumabOrder('cart-day9');
    const body = hookRequest('order-select', 'cart-day9', { fhirServer: fhir.baseUrl });
    Object.assign(body['context'] as Record<string, unknown>, {
      selections,
      draftOrders: {
        resourceType: 'Bundle',
        type: 'collection',
        // The order selected instead (a selection must name a resource of draftOrders: CDS Hooks order-select).
        entry: [
          { ...(fullUrl ? { fullUrl } : {}), resource: order },
          { resource: { resourceType: 'NutritionOrder', id: 'other', status: 'draft', intent: 'order' } },
        ],
      },
    });
    const res = await request(t.app).post(`/cds-services/${ORDER_SELECT_ID}`).send(body).expect(200);
    expect(kinds((res.body as { cards: Card[] }).cards)).toEqual(expected);
  });

  // The orders that cannot be checked are said for the selected ones, selected by fullUrl too (review, 2026-11-23).
  test('an order selected by its fullUrl that cannot be checked (another patient) is listed as not checked', async () => {
    const body = hookRequest('order-select', 'cart-day9', { fhirServer: fhir.baseUrl });
    Object.assign(body['context'] as Record<string, unknown>, {
      selections: ['urn:uuid:0d9e8f7a-1b2c-4d3e-8f4a-5b6c7d8e9f00'],
      draftOrders: {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { fullUrl: 'urn:uuid:0d9e8f7a-1b2c-4d3e-8f4a-5b6c7d8e9f00', resource: tocilizumabOrder('cart-quick') },
          {
            fullUrl: 'urn:uuid:11111111-2222-4333-8444-555555555555',
            resource: transfusionOrder('rbc-9', 'cart-quick', 'red-cells'),
          },
        ],
      },
    });
    const res = await request(t.app).post(`/cds-services/${ORDER_SELECT_ID}`).send(body).expect(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(kinds(cards)).toEqual(['unread-draft-orders:warning']);
    expect(cards[0]?.detail).toContain('MedicationRequest/tocilizumab-1');
    expect(cards[0]?.detail).not.toContain('rbc-9');
  });

  test('order-select without selections is a 400 naming the field', async () => {
    const body = hookRequest('order-select', 'cart-day9', { fhirServer: fhir.baseUrl });
    (body['context'] as Record<string, unknown>)['draftOrders'] = draftOrders();
    const res = await request(t.app).post(`/cds-services/${ORDER_SELECT_ID}`).send(body).expect(400);
    expect(JSON.stringify(res.body)).toContain('context.selections');
  });
});

describe('a draft order is echoed back in its update suggestion only when a response can carry it', () => {
  /** A red-cell order whose note nests arrays until the order is `depth` levels deep (the order itself is level 1). */
  const nestedOrder = (depth: number): ReturnType<typeof transfusionOrder> => {
    let inner: unknown = [];
    for (let level = 4; level < depth; level++) inner = [inner]; // order → note[] → note{} → inner at level 4
    return transfusionOrder('rbc-deep', 'cart-day9', 'red-cells', { note: [{ text: 'x', inner } as never] });
  };

  test.each([
    [64, ['transfusion-irradiation:warning']],
    [65, ['unread-draft-orders:warning']],
  ])('an order %i levels deep → %j (MAX_ECHOED_DEPTH 64; deeper: named as not checked)', async (depth, expected) => {
    const cards = await sign('cart-day9', draftOrders(nestedOrder(depth)));
    expect(kinds(cards)).toEqual(expected);
    if (depth === 64) expect(JSON.stringify(cards[0]?.suggestions?.[0]?.actions?.[0]?.resource)).toContain('[[[');
  });
});
