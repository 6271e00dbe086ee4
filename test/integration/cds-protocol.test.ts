/**
 * The CDS Hooks 2.0 protocol edge: discovery, request validation, status codes, responses, CORS,
 * health and logging, against the real express app.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  cdsResponseSchema,
  discoveryResponseSchema,
  feedbackRequestSchema,
  cdsRequestSchema,
} from '../../src/cds-hooks/schemas.js';
import { buildTestApp, hookRequest } from '../helpers/app.js';
import { blackHole } from '../helpers/servers.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/cds-hooks-spec/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

describe('discovery', () => {
  test('lists every service from cds-services/ with hook, id, title, description and prefetch', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/cds-services').expect(200);
    expect(discoveryResponseSchema.safeParse(res.body).success).toBe(true);
    expect(res.body.services).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          hook: 'patient-view',
          id: 'cart-hematotox-patient-view',
          title: expect.any(String),
          description: expect.any(String),
          prefetch: expect.objectContaining({
            patient: 'Patient/{{context.patientId}}',
            observations: expect.stringContaining('Observation?patient={{context.patientId}}&code='),
          }),
        }),
      ]),
    );
  });

  test('the Observation prefetch lists the ValueSet codes, e.g. ANC 751-8 and IgG 2465-3', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/cds-services').expect(200);
    const template = decodeURIComponent(res.body.services[0].prefetch.observations as string);
    expect(template).toContain('http://loinc.org|751-8');
    expect(template).toContain('http://loinc.org|2465-3');
  });
});

describe('the spec examples', () => {
  test('the spec example request parses as a CDS Hooks request', () => {
    const parsed = cdsRequestSchema.safeParse(fixture('request-example.json'));
    expect(parsed.success).toBe(true);
  });

  test('the spec example request reaches the service: its http fhirServer is refused, so 412 (not 400)', async () => {
    const { app } = buildTestApp({ env: { FHIR_ALLOW_HTTP: 'false' } });
    const res = await request(app).post(SERVICE).send(fixture('request-example.json')).expect(412);
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'processing' }],
    });
    expect(res.body.issue[0].diagnostics).toContain('fhirServer must use https');
  });

  test('the spec example response and feedback validate against our schemas', () => {
    expect(cdsResponseSchema.safeParse(fixture('response-example.json')).success).toBe(true);
    expect(feedbackRequestSchema.safeParse(fixture('feedback-example.json')).success).toBe(true);
  });
});

describe('request validation', () => {
  const { app } = buildTestApp();

  test('a valid request with complete prefetch answers 200 and { "cards": [] } for a patient with no data', async () => {
    const body = hookRequest('patient-view', 'p1', {
      prefetch: {
        patient: { resourceType: 'Patient', id: 'p1' },
        observations: null,
        medicationAdministrations: null,
        procedures: null,
        conditions: null,
      },
    });
    const res = await request(app).post(SERVICE).send(body).expect(200);
    expect(res.body).toEqual({ cards: [] });
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });

  test.each([
    ['missing hook', { hook: undefined }, 'hook'],
    ['missing hookInstance', { hookInstance: undefined }, 'hookInstance'],
    ['hookInstance not a UUID', { hookInstance: 'abc' }, 'hookInstance'],
    ['context not an object', { context: 'Patient/1' }, 'context'],
    ['fhirServer not a URL', { fhirServer: 'not a url' }, 'fhirServer'],
    ['patientId not a FHIR id', { context: { userId: 'Practitioner/1', patientId: 'a/b' } }, 'context.patientId'],
    ['prefetch not an object', { prefetch: [] }, 'prefetch'],
  ])('400 naming the field: %s', async (_name, patch, field) => {
    const body = { ...hookRequest('patient-view', 'p1'), ...patch };
    const res = await request(app).post(SERVICE).send(body).expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.some((i: { expression?: string[] }) => i.expression?.includes(field))).toBe(true);
  });

  // CDS Hooks 2.0 fhirAuthorization as EHRs really send it: none of these fails a call whose prefetch is complete.
  const completePrefetch = {
    patient: { resourceType: 'Patient', id: 'p1' },
    observations: null,
    medicationAdministrations: null,
    procedures: null,
    conditions: null,
  };
  const auth = { access_token: 'x', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'svc' };
  test.each([
    [
      'token_type in lower case',
      { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, token_type: 'bearer' } },
    ],
    [
      'expires_in as a numeric string',
      { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, expires_in: '300' } },
    ],
    ['no subject', { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, subject: undefined } }],
    ['no scope', { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, scope: undefined } }],
    [
      'no access_token',
      { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, access_token: undefined } },
    ],
    [
      'token_type MAC',
      { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: { ...auth, token_type: 'MAC' } },
    ],
    ['fhirAuthorization without fhirServer', { fhirAuthorization: auth }],
    ['fhirAuthorization not an object', { fhirServer: 'https://ehr.example.org/fhir', fhirAuthorization: 'Bearer x' }],
  ])('200 with complete prefetch and fhirAuthorization with %s', async (_name, patch) => {
    const body = { ...hookRequest('patient-view', 'p1', { prefetch: completePrefetch }), ...patch };
    const res = await request(app).post(SERVICE).send(body).expect(200);
    expect(res.body).toEqual({ cards: [] });
  });

  test.each([
    ['no access_token', { ...auth, access_token: undefined }, 'fhirAuthorization has no access_token'],
    ['token_type MAC', { ...auth, token_type: 'MAC' }, 'fhirAuthorization.token_type is not Bearer'],
  ])(
    '412 naming the keys when fhirServer must be read and fhirAuthorization has %s',
    async (_name, fhirAuthorization, why) => {
      const body = hookRequest('patient-view', 'p1', {
        fhirServer: 'https://ehr.example.org/fhir',
        fhirAuthorization,
        prefetch: { ...completePrefetch, observations: undefined },
      });
      const res = await request(app).post(SERVICE).send(body).expect(412);
      expect(res.body.issue[0]).toMatchObject({ code: 'processing', expression: ['prefetch.observations'] });
      expect(res.body.issue[0].diagnostics).toBe(
        `Required FHIR data could not be obtained from prefetch or fhirServer: observations: not prefetched and ${why}`,
      );
    },
  );

  test('400 naming context.patientId when the patient-view context lacks it', async () => {
    const body = hookRequest('patient-view', 'p1');
    delete (body['context'] as Record<string, unknown>)['patientId'];
    const res = await request(app).post(SERVICE).send(body).expect(400);
    expect(res.body.issue[0]).toMatchObject({ code: 'required', expression: ['context.patientId'] });
  });

  test('400 naming hook when the request is for another hook than the service', async () => {
    const res = await request(app).post(SERVICE).send(hookRequest('order-sign', 'p1')).expect(400);
    expect(res.body.issue[0].expression).toEqual(['hook']);
  });

  test('400 for a body that is not JSON, without echoing it', async () => {
    const res = await request(app)
      .post(SERVICE)
      .set('content-type', 'application/json')
      .send('{"hook": "patient-view", secret-123')
      .expect(400);
    expect(res.body.issue[0].diagnostics).toBe('Request body is not valid JSON');
    expect(JSON.stringify(res.body)).not.toContain('secret-123');
  });

  test('a body is parsed only where a route takes one: elsewhere the answer comes without reading it as JSON', async () => {
    // Parsed for every path, a 4 MB body nested 7 million deep held the event loop 3.5 s before a 404 (helper review).
    const notJson = '{"hook": "patient-view", secret-123';
    for (const [path, status] of [
      ['/no-such-path', 404],
      ['/admin/feedback/summary', 404],
      ['/healthz', 405],
    ] as const) {
      const res = await request(app).post(path).set('content-type', 'application/json').send(notJson);
      expect([path, res.status]).toEqual([path, status]);
      expect(res.body.issue[0].diagnostics).not.toBe('Request body is not valid JSON');
    }
  });

  test('415 for a body that is not JSON or FHIR JSON', async () => {
    const res = await request(app).post(SERVICE).set('content-type', 'text/plain').send('hello').expect(415);
    expect(res.body.issue[0].code).toBe('not-supported');
  });

  test('accepts application/fhir+json', async () => {
    const body = hookRequest('patient-view', 'p1', {
      prefetch: {
        observations: null,
        medicationAdministrations: null,
        procedures: null,
        patient: null,
        conditions: null,
      },
    });
    await request(app)
      .post(SERVICE)
      .set('content-type', 'application/fhir+json')
      .send(JSON.stringify(body))
      .expect(200);
  });

  test('accepts unknown fields and extension objects at every level', async () => {
    const body: Record<string, unknown> = {
      ...hookRequest('patient-view', 'p1', {
        prefetch: {
          observations: null,
          medicationAdministrations: null,
          procedures: null,
          patient: null,
          conditions: null,
        },
      }),
      extension: { 'com.example.timestamp': '2017-11-27T22:13:25Z' },
      somethingNew: true,
    };
    (body['context'] as Record<string, unknown>)['extension'] = { 'com.example.unit': 'ward-7' };
    await request(app).post(SERVICE).send(body).expect(200);
  });

  test('404 with an OperationOutcome for an unknown service', async () => {
    const res = await request(app)
      .post('/cds-services/no-such-service')
      .send(hookRequest('patient-view', 'p1'))
      .expect(404);
    expect(res.body.issue[0]).toMatchObject({ code: 'not-found' });
  });

  test('413 with a message for a body over the configured limit', async () => {
    const small = buildTestApp({ env: { BODY_LIMIT: '1kb' } });
    const body = hookRequest('patient-view', 'p1', {
      prefetch: { patient: { resourceType: 'Patient', id: 'p1', text: 'x'.repeat(2000) } },
    });
    const res = await request(small.app).post(SERVICE).send(body).expect(413);
    expect(res.body.issue[0].diagnostics).toContain('1kb');
  });

  test('413 before parsing for a body holding more JSON values than BODY_MAX_JSON_VALUES, at any endpoint that reads one', async () => {
    const capped = buildTestApp({ env: { BODY_MAX_JSON_VALUES: '1000' } });
    const withList = (n: number): Record<string, unknown> =>
      hookRequest('patient-view', 'p1', {
        prefetch: { patient: { resourceType: 'Patient', id: 'p1', extension: Array.from({ length: n }, () => 0) } },
      });
    const values = (body: unknown): number => 1 + (JSON.stringify(body).match(/[{[,:]/g) ?? []).length;
    const over = withList(1000);
    expect(values(over)).toBeGreaterThan(1000);
    for (const path of [SERVICE, '/assessments']) {
      const res = await request(capped.app).post(path).send(over).expect(413);
      expect(res.body.issue[0]).toMatchObject({
        code: 'too-long',
        diagnostics: 'Request body holds more than 1,000 JSON values (BODY_MAX_JSON_VALUES); it was not read',
      });
    }
    // The largest list under the cap is read (then refused by FHIR rules: extension must hold objects).
    let n = 1000;
    while (values(withList(n)) > 1000) n--;
    const res = await request(capped.app).post(SERVICE).send(withList(n));
    expect(res.status).not.toBe(413);
  });

  test('the default body limit (5 MB) takes a year of labs', async () => {
    const entry = Array.from({ length: 5000 }, (_, i) => ({
      resource: {
        resourceType: 'Observation',
        id: `o${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] },
        subject: { reference: 'Patient/p1' },
        effectiveDateTime: '2026-01-01T06:00:00Z',
        valueQuantity: { value: 1.2, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' },
      },
    }));
    const body = hookRequest('patient-view', 'p1', {
      prefetch: {
        observations: { resourceType: 'Bundle', type: 'searchset', entry },
        medicationAdministrations: null,
        procedures: null,
        patient: null,
        conditions: null,
      },
    });
    expect(JSON.stringify(body).length).toBeGreaterThan(1_000_000);
    await request(app).post(SERVICE).send(body).expect(200);
  });
});

describe('responses, CORS, health', () => {
  const { app } = buildTestApp();

  test('CORS preflight answers 204 with the allowed methods and headers', async () => {
    const res = await request(app)
      .options(SERVICE)
      .set('origin', 'https://ehr.example.org')
      .set('access-control-request-method', 'POST')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toContain('Authorization');
  });

  test('CORS origins are configurable: an unlisted origin gets no CORS headers', async () => {
    const strict = buildTestApp({ env: { CORS_ORIGINS: 'https://ehr.example.org' } });
    const ok = await request(strict.app).get('/cds-services').set('origin', 'https://ehr.example.org').expect(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://ehr.example.org');
    const other = await request(strict.app).get('/cds-services').set('origin', 'https://evil.example').expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('/healthz says the process is alive; /readyz reports each readiness check', async () => {
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const ready = await request(app).get('/readyz').expect(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { config: true, valueSets: true }, dependencies: {} });
    const notReady = buildTestApp({ overrides: { readiness: { checks: () => ({ config: true, valueSets: false }) } } });
    await request(notReady.app).get('/readyz').expect(503);
    // A shared dependency down is reported, and the replica stays ready (cards need no database).
    const degraded = buildTestApp({
      overrides: {
        readiness: { checks: () => ({ config: true }), dependencies: () => ({ feedbackStorage: false }) },
      },
    });
    expect((await request(degraded.app).get('/readyz').expect(200)).body).toEqual({
      status: 'ready',
      checks: { config: true },
      dependencies: { feedbackStorage: false },
      degraded: ['feedbackStorage'],
    });
  });

  test('/metrics exposes request counters in Prometheus format', async () => {
    await request(app).get('/healthz');
    const res = await request(app).get('/metrics').expect(200);
    expect(res.text).toContain('http_requests_total');
  });

  test('unknown routes get 404 with an OperationOutcome', async () => {
    const res = await request(app).get('/nope').expect(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('logging', () => {
  test('one JSON line per request with request id, hookInstance, status and duration; no token, no prefetch', async () => {
    const { app, logs } = buildTestApp();
    const body = hookRequest('patient-view', 'patient-secret-id', {
      fhirServer: 'https://ehr.example.org/fhir',
      fhirAuthorization: {
        access_token: 'ACCESS-TOKEN-SECRET',
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'patient/*.read',
        subject: 'svc',
      },
      prefetch: {
        patient: { resourceType: 'Patient', id: 'patient-secret-id', name: [{ family: 'Secretname' }] },
        observations: null,
        medicationAdministrations: null,
        procedures: null,
        conditions: null,
      },
    });
    const res = await request(app)
      .post(SERVICE)
      .set('authorization', 'Bearer JWT-SECRET')
      .set('x-request-id', 'req-42')
      .send(body)
      .expect(200);
    expect(res.headers['x-request-id']).toBe('req-42');
    const served = logs.records().filter((r) => r['msg'] === 'request served');
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({
      reqId: 'req-42',
      hookInstance: body['hookInstance'],
      route: '/cds-services/:id',
      status: 200,
      method: 'POST',
    });
    expect(typeof served[0]?.['durationMs']).toBe('number');
    for (const secret of ['ACCESS-TOKEN-SECRET', 'JWT-SECRET', 'Secretname', 'patient-secret-id'])
      expect(logs.text).not.toContain(secret);
  });

  test('a client that hangs up while its call waits on fhirServer: one "request aborted" line, not counted as served', async () => {
    const fhir = await blackHole(); // never answers: the call waits for FHIR_TIMEOUT_MS
    const { app, logs } = buildTestApp({ env: { FHIR_TIMEOUT_MS: '300' } });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const body = JSON.stringify(hookRequest('patient-view', 'p1', { fhirServer: fhir.url }));
      socket.write(
        `POST ${SERVICE} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: hung-up\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 600)); // past the FHIR deadline: the call has ended
      const lines = logs.records().filter((r) => r['reqId'] === 'hung-up' && /^request /.test(String(r['msg'])));
      expect(lines).toEqual([
        expect.objectContaining({ msg: 'request aborted', method: 'POST', route: '/cds-services/:id' }),
      ]);
      const metrics = await request(app).get('/metrics').expect(200);
      expect(metrics.text).not.toMatch(/http_requests_total\{[^}]*route="\/cds-services\/:id"/);
    } finally {
      server.close();
      await fhir.close();
    }
  });

  test('every string a request puts in the log is bounded in length', async () => {
    const { app, logs } = buildTestApp();
    const long = 'x'.repeat(10_000); // Node itself refuses request heads over 16 kB (431)
    await request(app)
      .post(SERVICE)
      .set('x-request-id', long)
      .send({ ...hookRequest('patient-view', 'p1'), hook: 'y'.repeat(100_000) })
      .expect(400);
    await request(app).get(`/${long}`).expect(404);
    expect(logs.lines.length).toBeGreaterThanOrEqual(2);
    for (const line of logs.lines) expect(line.length).toBeLessThan(4000);
  });
});
