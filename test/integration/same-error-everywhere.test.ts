/**
 * One error type, one status map: the same bad input gets the same answer from every endpoint that
 * reads FHIR resources (patient-view, order-sign, order-select, POST /assessments), and every error
 * outcome carries the request id.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource } from 'fhir/r4.js';
import request from 'supertest';
import { cdsServices } from '../../cds-services/index.js';
import { ORDER_SELECT_ID } from '../../cds-services/order-select-hematotox.js';
import { ORDER_SIGN_ID } from '../../cds-services/order-sign-hematotox.js';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { REQUEST_ID_EXTENSION } from '../../src/cds-hooks/outcomes.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import type { CdsServiceDefinition } from '../../src/cds-hooks/service.js';
import { assess } from '../../src/clinical/index.js';
import { demoPatients } from '../../src/demo/demo-patients.js';
import { engineSettings } from '../../src/profiles.js';
import type { ServiceDeps } from '../../src/service-deps.js';
import { buildTestApp, hookRequest } from '../helpers/app.js';
import { draftOrders, tocilizumabOrder } from '../helpers/orders.js';

const TODAY = '2026-11-22'; // the test app's clock
const PATIENT = 'cart-aplastic';
const resources = demoPatients(TODAY).find((p) => p.scenario.id === PATIENT)?.resources ?? [];

interface Bundle {
  resourceType: 'Bundle';
  type: string;
  entry: unknown;
}
const bundleOf = (rs: readonly unknown[], type = 'searchset'): Bundle => ({
  resourceType: 'Bundle',
  type,
  entry: rs.map((resource) => ({ resource })),
});
const ofType = (type: string): FhirResource[] => resources.filter((r) => r.resourceType === type);

/** The full prefetch of the hematotoxicity services, with `observations` given as `observations`. */
function prefetch(observations: Bundle): Record<string, unknown> {
  return {
    patient: ofType('Patient')[0],
    observations,
    medicationAdministrations: bundleOf(ofType('MedicationAdministration')),
    procedures: bundleOf(ofType('Procedure')),
    conditions: bundleOf(ofType('Condition')),
  };
}

/**
 * Each endpoint, and where in its request a Bundle of the patient's resources goes: the body of
 * POST /assessments, the Observation prefetch of patient-view, the draft orders of the order hooks.
 */
interface Endpoint {
  name: string;
  /** FHIRPath-like location of the Bundle in the request ('' for the body itself). */
  at: string;
  /** The request with `bundle` in its place. */
  call(bundle: Bundle): { path: string; body: Record<string, unknown> };
}

const observations = bundleOf(ofType('Observation'));
const orders = (): Bundle => draftOrders(tocilizumabOrder(PATIENT)) as unknown as Bundle;
const hook = (
  name: string,
  context: Record<string, unknown>,
  prefetched: Record<string, unknown>,
): Record<string, unknown> => {
  const body = hookRequest(name as 'patient-view', PATIENT, { prefetch: prefetched });
  Object.assign(body['context'] as Record<string, unknown>, context);
  return body;
};

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /assessments',
    at: '',
    call: (bundle) => ({ path: `/assessments?asOf=${TODAY}`, body: { ...bundle, type: 'collection' } }),
  },
  {
    name: 'patient-view',
    at: 'prefetch.observations.',
    call: (bundle) => ({ path: `/cds-services/${PATIENT_VIEW_ID}`, body: hook('patient-view', {}, prefetch(bundle)) }),
  },
  {
    name: 'order-sign',
    at: 'context.draftOrders.',
    call: (bundle) => ({
      path: `/cds-services/${ORDER_SIGN_ID}`,
      body: hook('order-sign', { draftOrders: bundle }, prefetch(observations)),
    }),
  },
  {
    name: 'order-select',
    at: 'context.draftOrders.',
    call: (bundle) => ({
      path: `/cds-services/${ORDER_SELECT_ID}`,
      body: hook(
        'order-select',
        { draftOrders: bundle, selections: ['MedicationRequest/tocilizumab-1'] },
        prefetch(observations),
      ),
    }),
  },
];

/** The Bundle each endpoint reads at its place, when the input is good. */
const goodBundle = (e: Endpoint): Bundle => (e.at === 'context.draftOrders.' ? orders() : observations);

interface Outcome {
  resourceType: string;
  issue: { severity: string; code: string; diagnostics?: string; expression?: string[] }[];
  extension?: { url: string; valueString?: string }[];
}

/** The outcome without what differs by endpoint: the location prefix and the request id. */
function located(outcome: Outcome, at: string): Outcome {
  const strip = (text: string): string => (at && text.startsWith(at) ? text.slice(at.length) : text);
  return {
    resourceType: outcome.resourceType,
    issue: outcome.issue.map((i) => ({
      ...i,
      ...(i.diagnostics ? { diagnostics: strip(i.diagnostics) } : {}),
      ...(i.expression ? { expression: i.expression.map(strip) } : {}),
    })),
  };
}

const requestIdOf = (outcome: Outcome): string | undefined =>
  outcome.extension?.find((e) => e.url === REQUEST_ID_EXTENSION)?.valueString;

describe('the same bad input gets the same answer on every endpoint', () => {
  const { app } = buildTestApp();

  test.each(ENDPOINTS)(
    '$name: a Bundle whose entry is not a list is a 400 naming the field, with the request id',
    async (endpoint) => {
      const { path, body } = endpoint.call({ ...goodBundle(endpoint), entry: 'not a list' });
      const res = await request(app)
        .post(path)
        .set('x-request-id', `same-error-${endpoint.name.replace(/\W+/g, '-')}`)
        .send(body)
        .expect(400);
      expect(res.type).toBe('application/fhir+json');
      const outcome = JSON.parse(res.text) as Outcome;
      expect(outcome).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'invalid',
            expression: [`${endpoint.at}entry`],
            diagnostics: `${endpoint.at}entry: Invalid input: expected array, received string`,
          },
        ],
      });
      expect(outcome.issue).toHaveLength(1);
      expect(requestIdOf(outcome)).toBe(res.get('x-request-id'));
      expect(requestIdOf(outcome)).toMatch(/^same-error-/);
    },
  );

  test('the four outcomes are the same but for where the Bundle sits', async () => {
    const outcomes = await Promise.all(
      ENDPOINTS.map(async (endpoint) => {
        const { path, body } = endpoint.call({ ...goodBundle(endpoint), entry: 'not a list' });
        const res = await request(app).post(path).send(body).expect(400);
        return located(JSON.parse(res.text) as Outcome, endpoint.at);
      }),
    );
    for (const outcome of outcomes.slice(1)) expect(outcome).toEqual(outcomes[0]);
  });

  test.each(ENDPOINTS)(
    '$name: a resource with a malformed element is left out and said so; the call succeeds',
    async (endpoint) => {
      const bad = {
        resourceType: 'Observation',
        id: 'bad-1',
        status: 'final',
        code: { coding: 'not a list' },
        subject: { reference: `Patient/${PATIENT}` },
      };
      // The order hooks read Observations from the prefetch; the malformed one goes there.
      const orderHook = endpoint.at === 'context.draftOrders.';
      const withBad = bundleOf([...ofType('Observation'), bad]);
      const { path, body } = orderHook ? endpoint.call(orders()) : endpoint.call(withBad);
      if (orderHook) (body['prefetch'] as Record<string, unknown>)['observations'] = withBad;
      const res = await request(app).post(path).send(body).expect(200);
      const leftOut = 'Observation/bad-1 (code.coding: Invalid input: expected array, received string)';
      if (endpoint.at === '') {
        expect(res.body.issues).toContainEqual({
          severity: 'warning',
          code: 'resource-invalid',
          message: 'code.coding: Invalid input: expected array, received string; resource left out',
          resource: 'Observation/bad-1',
        });
      } else {
        const cards = res.body.cards as Card[];
        expect(cards.length).toBeGreaterThan(0);
        for (const card of cards) expect(card.detail).toContain(leftOut);
      }
    },
  );
});

describe("the engine's input errors are a 400 wherever the engine runs", () => {
  // Resources of two patients and no patient named: assess() throws AssessmentInputError.
  const twoPatients = [
    { resourceType: 'Patient', id: 'a' },
    { resourceType: 'Patient', id: 'b' },
  ];
  /** A CDS service that hands its prefetch to the engine without naming the patient. */
  const engineService = (clinical: ServiceDeps['clinical']): CdsServiceDefinition<'patient-view', ServiceDeps> => ({
    id: 'assess-prefetch',
    hook: 'patient-view',
    title: 'Assesses its prefetch',
    description: 'test service',
    prefetch: { everything: 'Patient?_id={{context.patientId}}' },
    requiredPrefetch: ['everything'],
    handler: ({ data }) => {
      assess(data['everything']?.resources ?? [], { ...engineSettings(clinical), asOf: TODAY });
      return Promise.resolve({ cards: [] });
    },
  });
  const { app, logs } = buildTestApp({ services: (clinical) => [...cdsServices(clinical), engineService(clinical)] });

  test('POST /assessments and a CDS service answer the same OperationOutcome', async () => {
    const viaAssessments = await request(app)
      .post('/assessments')
      .send(bundleOf(twoPatients, 'collection'))
      .expect(400);
    const viaService = await request(app)
      .post('/cds-services/assess-prefetch')
      .send(hookRequest('patient-view', 'a', { prefetch: { everything: bundleOf(twoPatients) } }))
      .expect(400);
    const expected = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'invalid',
          expression: ['(body)'],
          diagnostics: "the resources concern 2 patients; give one patient's resources",
        },
      ],
    };
    for (const res of [viaAssessments, viaService]) {
      const outcome = JSON.parse(res.text) as Outcome;
      expect(outcome).toMatchObject(expected);
      expect(requestIdOf(outcome)).toBe(res.get('x-request-id'));
    }
    expect(logs.text).not.toContain('unhandled error');
  });
});

describe('every error outcome carries the request id', () => {
  const { app } = buildTestApp();

  test.each([
    ['404, no such route', () => request(app).get('/no-such-route'), 404],
    [
      '404, no such service',
      () => request(app).post('/cds-services/nope').send(hookRequest('patient-view', 'p1')),
      404,
    ],
    ['415, not JSON', () => request(app).post('/assessments').set('content-type', 'text/plain').send('x'), 415],
    [
      '400, malformed JSON',
      () => request(app).post('/assessments').set('content-type', 'application/json').send('{'),
      400,
    ],
    [
      '412, no prefetch and no fhirServer',
      () => request(app).post(`/cds-services/${PATIENT_VIEW_ID}`).send(hookRequest('patient-view', 'p1')),
      412,
    ],
  ] as const)('%s', async (_name, send, status) => {
    const res = await send().expect(status);
    const outcome = JSON.parse(res.text) as Outcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(requestIdOf(outcome)).toBe(res.get('x-request-id'));
  });
});
