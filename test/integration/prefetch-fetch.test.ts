/**
 * Prefetch or fetch: keys the client sent are used as they are, `null` means "no data", missing
 * keys and OperationOutcomes are fetched from fhirServer (real demo FHIR server over HTTP) in
 * parallel, following next links, within one deadline, never outside fhirServer's origin.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { ServiceDeps } from '../../src/service-deps.js';
import type { CdsServiceDefinition } from '../../src/cds-hooks/service.js';
import type { HookName } from '../../src/cds-hooks/schemas.js';
import { buildTestApp, hookRequest } from '../helpers/app.js';
import { blackHole, fakeServer, seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

/** A service that reports, as card summaries, how many resources each key produced and from where. */
function echoService(): CdsServiceDefinition<HookName, ServiceDeps> {
  return {
    id: 'echo',
    hook: 'patient-view',
    title: 'Echo',
    description: 'Reports what prefetch produced (test only)',
    prefetch: {
      patient: 'Patient/{{context.patientId}}',
      observations: 'Observation?patient={{context.patientId}}&code=http://loinc.org|751-8',
      medications: 'MedicationAdministration?patient={{context.patientId}}',
      user: 'Practitioner/{{userPractitionerId}}',
    },
    requiredPrefetch: ['patient', 'observations', 'medications'],
    handler: async ({ data }) =>
      Promise.resolve({
        cards: Object.entries(data)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, value]) => ({
            summary: `${key}:${value.source}:${value.resources.length}`,
            indicator: 'info' as const,
            source: { label: 'echo' },
          })),
      }),
  };
}

const summaries = (body: { cards: { summary: string }[] }): Record<string, string> =>
  Object.fromEntries(
    body.cards.map((c) => {
      const [key, source, count] = c.summary.split(':');
      return [key ?? '', `${source ?? ''}:${count ?? ''}`];
    }),
  );

let fhir: TestFhirServer;
beforeAll(async () => {
  fhir = await serveFhir(await seededDemo());
});
afterAll(async () => {
  await fhir.close();
});

describe('prefetch and fetch', () => {
  const { app, logs } = buildTestApp({ services: () => [echoService()], env: { FHIR_PAGE_SIZE: '20' } });

  test('uses prefetched keys as given and fetches only the missing ones, with the bearer token', async () => {
    fhir.requests.length = 0;
    const body = hookRequest('patient-view', 'cart-quick', {
      fhirServer: fhir.baseUrl,
      fhirAuthorization: {
        access_token: 'tok-123',
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'patient/*.read',
        subject: 'cds',
      },
      prefetch: { patient: { resourceType: 'Patient', id: 'cart-quick' } },
    });
    const res = await request(app).post('/cds-services/echo').send(body).expect(200);
    const s = summaries(res.body);
    expect(s['patient']).toBe('prefetch:1');
    expect(s['medications']?.startsWith('fetched:')).toBe(true);
    expect(Number(s['medications']?.split(':')[1])).toBeGreaterThan(5);
    expect(s['user']).toBe('fetched:1');
    expect(fhir.requests.some((r) => r.url.includes('/Patient/'))).toBe(false);
    expect(fhir.requests.every((r) => r.authorization === 'Bearer tok-123')).toBe(true);
    expect(logs.text).not.toContain('tok-123');
  });

  test('a key sent as null means "no data" and is not fetched', async () => {
    fhir.requests.length = 0;
    const body = hookRequest('patient-view', 'cart-quick', {
      fhirServer: fhir.baseUrl,
      prefetch: { patient: null, observations: null, medications: null },
    });
    const res = await request(app).post('/cds-services/echo').send(body).expect(200);
    expect(summaries(res.body)).toMatchObject({
      patient: 'null:0',
      observations: 'null:0',
      medications: 'null:0',
      user: 'fetched:1',
    });
    expect(fhir.requests.map((r) => r.url.split('?')[0])).toEqual([
      expect.stringContaining('/Practitioner/demo-hematologist'),
    ]);
  });

  test('an OperationOutcome in a prefetch key is treated as missing and fetched', async () => {
    const body = hookRequest('patient-view', 'cart-quick', {
      fhirServer: fhir.baseUrl,
      prefetch: {
        patient: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout' }] },
        observations: null,
        medications: null,
      },
    });
    const res = await request(app).post('/cds-services/echo').send(body).expect(200);
    expect(summaries(res.body)['patient']).toBe('fetched:1');
  });

  test('follows next links of a paged search and collects every page (page size 20)', async () => {
    fhir.requests.length = 0;
    const body = hookRequest('patient-view', 'cart-aplastic', {
      fhirServer: fhir.baseUrl,
      prefetch: { patient: null, medications: null },
    });
    const res = await request(app).post('/cds-services/echo').send(body).expect(200);
    const expected = (
      await fhir.fhir.handle('GET', '/Observation?patient=cart-aplastic&code=http://loinc.org|751-8&_count=1000')
    ).resource as unknown as { total: number };
    expect(expected.total).toBeGreaterThan(20);
    expect(summaries(res.body)['observations']).toBe(`fetched:${expected.total}`);
    const pages = fhir.requests.filter((r) => r.url.includes('/Observation'));
    expect(pages.length).toBe(Math.ceil(expected.total / 20));
  });

  test('fetches the missing keys in parallel (the FHIR server sees them in flight together)', async () => {
    const slow = await serveFhir(await seededDemo(), { delayMs: 200 });
    try {
      await request(app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'cart-quick', { fhirServer: slow.baseUrl }))
        .expect(200);
      expect(slow.maxConcurrent()).toBeGreaterThanOrEqual(4);
    } finally {
      await slow.close();
    }
  });

  test('a key read as several searches: their union, each resource once, never more requests in flight than FHIR_MAX_CONCURRENT_REQUESTS', async () => {
    const slow = await serveFhir(await seededDemo(), { delayMs: 100 });
    const split = buildTestApp({
      services: () => [
        {
          ...echoService(),
          // Overlapping groups: 751-8 is in two of them, and must still count once.
          fetchAs: {
            observations: [
              'Observation?patient={{context.patientId}}&code=http://loinc.org|751-8',
              'Observation?patient={{context.patientId}}&code=http://loinc.org|777-3,http://loinc.org|751-8',
              'Observation?patient={{context.patientId}}&code=http://loinc.org|718-7',
            ],
          },
        },
      ],
      env: { FHIR_MAX_CONCURRENT_REQUESTS: '2' },
    });
    try {
      const res = await request(split.app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'cart-aplastic', { fhirServer: slow.baseUrl }))
        .expect(200);
      const expected = (
        await slow.fhir.handle(
          'GET',
          '/Observation?patient=cart-aplastic&code=http://loinc.org|751-8,http://loinc.org|777-3,http://loinc.org|718-7&_count=1000',
        )
      ).resource as unknown as { total: number };
      expect(summaries(res.body)['observations']).toBe(`fetched:${expected.total}`);
      expect(slow.requests.filter((r) => r.url.includes('/Observation?')).length).toBe(3);
      expect(slow.maxConcurrent()).toBe(2);
    } finally {
      await slow.close();
    }
  });

  test('412 with an OperationOutcome when data is missing and there is no fhirServer', async () => {
    const res = await request(app)
      .post('/cds-services/echo')
      .send(hookRequest('patient-view', 'cart-quick', { prefetch: { patient: null } }))
      .expect(412);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'processing' }] });
    expect(res.body.issue[0].diagnostics).toContain('medications: not prefetched and no fhirServer was given');
    expect(res.body.issue[0].expression).toEqual(['prefetch.medications', 'prefetch.observations']);
  });

  test('refuses a non-https fhirServer unless FHIR_ALLOW_HTTP is set', async () => {
    const strict = buildTestApp({ services: () => [echoService()], env: { FHIR_ALLOW_HTTP: 'false' } });
    const res = await request(strict.app)
      .post('/cds-services/echo')
      .send(hookRequest('patient-view', 'cart-quick', { fhirServer: fhir.baseUrl }))
      .expect(412);
    expect(res.body.issue[0].diagnostics).toContain('fhirServer must use https');
  });

  test('refuses a fhirServer outside FHIR_ALLOWED_ORIGINS', async () => {
    const strict = buildTestApp({
      services: () => [echoService()],
      env: { FHIR_ALLOWED_ORIGINS: 'https://ehr.example.org' },
    });
    const res = await request(strict.app)
      .post('/cds-services/echo')
      .send(hookRequest('patient-view', 'cart-quick', { fhirServer: fhir.baseUrl }))
      .expect(412);
    expect(res.body.issue[0].diagnostics).toContain('not in FHIR_ALLOWED_ORIGINS');
  });

  test('refuses a next link to another origin: 412, and the other origin is never contacted', async () => {
    const evil = await fakeServer((_req, res) => res.end('{}'));
    const ehr = await fakeServer((_req, res) => {
      res.setHeader('content-type', 'application/fhir+json');
      res.end(
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'searchset',
          entry: [],
          link: [{ relation: 'next', url: `${evil.url}/fhir/Observation?page=2` }],
        }),
      );
    });
    try {
      const res = await request(app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'p1', { fhirServer: `${ehr.url}/fhir`, prefetch: { patient: null } }))
        .expect(412);
      expect(res.body.issue[0].diagnostics).toContain('refused to follow a next link');
      expect(evil.requests).toEqual([]);
    } finally {
      await evil.close();
      await ehr.close();
    }
  });

  // Before: "refused to follow a next link to <origin>: it is outside fhirServer <origin>", the same
  // origin twice for a link with credentials (an origin drops them), "an invalid URL" for a relative one.
  test.each<[string, (ehr: string, evil: string) => string, (ehr: string, evil: string) => string]>([
    [
      'another origin',
      (_ehr, evil) => `${evil}/fhir/Observation?page=2`,
      (ehr, evil) => `it leads to ${evil}, outside fhirServer ${ehr}`,
    ],
    [
      'credentials',
      (ehr) => ehr.replace('http://', 'http://evil@') + '/fhir/Observation?page=2',
      () => 'it carries credentials (a user name or password in the URL)',
    ],
    ['a relative link', () => 'Observation?page=2', () => 'it is relative, not an absolute URL'],
    ['a file: URL', () => 'file:///etc/passwd', (ehr) => `it leads to a file: URL, outside fhirServer ${ehr}`],
    ['no URL at all', () => 'http://[::1', () => 'it is not a URL'],
    [
      'the same origin, outside the base path',
      (ehr) => `${ehr}/other/Observation?page=2`,
      () => "it leads outside fhirServer's base path",
    ],
  ])('a next link with %s: 412 saying why it is not followed', async (_what, nextOf, whyOf) => {
    const evil = await fakeServer((_req, res) => res.end('{}'));
    let ehrUrl = '';
    const ehr = await fakeServer((_req, res) => {
      res.setHeader('content-type', 'application/fhir+json');
      const link = [{ relation: 'next', url: nextOf(ehrUrl, evil.url) }];
      res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [], link }));
    });
    ehrUrl = ehr.url;
    try {
      const prefetch = { patient: null, user: null, medications: { resourceType: 'Bundle', type: 'searchset' } };
      const res = await request(app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'p1', { fhirServer: `${ehr.url}/fhir`, prefetch }))
        .expect(412);
      expect(res.body.issue).toMatchObject([
        {
          diagnostics: `Required FHIR data could not be obtained from prefetch or fhirServer: observations: refused to follow a next link: ${whyOf(ehr.url, evil.url)}`,
          expression: ['prefetch.observations'],
        },
      ]);
      expect([evil.requests, ehr.requests.length]).toEqual([[], 1]);
    } finally {
      await evil.close();
      await ehr.close();
    }
  });

  test('a hostile patientId is refused at the edge (400), nothing is sent to fhirServer', async () => {
    const ehr = await fakeServer((_req, res) => res.end());
    try {
      const hostile = '../../Practitioner/x?_format=xml&patient=other';
      const res = await request(app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', hostile, { fhirServer: `${ehr.url}/fhir`, prefetch: { patient: null } }))
        .expect(400);
      expect(res.body.issue[0].expression).toEqual(['context.patientId']);
      expect(ehr.requests).toEqual([]);
    } finally {
      await ehr.close();
    }
  });

  test('a hostile userId cannot steer a template outside fhirServer (values are encoded)', async () => {
    const ehr = await fakeServer((_req, res) => {
      res.setHeader('content-type', 'application/fhir+json');
      res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [] }));
    });
    try {
      const body = hookRequest('patient-view', 'p1', { fhirServer: `${ehr.url}/fhir`, prefetch: { patient: null } });
      (body['context'] as Record<string, unknown>)['userId'] = 'Practitioner/..%2F..%2Fx?_format=xml&patient=other';
      await request(app).post('/cds-services/echo').send(body).expect(200);
      expect(ehr.requests.length).toBeGreaterThan(0);
      for (const url of ehr.requests) {
        expect(url.startsWith('/fhir/')).toBe(true);
        expect(url).not.toContain('_format=xml');
      }
    } finally {
      await ehr.close();
    }
  });

  test('an unreachable FHIR server gets 412 within the deadline, not a hang', async () => {
    const hole = await blackHole();
    const quick = buildTestApp({ services: () => [echoService()], env: { FHIR_TIMEOUT_MS: '400' } });
    try {
      const started = Date.now();
      const res = await request(quick.app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'p1', { fhirServer: hole.url }))
        .expect(412);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.body.issue[0].diagnostics).toContain('did not answer within the deadline');
    } finally {
      await hole.close();
    }
  });

  test('a FHIR server that refuses connections gets 412 at once', async () => {
    const closed = await fakeServer(() => undefined);
    const url = closed.url;
    await closed.close();
    const res = await request(app)
      .post('/cds-services/echo')
      .send(hookRequest('patient-view', 'p1', { fhirServer: `${url}/fhir` }))
      .expect(412);
    expect(res.body.issue[0].diagnostics).toContain('could not be reached');
  });

  test('a FHIR server error status becomes 412 naming the status, not the body', async () => {
    const ehr = await fakeServer((_req, res) => {
      res.statusCode = 401;
      res.end(
        '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"token SECRET-XYZ expired"}]}',
      );
    });
    try {
      const res = await request(app)
        .post('/cds-services/echo')
        .send(hookRequest('patient-view', 'p1', { fhirServer: `${ehr.url}/fhir` }))
        .expect(412);
      expect(res.body.issue[0].diagnostics).toContain('answered 401');
      expect(JSON.stringify(res.body)).not.toContain('SECRET-XYZ');
    } finally {
      await ehr.close();
    }
  });
});
