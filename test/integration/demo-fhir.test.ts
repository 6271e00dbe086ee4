/**
 * The embedded demo FHIR server over HTTP: metadata, the searches our prefetch templates use,
 * paging, creates and transactions, and the synthetic patients it is seeded with.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4.js';
import express from 'express';
import request from 'supertest';
import { DEMO_FHIR_PATH, DemoFhirServer } from '../../src/demo/fhir-server.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

let fhir: TestFhirServer;
beforeAll(async () => {
  fhir = await serveFhir(await seededDemo());
});
afterAll(async () => {
  await fhir.close();
});

const get = async (path: string): Promise<request.Response> =>
  request(fhir.baseUrl.replace(/\/demo\/fhir$/, '')).get(`/demo/fhir${path}`);
const postSearch = (
  path: string,
  form: string | undefined,
  type = 'application/x-www-form-urlencoded',
): request.Test => {
  const req = request(fhir.baseUrl.replace(/\/demo\/fhir$/, '')).post(`/demo/fhir${path}`);
  return form === undefined ? req : req.set('content-type', type).send(form);
};
const idsOf = (bundle: Bundle): string[] =>
  (bundle.entry ?? []).map((e) => `${e.resource?.resourceType ?? ''}/${e.resource?.id ?? ''}`).sort();

describe('demo FHIR server', () => {
  test('serves a FHIR R4 CapabilityStatement at /metadata', async () => {
    const res = await get('/metadata');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
    const observation = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'Observation');
    expect(observation.searchParam.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['patient', 'code', 'date']),
    );
  });

  test('reads a synthetic patient, tagged as synthetic', async () => {
    const res = await get('/Patient/cart-aplastic');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      resourceType: 'Patient',
      id: 'cart-aplastic',
      meta: { tag: [{ code: 'synthetic' }] },
    });
  });

  test('searches by patient id (bare or as a reference), token with and without system, and date', async () => {
    const bare = (await get('/Observation?patient=cart-quick&code=751-8&_count=1000')).body as Bundle;
    const reference = (await get('/Observation?patient=Patient/cart-quick&code=http://loinc.org|751-8&_count=1000'))
      .body as Bundle;
    expect(bare.total).toBeGreaterThan(30);
    expect(reference.total).toBe(bare.total);
    const all = (bare.entry ?? []).map((e) => e.resource as Observation);
    const cutoff = all.map((o) => o.effectiveDateTime ?? '').sort()[10] ?? '';
    const dated = (await get(`/Observation?patient=cart-quick&code=751-8&date=ge${cutoff.slice(0, 10)}&_count=1000`))
      .body as Bundle;
    expect(dated.total).toBe(all.filter((o) => (o.effectiveDateTime ?? '').slice(0, 10) >= cutoff.slice(0, 10)).length);
    const twoCodes = (
      await get('/Observation?patient=cart-quick&code=http://loinc.org|751-8,http://loinc.org|718-7&_count=1000')
    ).body as Bundle;
    expect(twoCodes.total).toBe((bare.total ?? 0) * 2);
  });

  test('pages with _count and next links until every match is returned once', async () => {
    const first = (await get('/Observation?patient=cart-biphasic&_count=50')).body as Bundle;
    const ids = new Set<string>();
    let page: Bundle | undefined = first;
    let pages = 0;
    while (page) {
      pages++;
      for (const e of page.entry ?? []) ids.add(e.resource?.id ?? '');
      const next: string | undefined = page.link?.find((l) => l.relation === 'next')?.url;
      page = next ? ((await request(next).get('')).body as Bundle) : undefined;
    }
    expect(ids.size).toBe(first.total);
    expect(pages).toBe(Math.ceil((first.total ?? 0) / 50));
  });

  test('accepts creates and transactions so tests and demos can load their own data', async () => {
    const server = new DemoFhirServer();
    const own = await serveFhir(server);
    try {
      const base = own.baseUrl.replace(/\/demo\/fhir$/, '');
      const created = await request(base)
        .post('/demo/fhir/Patient')
        .set('content-type', 'application/fhir+json')
        .send(JSON.stringify({ resourceType: 'Patient', gender: 'female' }));
      expect(created.status).toBe(201);
      const tx = await request(base)
        .post('/demo/fhir')
        .set('content-type', 'application/fhir+json')
        .send(
          JSON.stringify({
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              {
                fullUrl: 'urn:uuid:9a6b1c52-3d2e-4c1f-8e0a-5b7d9c3e1f20',
                request: { method: 'POST', url: 'Patient' },
                resource: { resourceType: 'Patient', gender: 'male' },
              },
              {
                request: { method: 'POST', url: 'Observation' },
                resource: {
                  resourceType: 'Observation',
                  status: 'final',
                  code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] },
                  subject: { reference: 'urn:uuid:9a6b1c52-3d2e-4c1f-8e0a-5b7d9c3e1f20' },
                  valueQuantity: { value: 0.3, code: '10*9/L', system: 'http://unitsofmeasure.org' },
                },
              },
            ],
          }),
        );
      expect(tx.status).toBe(200);
      expect(tx.body.type).toBe('transaction-response');
      const patientId = (tx.body.entry[0].response.location as string).split('/')[1];
      const found = await request(base).get(`/demo/fhir/Observation?patient=${patientId}`);
      expect(found.body.total).toBe(1);
    } finally {
      await own.close();
    }
  });

  test('an unknown resource id is a 404 OperationOutcome', async () => {
    const res = await get('/Patient/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('demo FHIR server: POST [type]/_search with a form body', () => {
  const NEUTROPHILS = 'http://loinc.org|751-8';

  test("returns only the searched patient's Observations, the same set as the GET", async () => {
    const form = new URLSearchParams({ patient: 'cart-day9', code: NEUTROPHILS, _count: '1000' }).toString();
    const posted = await postSearch('/Observation/_search', form);
    expect(posted.status).toBe(200);
    expect(posted.headers['content-type']).toContain('application/fhir+json');
    const viaGet = (await get(`/Observation?${form}`)).body as Bundle;
    const body = posted.body as Bundle;
    expect(body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: viaGet.total });
    expect(body.total).toBeGreaterThan(0);
    expect(idsOf(body)).toEqual(idsOf(viaGet));
    for (const e of body.entry ?? []) expect((e.resource as Observation).subject?.reference).toBe('Patient/cart-day9');
    const all = (await get('/Observation?code=751-8&_count=1000')).body as Bundle;
    expect(all.total).toBeGreaterThan(body.total ?? 0);
  });

  test('combines parameters from the URL and the body (AND), answering like the GET with both', async () => {
    const posted = (
      await postSearch(
        '/Observation/_search?patient=cart-day9&_count=1000',
        `code=${encodeURIComponent(NEUTROPHILS)}`,
      ).expect(200)
    ).body as Bundle;
    const viaGet = (await get(`/Observation?patient=cart-day9&code=${encodeURIComponent(NEUTROPHILS)}&_count=1000`))
      .body as Bundle;
    expect(posted.total).toBe(viaGet.total);
    expect(idsOf(posted)).toEqual(idsOf(viaGet));
    const self = new URL(posted.link?.find((l) => l.relation === 'self')?.url ?? '');
    expect(self.pathname).toBe('/demo/fhir/Observation');
    expect(self.searchParams.get('patient')).toBe('cart-day9');
    expect(self.searchParams.get('code')).toBe(NEUTROPHILS);
  });

  test('pages: next links are GET URLs with the combined parameters and return every match once', async () => {
    const first = (await postSearch('/Observation/_search?_count=20', 'patient=cart-day9').expect(200)).body as Bundle;
    expect(first.total).toBeGreaterThan(40);
    const ids = new Set(idsOf(first));
    let next = first.link?.find((l) => l.relation === 'next')?.url;
    let pages = 1;
    while (next) {
      expect(new URL(next).searchParams.get('patient')).toBe('cart-day9');
      const page = (await request(next).get('').expect(200)).body as Bundle;
      for (const id of idsOf(page)) ids.add(id);
      next = page.link?.find((l) => l.relation === 'next')?.url;
      pages++;
    }
    expect(ids.size).toBe(first.total);
    expect(pages).toBe(Math.ceil((first.total ?? 0) / 20));
  });

  test('a body-less POST _search means "no filters", like GET [type]', async () => {
    const posted = (await postSearch('/Patient/_search?_count=1000', undefined).expect(200)).body as Bundle;
    expect(posted.total).toBe(((await get('/Patient?_count=1000')).body as Bundle).total);
  });

  test.each([
    ['application/json', '{"patient":"cart-day9"}'],
    ['application/fhir+json', '{"resourceType":"Parameters"}'],
    ['text/plain', 'patient=cart-day9'],
  ])('a %s body is 415 with an OperationOutcome', async (type, body) => {
    const res = await postSearch('/Observation/_search', body, type);
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-supported' }],
    });
    expect(res.body.issue[0].diagnostics).toContain('application/x-www-form-urlencoded');
  });

  test.each([['patient=cart-day9&code=%zz'], ['=cart-day9'], ['patient=%E0%A4']])(
    'a malformed form body (%s) is 400, never a broader search',
    async (form) => {
      const res = await postSearch('/Observation/_search', form);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid' }],
      });
    },
  );

  test('a form body over the body limit is 413 with an OperationOutcome', async () => {
    const app = express().use(DEMO_FHIR_PATH, (await seededDemo()).router('1kb'));
    const res = await request(app)
      .post(`${DEMO_FHIR_PATH}/Observation/_search`)
      .type('form')
      .send(`patient=cart-day9&note=${'x'.repeat(2048)}`);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'too-long' }] });
  });

  test('a JSON body over BODY_MAX_JSON_VALUES is 413 before it is parsed, as at the service', async () => {
    const app = express().use(DEMO_FHIR_PATH, (await seededDemo()).router('16mb', 1000));
    const res = await request(app)
      .post(`${DEMO_FHIR_PATH}/Patient`)
      .set('content-type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Patient', extension: Array.from({ length: 1000 }, () => ({})) }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ code: 'too-long', diagnostics: expect.stringContaining('BODY_MAX_JSON_VALUES') }],
    });
  });
});

describe('demo FHIR server: hostile requests get a named OperationOutcome, never an engine message or a stack', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const send = (method: 'post' | 'put', path: string, body: string, headers: Record<string, string>): request.Test => {
    const server = request(fhir.baseUrl.replace(/\/demo\/fhir$/, ''));
    return (method === 'post' ? server.post(`/demo/fhir${path}`) : server.put(`/demo/fhir${path}`))
      .set(headers)
      .send(body);
  };
  const FHIR_JSON = 'application/fhir+json';
  const NESTED = 'Request body is nested deeper than 64 levels';

  test.each([
    [
      'a Bundle nested 100,000 deep',
      'post',
      '/',
      `{"resourceType":"Bundle","entry":${deep(100_000)}}`,
      {},
      400,
      NESTED,
    ],
    [
      'a resource nested 65 deep',
      'put',
      '/Patient/d',
      `{"resourceType":"Patient","id":"d","extension":${deep(64)}}`,
      {},
      400,
      NESTED,
    ],
    ['a body that is not JSON', 'post', '/Observation', '{"resourceType":', {}, 400, 'Request body is not valid JSON'],
    [
      'an unsupported Content-Encoding',
      'post',
      '/Observation',
      '{}',
      { 'content-encoding': 'compress' },
      415,
      'Content-Encoding "compress" is not supported; send identity, gzip, deflate or br',
    ],
    [
      'a charset other than UTF-8',
      'post',
      '/Observation',
      '{}',
      { 'content-type': 'application/json; charset=iso-8859-1' },
      415,
      'Charset "iso-8859-1" is not supported; send JSON as UTF-8 (or UTF-16)',
    ],
    [
      'a POST whose body is not JSON',
      'post',
      '/Observation',
      'hello',
      { 'content-type': 'text/plain' },
      415,
      'Content-Type must be application/json or application/fhir+json, got text/plain',
    ],
  ] as const)('%s: %s %s', async (_name, method, path, body, headers, status, diagnostics) => {
    const res = await send(method, path, body, { 'content-type': FHIR_JSON, ...headers });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain(FHIR_JSON);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [expect.objectContaining({ severity: 'error', diagnostics })],
    });
  });

  test('a path that does not decode: 400 "Malformed request"', async () => {
    const res = await get('/Patient/%zz');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Malformed request' }],
    });
  });

  test('a resource nested 64 deep is still stored', async () => {
    const body = `{"resourceType":"Patient","id":"nested","extension":${deep(63)}}`;
    const res = await send('put', '/Patient/nested', body, { 'content-type': FHIR_JSON });
    expect([200, 201]).toContain(res.status);
  });
});

describe('demo FHIR server in a worker thread (how the service runs it)', () => {
  test('answers searches, with paging links under the service URL, as the in-process server does', async () => {
    const worker = await DemoFhirServer.inWorker({ today: '2026-11-22', bodyLimit: '10mb' });
    const app = express();
    app.use(DEMO_FHIR_PATH, worker.router('10mb'));
    try {
      await worker.thread?.seeded;
      expect(worker.thread?.isSeeded()).toBe(true);
      const path = '/Observation?patient=cart-aplastic&code=http://loinc.org|751-8&_count=20';
      const viaWorker = await request(app).get(`${DEMO_FHIR_PATH}${path}`).expect(200);
      const inProcess = await get(path);
      expect(viaWorker.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(idsOf(viaWorker.body as Bundle)).toEqual(idsOf(inProcess.body as Bundle));
      expect((viaWorker.body as Bundle).total).toBe((inProcess.body as Bundle).total);
      const next = (viaWorker.body as Bundle).link?.find((l) => l.relation === 'next')?.url ?? '';
      expect(next).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/demo\/fhir\/Observation\?/);
      expect(next).not.toContain(String(fhir.baseUrl.match(/:(\d+)\//)?.[1]));
    } finally {
      await worker.thread?.close();
    }
  }, 60_000);
});
