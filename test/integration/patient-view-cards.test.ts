/**
 * patient-view cards from the demo patients, loaded into the embedded FHIR server and called the
 * two ways an EHR can: with the full prefetch, and with no prefetch (the service fetches over HTTP).
 * Both must give the same cards, and every card must be one a hematologist can act on: schema
 * valid, a short summary with the number, values with dates, the threshold in force and its source.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { cardKind } from '../../src/shared/card-kind.js';
import { cardSchema, cdsResponseSchema, type Card } from '../../src/cds-hooks/schemas.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { buildTestApp, hookRequest, LogCapture, type TestApp } from '../helpers/app.js';
import { fullPrefetch, type DiscoveredService } from '../helpers/ehr.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

const SMART_LAUNCH = 'http://localhost:8080/smart/launch.html';
const PATH = `/cds-services/${PATIENT_VIEW_ID}`;

let fhir: TestFhirServer;
let t: TestApp;
let service: DiscoveredService;

beforeAll(async () => {
  fhir = await serveFhir(await seededDemo());
  t = buildTestApp();
  const discovery = await request(t.app).get('/cds-services').expect(200);
  service = (discovery.body as { services: DiscoveredService[] }).services.find(
    (s) => s.id === PATIENT_VIEW_ID,
  ) as DiscoveredService;
}, 60_000);
afterAll(async () => {
  await fhir.close();
});

async function cardsWithoutPrefetch(app: TestApp, patientId: string): Promise<Card[]> {
  const res = await request(app.app)
    .post(PATH)
    .send(hookRequest('patient-view', patientId, { fhirServer: fhir.baseUrl }))
    .expect(200);
  expect(cdsResponseSchema.safeParse(res.body).success).toBe(true);
  return (res.body as { cards: Card[] }).cards;
}

async function cardsWithPrefetch(app: TestApp, patientId: string): Promise<Card[]> {
  const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId, userId: 'Practitioner/demo-hematologist' });
  const before = fhir.requests.length;
  // No fhirServer: the service must not need one when everything is prefetched.
  const res = await request(app.app)
    .post(PATH)
    .send(hookRequest('patient-view', patientId, { prefetch }))
    .expect(200);
  expect(fhir.requests.length).toBe(before);
  return (res.body as { cards: Card[] }).cards;
}

const kinds = (cards: Card[]): string[] => cards.map((c) => `${cardKind(c)}:${c.indicator}`);

// Expected cards per demo scenario; the rule behind each is docs/clinical-logic.md.
const SCENARIOS: { patient: string; cards: string[]; rule: string }[] = [
  {
    patient: 'cart-quick',
    cards: ['hematotoxicity-summary:info'],
    rule: 'quick recovery, nothing to advise: summary only',
  },
  {
    patient: 'cart-biphasic',
    cards: ['cytopenia-workup:warning', 'hematotoxicity-summary:info'],
    rule: 'early ICAHT ≥ 3 → work-up (EHA/EBMT 2023)',
  },
  {
    patient: 'cart-aplastic',
    cards: ['g-csf:critical', 'cytopenia-workup:warning', 'hematotoxicity-summary:info'],
    rule: 'ANC < 0.5 → G-CSF (Wang et al. 2021); PHT at day 28 → work-up',
  },
  {
    patient: 'cart-day9',
    cards: [
      'g-csf:critical',
      'red-cell-transfusion:critical',
      'platelet-transfusion:critical',
      'hematotoxicity-summary:info',
    ],
    rule: 'ANC < 0.5, Hb < 60 g/L, PLT < 20 (Wang et al. 2021)',
  },
  {
    patient: 'cart-day1-high-risk',
    cards: ['g-csf-prophylaxis:info', 'hematotoxicity-summary:info'],
    rule: 'high CAR-HEMATOTOX, day 0–2 → prophylactic G-CSF (EHA/EBMT 2023)',
  },
  {
    patient: 'cart-day200-low-igg',
    cards: ['ivig-review:warning', 'hematotoxicity-summary:info'],
    rule: 'IgG < 400 mg/dL → IVIG review (Hill et al.)',
  },
  { patient: 'no-cart', cards: [], rule: 'no CAR-T infusion → no cards' },
];

describe.each(SCENARIOS)('$patient ($rule)', ({ patient, cards: expected }) => {
  let fetched: Card[];
  let prefetched: Card[];
  beforeAll(async () => {
    fetched = await cardsWithoutPrefetch(t, patient);
    prefetched = await cardsWithPrefetch(t, patient);
  }, 30_000);

  test('gives the expected cards', () => {
    expect(kinds(fetched)).toEqual(expected);
  });

  test('full prefetch and no prefetch give identical cards', () => {
    expect(prefetched).toEqual(fetched);
  });

  test('every card is schema-valid and says what it saw, why, and from which source', () => {
    for (const card of fetched) {
      expect(cardSchema.safeParse(card).success).toBe(true);
      expect(card.summary.length).toBeLessThan(140);
      expect(card.summary).toMatch(/\d/);
      expect(card.detail).toMatch(/\d{4}-\d{2}-\d{2}/); // values carry their dates
      expect(card.source.label).toBeTruthy();
      expect(card.source.url).toMatch(/^https:\/\//);
      expect(card.source.topic?.code).toBe(cardKind(card));
      expect(card.source.topic?.display).toBeTruthy();
      expect(card.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(card.overrideReasons?.length).toBeGreaterThan(0);
      for (const reason of card.overrideReasons ?? []) expect(reason.display).toBeTruthy();
      expect(card.links).toEqual([expect.objectContaining({ type: 'smart', url: SMART_LAUNCH })]);
      if (cardKind(card) !== 'hematotoxicity-summary') {
        expect(card.detail).toMatch(/\*\*Threshold in force:\*\* .+\((default|hospital setting); .+\)/);
        expect(card.detail).toContain('**Why:**');
      }
      if (card.suggestions) {
        expect(card.selectionBehavior).toBeDefined();
        for (const s of card.suggestions) {
          expect(s.uuid).toBeTruthy();
          for (const action of s.actions ?? []) {
            const resource = action.resource as {
              resourceType: string;
              status: string;
              intent: string;
              subject: { reference: string };
            };
            expect(['MedicationRequest', 'ServiceRequest']).toContain(resource.resourceType);
            expect(resource).toMatchObject({
              status: 'draft',
              intent: 'proposal',
              subject: { reference: `Patient/${patient}` },
            });
          }
        }
      }
    }
  });

  test('the same situation gives the same card uuids on the next call', async () => {
    const again = await cardsWithoutPrefetch(t, patient);
    expect(again.map((c) => c.uuid)).toEqual(fetched.map((c) => c.uuid));
  });
});

describe('card content', () => {
  test('G-CSF card: the triggering ANC in the summary, a filgrastim draft, at most one selection', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-demo-01')).find((c) => cardKind(c) === 'g-csf') as Card;
    expect(card.summary).toMatch(/^ANC 0\.\d+ ×10⁹\/L on day \+\d+ \(early ICAHT grade \d( so far)?\)/);
    expect(card.detail).toContain('< 0.5 ×10⁹/L (default; EHA/EBMT ICAHT consensus');
    expect(card.selectionBehavior).toBe('at-most-one');
    const draft = card.suggestions?.[0]?.actions?.[0];
    expect(draft?.type).toBe('create');
    expect(draft?.resource).toMatchObject({
      resourceType: 'MedicationRequest',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '68442' }] },
      reasonReference: [{ reference: expect.stringMatching(/^Observation\/cart-demo-01-anc-/) }],
    });
  });

  test('transfusion cards propose irradiated products', async () => {
    const cards = await cardsWithoutPrefetch(t, 'cart-day9');
    for (const kind of ['red-cell-transfusion', 'platelet-transfusion']) {
      const card = cards.find((c) => cardKind(c) === kind) as Card;
      expect(card.detail).toContain('irradiated');
      expect(card.suggestions?.[0]?.actions?.[0]?.resource).toMatchObject({
        resourceType: 'ServiceRequest',
        orderDetail: [{ coding: [{ code: 'irradiated' }] }],
      });
    }
  });

  test.each(['cart-aplastic', 'cart-day9'])(
    '%s: G-CSF given in the last days, so the card says so and offers no duplicate order',
    async (patient) => {
      const card = (await cardsWithoutPrefetch(t, patient)).find((c) => cardKind(c) === 'g-csf') as Card;
      expect(card.summary).toMatch(/despite G-CSF on day \+\d+/);
      expect(card.detail).toMatch(/G-CSF already given on day \+\d+/);
      expect(card.suggestions).toBeUndefined();
    },
  );

  test('prophylactic G-CSF card shows the CAR-HEMATOTOX values with their dates', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-day1-high-risk')).find(
      (c) => cardKind(c) === 'g-csf-prophylaxis',
    ) as Card;
    expect(card.summary).toMatch(/^CAR-HEMATOTOX \d+ \(high\) on day \+1/);
    expect(card.detail).toMatch(/\| Ferritin \| [\d.]+ ng\/mL \| \d{4}-\d{2}-\d{2} \| [0-2] \|/);
    expect(card.suggestions?.[0]?.actions?.[0]?.resource).toMatchObject({
      dosageInstruction: [
        { timing: { repeat: { boundsPeriod: { start: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) } } } },
      ],
    });
  });

  test('work-up card for PHT names the value at day 28 and offers marrow, viral and ferritin drafts', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-aplastic')).find(
      (c) => cardKind(c) === 'cytopenia-workup',
    ) as Card;
    expect(card.summary).toMatch(/^Severe cytopenia on day \+28 \(PHT\): ANC [\d.]+ ×10⁹\/L on day \+(2[5-9]|3[01])/);
    expect(card.detail).toContain('| ANC < 0.5 |');
    expect(card.selectionBehavior).toBe('any');
    expect(card.suggestions?.map((s) => s.label)).toEqual([
      expect.stringMatching(/marrow/i),
      expect.stringMatching(/CMV, EBV, parvovirus B19, HHV-6/),
      expect.stringMatching(/Ferritin/),
    ]);
  });

  test('summary card states ICAHT grade, day post infusion and CAR-HEMATOTOX', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-biphasic')).find(
      (c) => cardKind(c) === 'hematotoxicity-summary',
    ) as Card;
    expect(card.summary).toMatch(/^CAR-T day \+40: early ICAHT grade \d; CAR-HEMATOTOX \d+ \((low|high)\)$/);
    expect(card.detail).toContain('| ANC |');
    expect(card.detail).toContain('Neutrophil recovery: intermittent');
  });

  test('a patient without CAR-T gets no cards, also when only the patient is prefetched', async () => {
    const res = await request(t.app)
      .post(PATH)
      .send(
        hookRequest('patient-view', 'no-cart', {
          prefetch: {
            patient: null,
            observations: null,
            medicationAdministrations: { resourceType: 'Bundle', type: 'searchset', entry: [] },
            procedures: { resourceType: 'Bundle', type: 'searchset', entry: [] },
            conditions: null,
          },
          fhirServer: fhir.baseUrl,
        }),
      )
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
  });

  test('no SMART link when the app is not served', async () => {
    const app = buildTestApp();
    app.deps.serviceDeps.smartLaunchUrl = undefined;
    const cards = await cardsWithoutPrefetch(app, 'cart-quick');
    expect(cards[0]?.links).toBeUndefined();
  });
});

describe('hospital thresholds', () => {
  test('a thresholds file changes what is advised, and the card shows the threshold in force', async () => {
    const hospital = buildTestApp({ env: { THRESHOLDS_FILE: 'config/thresholds.example.yaml' } });
    const cards = await cardsWithoutPrefetch(hospital, 'cart-day9');
    const redCells = cards.find((c) => cardKind(c) === 'red-cell-transfusion') as Card;
    expect(redCells.summary).toContain('(below 70)');
    expect(redCells.detail).toContain('**Threshold in force:** < 70 g/L (hospital setting;');
    // The hospital's protocol is cited, with the default's source named.
    expect(redCells.source).toMatchObject({
      label: expect.stringMatching(/^Example University Hospital CAR-T transfusion SOP v3 \(default from Wang et al\./),
      url: 'https://intranet.example-hospital.org/sop/car-t-transfusion',
    });
    // Platelets 10.6 ×10⁹/L are not below this hospital's 10.
    expect(kinds(cards)).not.toContain('platelet-transfusion:critical');
  });

  test('an invalid thresholds file stops start-up with a message naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cart-thresholds-'));
    const file = join(dir, 'thresholds.yaml');
    writeFileSync(file, 'actions:\n  redCellHemoglobin: -5\n  plateletCount: ten\n');
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      THRESHOLDS_FILE: file,
      FEEDBACK_SQLITE_PATH: ':memory:',
      PORT: '0',
    });
    const start = startServer(config, createLogger('silent', new LogCapture()));
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/actions\.redCellHemoglobin/);
    await expect(start).rejects.toThrow(/actions\.plateletCount/);
  });
});
