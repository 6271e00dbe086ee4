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

/** A dexamethasone administration (RxNorm 3264): coded, but not as CAR-T. */
const dexamethasoneGiven = (patientId: string): Record<string, unknown> => ({
  resourceType: 'MedicationAdministration',
  id: 'dex-given',
  status: 'completed',
  medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '3264' }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: '2026-11-20T10:00:00Z',
});
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

/** What a clinician sees of a card: its kind, indicator, summary and the "Why" line of its detail. */
const seen = (cards: Card[]): string[][] =>
  cards.map((c) => {
    const why = /\*\*Why:\*\* (.*)/.exec(c.detail ?? '')?.[1];
    return [cardKind(c), c.indicator, c.summary, ...(why ? [why] : [])];
  });

// The cards of each demo patient as a clinician reads them (demo reference date 2026-11-22). Each
// value was checked by hand against the patient's generated record and the rule in
// docs/clinical-logic.md (e.g. cart-day9: ANC ≤ 0.5 on days +1..+9 = 9 days → grade 2 so far, G-CSF
// days +3..+8 = 6 doses, work-up due on day 9 + (14 − 9) = day +14; cart-biphasic: ANC ≤ 0.1 on days
// +4..+9 bridged (6) and +24 (1) = 7 days → grade 3).
const SCENARIOS: { patient: string; rule: string; cards: string[][] }[] = [
  {
    patient: 'cart-quick',
    rule: 'day +45, nothing to advise: the late-phase summary only',
    cards: [
      [
        'hematotoxicity-summary',
        'info',
        'CAR-T day +45: late ICAHT 0, late T-ICAHT 0; PHT no; no transfusion in 30 days',
      ],
    ],
  },
  {
    patient: 'cart-biphasic',
    rule: 'early ICAHT ≥ 3 → work-up (EHA/EBMT 2023)',
    cards: [
      [
        'cytopenia-workup',
        'warning',
        'Early ICAHT grade 3 (ANC ≤ 0.5 on 11 days, ≤ 0.1 on 7 days): work up the cytopenia',
        'early ICAHT grade 3: ANC ≤ 0.5 on 11 days, ≤ 0.1 on 7 days: work up the cytopenia.',
      ],
      [
        'hematotoxicity-summary',
        'info',
        'CAR-T day +40: late ICAHT 0, late T-ICAHT 2; PHT no; no transfusion in 30 days',
      ],
    ],
  },
  {
    patient: 'cart-aplastic',
    rule: 'PHT at day 28 and no neutrophil recovery by day +30 despite G-CSF → one work-up card, no G-CSF card',
    cards: [
      [
        'cytopenia-workup',
        'warning',
        'Severe cytopenia on day +28 (PHT): ANC 0.27 ×10⁹/L on day +28; work up the cytopenia',
        'severe cytopenia still present on day +28 (prolonged hematologic toxicity); early ICAHT grade 4: ' +
          'no neutrophil recovery (ANC ≤ 0.5) from day +3 through day +30; despite G-CSF since day +3: work up the cytopenia.',
      ],
      [
        'hematotoxicity-summary',
        'info',
        'CAR-T day +35: late ICAHT not gradable yet, late T-ICAHT not gradable yet; PHT yes; transfusions in 30 days: 1 RBC, 1 PLT',
      ],
    ],
  },
  {
    patient: 'cart-day9',
    rule: 'on G-CSF with ANC < 0.5 → when the work-up falls due (info); Hb < 60, PLT < 20 → critical reviews',
    cards: [
      [
        'neutropenia-on-gcsf',
        'info',
        'ANC 0.32 ×10⁹/L on day +9 despite G-CSF since day +3: counts daily, work-up if it persists',
        'ANC 0.32 ×10⁹/L on day +9 (2026-11-22) is still below 0.5 ×10⁹/L on G-CSF since day +3 (6 doses). ' +
          'If ANC stays ≤ 0.5 to day +14 (14 days, early ICAHT grade 3), work up the cytopenia.',
      ],
      [
        'red-cell-transfusion',
        'critical',
        'Hb 42 g/L on day +9 (below 60): review irradiated red cell transfusion',
        'Hemoglobin 42 g/L on day +9 (2026-11-22) is below 60 g/L (severe anemia), with no red cell transfusion recorded since: review red cell transfusion.',
      ],
      [
        'platelet-transfusion',
        'critical',
        'Platelets 10.6 ×10⁹/L on day +9 (below 20): review irradiated platelet transfusion',
        'Platelets 10.6 ×10⁹/L on day +9 (2026-11-22) are below 20 ×10⁹/L (severe thrombocytopenia), with no platelet transfusion recorded since: review platelet transfusion.',
      ],
      ['hematotoxicity-summary', 'info', 'CAR-T day +9: early ICAHT grade 2 so far; ANC 0.32, PLT 10.6, Hb 42 g/L'],
    ],
  },
  {
    patient: 'cart-day12-no-gcsf',
    rule: 'ANC < 0.5 today and no G-CSF → critical G-CSF card',
    cards: [
      [
        'g-csf',
        'critical',
        'ANC 0.36 ×10⁹/L on day +12, no G-CSF recorded: consider filgrastim 5 µg/kg/day',
        'ANC 0.36 ×10⁹/L on day +12 (2026-11-22) is below 0.5 ×10⁹/L (severe neutropenia) and no G-CSF is recorded in the last 2 days.',
      ],
      ['hematotoxicity-summary', 'info', 'CAR-T day +12: early ICAHT grade 2 so far; ANC 0.36, PLT 82, Hb 83.9 g/L'],
    ],
  },
  {
    patient: 'cart-day1-high-risk',
    rule: 'high CAR-HEMATOTOX, day 0–2 → prophylactic G-CSF (EHA/EBMT 2023)',
    cards: [
      [
        'g-csf-prophylaxis',
        'info',
        'CAR-HEMATOTOX 4 (high risk): consider prophylactic G-CSF from day +2',
        'CAR-HEMATOTOX 4 (high risk, ≥ 2) on day +1: consider prophylactic G-CSF from day +2.',
      ],
      ['hematotoxicity-summary', 'info', 'CAR-T day +1: early ICAHT grade 0 so far; ANC 1.41, PLT 98.6, Hb 95.1 g/L'],
    ],
  },
  {
    patient: 'cart-day200-low-igg',
    rule: 'IgG < 400 → IVIG review (Hill et al.); B cells back on day +150 < 6 months after tisagenlecleucel → review disease status',
    cards: [
      [
        'ivig-review',
        'warning',
        'IgG 310 mg/dL on day +180 (below 400): review IVIG replacement',
        'IgG 310 mg/dL on day +180 (2026-11-02) is below 400 mg/dL: review IVIG replacement.',
      ],
      [
        'b-cell-recovery',
        'warning',
        'B cells returned on day +150 after tisagenlecleucel: review disease status (MRD)',
        'B cells returned on day +150 after B-cell aplasia since day +7 (latest day +180, 2026-11-02: CD19+ 11.8% of lymphocytes), ' +
          'within 6 months of tisagenlecleucel: review disease status (bone marrow MRD).',
      ],
      [
        'hematotoxicity-summary',
        'info',
        'CAR-T day +200: cytopenia past day +90 (Hb); IgG 310 mg/dL (2026-11-02); B cells back since day +150; CD4 0.099 ×10⁹/L',
      ],
    ],
  },
  { patient: 'no-cart', rule: 'no CAR-T infusion → no cards', cards: [] },
];

describe.each(SCENARIOS)('$patient ($rule)', ({ patient, cards: expected }) => {
  let fetched: Card[];
  let prefetched: Card[];
  beforeAll(async () => {
    fetched = await cardsWithoutPrefetch(t, patient);
    prefetched = await cardsWithPrefetch(t, patient);
  }, 30_000);

  test('gives the expected cards, worded as a clinician reads them', () => {
    expect(seen(fetched)).toEqual(expected);
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
        expect(card.detail).toMatch(
          /\*\*Threshold in force:\*\* .+\((default|hospital setting)\)\. \*\*Sources?:\*\* .+ \(https:\/\/.+\)\./,
        );
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

test('a prefetched entry marked search.mode "outcome" that holds an Observation is read, not dropped', async () => {
  // FHIR R4 Bundle.entry.search.mode: "outcome" is for an OperationOutcome about the search. Any other
  // resource so marked was dropped without a word: cart-day9's counts vanished (helper review, 2026-11-23).
  const patientId = 'cart-day9';
  const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId, userId: 'Practitioner/demo-hematologist' });
  const observations = prefetch['observations'] as { entry: { search?: { mode: string } }[] };
  expect(observations.entry.length).toBeGreaterThan(0);
  for (const entry of observations.entry) entry.search = { mode: 'outcome' };
  const res = await request(t.app)
    .post(PATH)
    .send(hookRequest('patient-view', patientId, { prefetch }))
    .expect(200);
  expect(seen((res.body as { cards: Card[] }).cards)).toEqual(seen(await cardsWithPrefetch(t, patientId)));
  expect(JSON.stringify(res.body)).toContain('ANC 0.32');
});

test("a resource of a type the service does not read, among a search's results, is named on the cards, not dropped in silence", async () => {
  // cart-day9 is on filgrastim since day +3 with ANC 0.32: its G-CSF doses, sent as MedicationStatement in the
  // MedicationAdministration search (and the latest ANC typed "Observatio"), were left out without a word, and a
  // critical "no G-CSF recorded" card followed (hostile-input review, 2026-11-24).
  const patientId = 'cart-day9';
  const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId, userId: 'Practitioner/demo-hematologist' });
  const given = prefetch['medicationAdministrations'] as unknown as { entry: { resource: Record<string, unknown> }[] };
  const gcsf = given.entry.filter((e) => JSON.stringify(e.resource).toLowerCase().includes('filgrastim'));
  expect(gcsf.length).toBeGreaterThan(0);
  for (const [i, e] of gcsf.entries())
    e.resource['resourceType'] = i === 0 ? 'MedicationStatement' : 'MedicationRequest';
  const res = await request(t.app)
    .post(PATH)
    .send(hookRequest('patient-view', patientId, { prefetch }))
    .expect(200);
  const cards = (res.body as { cards: Card[] }).cards;
  const first = gcsf[0]?.resource['id'] as string;
  for (const card of cards.filter((c) => cardKind(c) !== 'hematotoxicity-summary'))
    expect(card.detail).toContain(`MedicationStatement/${first}`);
  expect(JSON.stringify(cards)).toContain(
    'a MedicationStatement among the MedicationAdministration results: a record type this service does not read; left out',
  );
  // The G-CSF card says a dose may be among them (withUnreadTreatmentNote), by type.
  const gcsfCard = cards.find((c) => cardKind(c) === 'g-csf');
  expect(gcsfCard?.detail).toContain(
    `1 MedicationStatement record and ${gcsf.length - 1} MedicationRequest records could not be read: a G-CSF dose among them would not be counted here.`,
  );
  // A MedicationRequest is read only as a draft order: in the record, it is not a dose given either.
  expect(JSON.stringify(cards)).toContain(
    'a MedicationRequest among the MedicationAdministration results: a record type this service does not read; left out',
  );
});

test('a prefetch Bundle whose total counts more than it holds, with no next link, is assessed and said to be short', async () => {
  const patientId = 'cart-day9';
  const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId, userId: 'Practitioner/demo-hematologist' });
  const observations = prefetch['observations'] as unknown as { total?: number; entry: unknown[] };
  const held = observations.entry.length;
  observations.total = 100000;
  const res = await request(t.app)
    .post(PATH)
    .send(hookRequest('patient-view', patientId, { prefetch }))
    .expect(200);
  expect(JSON.stringify(res.body)).toContain(
    `EHR's Observation search reports 100,000 results but holds ${held.toLocaleString('en')}, with no link to the rest: assessed on those it holds`,
  );
  expect(JSON.stringify(res.body)).toContain('ANC 0.32');
});

test('read from fhirServer, an Observation search whose total counts more than it holds, with no next link, is said to be short too', async () => {
  const patientId = 'cart-day9';
  const truncating = await serveFhir(fhir.fhir, {
    transform: (url, text) => {
      if (!url.includes('/Observation')) return text;
      const bundle = JSON.parse(text) as { total?: number; link?: { relation: string }[] };
      bundle.total = 100000;
      bundle.link = (bundle.link ?? []).filter((l) => l.relation !== 'next');
      return JSON.stringify(bundle);
    },
  });
  try {
    const res = await request(t.app)
      .post(PATH)
      .send(hookRequest('patient-view', patientId, { fhirServer: truncating.baseUrl }))
      .expect(200);
    expect(JSON.stringify(res.body)).toMatch(
      /EHR's Observation search reports 100,000 results but holds [\d,]+, with no link to the rest: assessed on those it holds/,
    );
    expect(JSON.stringify(res.body)).toContain('ANC 0.32');
  } finally {
    await truncating.close();
  }
});

test('read from fhirServer, Observation entries marked search.mode "outcome" are read, not dropped', async () => {
  const patientId = 'cart-day9';
  const marking = await serveFhir(fhir.fhir, {
    transform: (url, text) => {
      if (!url.includes('/Observation')) return text;
      const bundle = JSON.parse(text) as { entry?: { search?: { mode: string } }[] };
      for (const entry of bundle.entry ?? []) entry.search = { mode: 'outcome' };
      return JSON.stringify(bundle);
    },
  });
  try {
    const res = await request(t.app)
      .post(PATH)
      .send(hookRequest('patient-view', patientId, { fhirServer: marking.baseUrl }))
      .expect(200);
    expect(marking.requests.some((r) => r.url.includes('/Observation'))).toBe(true);
    expect(seen((res.body as { cards: Card[] }).cards)).toEqual(seen(await cardsWithoutPrefetch(t, patientId)));
  } finally {
    await marking.close();
  }
});

describe('card content', () => {
  test('G-CSF card: a filgrastim draft dosed from the recorded weight, at most one selection', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-day12-no-gcsf')).find((c) => cardKind(c) === 'g-csf') as Card;
    expect(card.detail).toContain(
      '**Threshold in force:** < 0.5 ×10⁹/L (default). **Sources:** Rejeski et al., EHA/EBMT consensus on immune effector cell-associated hematotoxicity (ICAHT), Blood 2023;142:865 (https://doi.org/10.1182/blood.2023020578); Wang et al., New-onset severe cytopenia after CAR-T in r/r ALL, Front Oncol 2021;11:702644 (https://doi.org/10.3389/fonc.2021.702644).',
    );
    expect(card.selectionBehavior).toBe('at-most-one');
    const draft = card.suggestions?.[0]?.actions?.[0];
    expect(draft?.type).toBe('create');
    // 5 µg/kg × 64 kg (weight of day −5) = 320 µg.
    expect(draft?.resource).toMatchObject({
      resourceType: 'MedicationRequest',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '68442' }] },
      reasonReference: [{ reference: 'Observation/cart-day12-no-gcsf-anc-12' }],
      dosageInstruction: [
        {
          route: { coding: [{ system: 'http://snomed.info/sct', code: '34206005' }] },
          doseAndRate: [{ doseQuantity: { value: 320, system: 'http://unitsofmeasure.org', code: 'ug' } }],
        },
      ],
    });
  });

  test('transfusion cards propose irradiated products (HL7 v2-0508 IR) and say what the window rests on', async () => {
    const cards = await cardsWithoutPrefetch(t, 'cart-day9');
    for (const kind of ['red-cell-transfusion', 'platelet-transfusion']) {
      const card = cards.find((c) => cardKind(c) === kind) as Card;
      expect(card.detail).toContain(
        'Use irradiated cellular blood products from 2026-11-06 (day -7) to 2027-02-11 (day +90). ' +
          'Leukapheresis date not recorded: the window starts 7 days before the infusion; EHA/EBMT 2023 start it 7 days before leukapheresis.',
      );
      expect(card.suggestions?.[0]?.actions?.[0]?.resource).toMatchObject({
        resourceType: 'ServiceRequest',
        orderDetail: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0508', code: 'IR' }] }],
      });
    }
  });

  test('on G-CSF: no card asks for G-CSF again and no filgrastim draft is offered', async () => {
    for (const patient of ['cart-aplastic', 'cart-day9']) {
      const cards = await cardsWithoutPrefetch(t, patient);
      expect(cards.map(cardKind)).not.toContain('g-csf');
      for (const card of cards) expect(JSON.stringify(card.suggestions ?? [])).not.toContain('68442');
    }
  });

  test('prophylactic G-CSF card shows the CAR-HEMATOTOX values with their dates', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-day1-high-risk')).find(
      (c) => cardKind(c) === 'g-csf-prophylaxis',
    ) as Card;
    expect(card.detail).toMatch(/\| Ferritin \| [\d.]+ ng\/mL \| \d{4}-\d{2}-\d{2} \| [0-2] \|/);
    expect(card.suggestions?.[0]?.actions?.[0]?.resource).toMatchObject({
      dosageInstruction: [
        { timing: { repeat: { boundsPeriod: { start: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) } } } },
      ],
    });
  });

  test('work-up card offers marrow and four viral PCRs as drafts, not the ferritin drawn since the cytopenia began', async () => {
    const card = (await cardsWithoutPrefetch(t, 'cart-aplastic')).find(
      (c) => cardKind(c) === 'cytopenia-workup',
    ) as Card;
    expect(card.detail).toContain('| ANC < 0.5 |');
    expect(card.selectionBehavior).toBe('any');
    // cart-aplastic: ANC < 0.5 from day +3, ongoing; a ferritin of 5109 on day +28 is a part of the work-up done.
    expect(card.detail).toContain(
      '- Already recorded since the cytopenia began (day +3): ferritin 5109 ng/mL on day +28.\n- Bone marrow aspirate and biopsy; viral PCR (CMV, EBV, parvovirus B19, HHV-6).',
    );
    expect(card.suggestions?.map((s) => s.label)).toEqual([
      'Bone marrow aspirate and biopsy (draft)',
      expect.stringMatching(/^Viral PCR: .*CMV.*EBV.*B19.*HHV-6.* \(drafts\)$/),
    ]);
    expect(card.suggestions?.[1]?.actions).toHaveLength(4);
  });

  test('the summary is short and speaks to the phase of care', async () => {
    const byPatient = async (p: string): Promise<Card> =>
      (await cardsWithoutPrefetch(t, p)).find((c) => cardKind(c) === 'hematotoxicity-summary') as Card;
    const early = await byPatient('cart-day9');
    const late = await byPatient('cart-biphasic');
    const immune = await byPatient('cart-day200-low-igg');
    for (const card of [early, late, immune]) expect(card.detail?.length).toBeLessThan(1200);
    expect(early.detail).toContain('**EHA/EBMT ICAHT:**');
    expect(early.detail).toContain('**CAR-HEMATOTOX');
    expect(late.detail).toContain('Neutrophil recovery: intermittent: recovered, then ANC ≤ 0.5 again after day +21');
    expect(late.detail).not.toContain('CAR-HEMATOTOX');
    expect(immune.detail).toContain('**Immune reconstitution:**');
    expect(immune.detail).not.toContain('CAR-HEMATOTOX');
    expect(immune.detail).not.toContain('EHA/EBMT ICAHT');
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

  test('records of another patient, or naming none, are named on every card, not dropped in silence', async () => {
    const prefetch = await fullPrefetch(service, fhir.baseUrl, {
      patientId: 'cart-day9',
      userId: 'Practitioner/demo-hematologist',
    });
    const observations = prefetch['observations'] as unknown as { entry: { resource: Record<string, unknown> }[] };
    const anc = observations.entry.find((e) => JSON.stringify(e.resource['code']).includes('751-8'))?.resource;
    observations.entry.push(
      { resource: { ...anc, id: 'anc-elsewhere', subject: { reference: 'Patient/someone-else' } } },
      { resource: { ...anc, id: 'anc-nobody', subject: { identifier: { value: 'MRN 1' } } } },
    );
    const res = await request(t.app)
      .post(PATH)
      .send(hookRequest('patient-view', 'cart-day9', { prefetch }))
      .expect(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards)
      expect(card.detail).toContain(
        '**Data not used:** 2 records name another patient or none and were left out: Observation/anc-elsewhere (belongs to another patient); Observation/anc-nobody (names no patient).',
      );
  });

  /** cart-day9's prefetch with every administration and procedure dated `date` (what the EHR sent). */
  async function cartDay9Dated(date: unknown): Promise<Record<string, unknown>> {
    const prefetch = await fullPrefetch(service, fhir.baseUrl, {
      patientId: 'cart-day9',
      userId: 'Practitioner/demo-hematologist',
    });
    for (const key of ['medicationAdministrations', 'procedures']) {
      const bundle = prefetch[key] as unknown as { entry: { resource: Record<string, unknown> }[] };
      for (const { resource } of bundle.entry) {
        if ('effectiveDateTime' in resource) resource['effectiveDateTime'] = date;
        if ('performedDateTime' in resource) resource['performedDateTime'] = date;
      }
    }
    return prefetch;
  }

  /** cart-day9's cards with its infusion records dated `date`: the one unread-infusion warning, checked here. */
  async function unreadInfusionCards(date: unknown): Promise<Card[]> {
    const prefetch = await cartDay9Dated(date);
    const res = await request(t.app)
      .post(PATH)
      .send(hookRequest('patient-view', 'cart-day9', { prefetch }))
      .expect(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(cards.map((c) => `${cardKind(c)}:${c.indicator}`)).toEqual(['unread-infusion:warning']);
    expect(cards[0]?.summary).toBe('CAR-T infusion record could not be read: hematotoxicity not assessed');
    return cards;
  }

  test('an infusion record that cannot be read: a card says so, instead of none as if never treated', async () => {
    // Every administration and procedure with a date of the wrong type (a number): none can be read.
    const cards = await unreadInfusionCards(20261113);
    const detail = cards[0]?.detail ?? '';
    expect(detail).toMatch(
      /^\*\*Why:\*\* this record holds a CAR-T infusion that could not be read, so day 0 is not known and nothing that counts from it \(cytopenia grades, ICAHT, recovery; G-CSF, transfusion and IVIG advice\) was assessed:\n\n- (MedicationAdministration|Procedure)\/[^:]+: (effective|performed)DateTime: Invalid input: expected string, received number/,
    );
    expect(
      detail.endsWith('Check the infusion in the chart; the EHR sent it in a shape this service does not read.'),
    ).toBe(true);
  });

  test.each<[string, string]>([
    ['2026-11', 'dated to the month only (a valid FHIR dateTime, but no day 0)'],
    ['2026-02-29T10:00:00Z', 'dated to a day that does not exist'],
  ])('an infusion record %s (%s): the unread-infusion card, naming it', async (date) => {
    const cards = await unreadInfusionCards(date);
    expect(cards[0]?.detail).toMatch(
      /was assessed:\n\n- (MedicationAdministration|Procedure)\/[^:]+: [^\n]+: no date to the day\n/,
    );
  });

  test('a patient without CAR-T whose administrations cannot be read still gets no card (nothing coded as CAR-T)', async () => {
    const prefetch = await fullPrefetch(service, fhir.baseUrl, {
      patientId: 'no-cart',
      userId: 'Practitioner/demo-hematologist',
    });
    const bundle = prefetch['medicationAdministrations'] as unknown as {
      entry: { resource: Record<string, unknown> }[];
    };
    bundle.entry.push({ resource: { ...dexamethasoneGiven('no-cart'), effectiveDateTime: 20261113 } });
    for (const { resource } of bundle.entry) resource['effectiveDateTime'] = 20261113;
    const res = await request(t.app)
      .post(PATH)
      .send(hookRequest('patient-view', 'no-cart', { prefetch }))
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
    expect(redCells.detail).toContain(
      '**Threshold in force:** < 70 g/L (hospital setting). **Source:** Example University',
    );
    // The hospital's protocol is cited, with the default's source named.
    expect(redCells.source).toMatchObject({
      label: expect.stringMatching(/^Example University Hospital CAR-T transfusion SOP v3 \(default from Wang et al\./),
      url: 'https://intranet.example-hospital.org/sop/car-t-transfusion',
    });
    // Platelets 10.6 ×10⁹/L are not below this hospital's 10.
    expect(cards.map(cardKind)).not.toContain('platelet-transfusion');
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
