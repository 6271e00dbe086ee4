/**
 * Small bodies that held gigabytes: input whose every item became an issue (zod words one per bad
 * item; the Bundle screen one per bad entry), or whose records zod copied member by member. A 1 MB
 * prefetch Bundle of `entry: [0, 0, …]` aborted the service (a 384 MB heap); 3 MB of codings, of
 * feedback suggestions or of Bundle entries did too, and 150,000 suggestions were a 500 (zod's stack).
 * Each is now one short answer. And a fhirServer answer holding more JSON values than
 * BODY_MAX_JSON_VALUES is not parsed (15 MB of `{},` took the service to 622 MB; 30 MB aborted it).
 */
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { buildTestApp, hookRequest } from '../helpers/app.js';
import { fakeServer } from '../helpers/servers.js';
import { screenResource } from '../../src/fhir/resource-schemas.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
const { app } = buildTestApp();
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const NO_OTHER_KEYS = { medicationAdministrations: null, procedures: null, conditions: null, patient: null };

describe('one bad item, however many: one short answer', () => {
  test('a prefetch Bundle of 200,000 entries that are not objects: one issue, naming the first', async () => {
    const body = hookRequest('patient-view', 'p1', {
      prefetch: {
        ...NO_OTHER_KEYS,
        observations: { resourceType: 'Bundle', type: 'searchset', entry: zeros(200_000) },
      },
    });
    const res = await request(app).post(SERVICE).send(body).expect(400);
    expect(res.body.issue).toHaveLength(1);
    expect(res.body.issue[0].diagnostics).toMatch(/^prefetch\.observations\.entry\[0\]: /);
  });

  test('an Observation with 200,000 codings that are not objects: left out with one issue, about the list', () => {
    const observation = {
      resourceType: 'Observation',
      id: 'many',
      status: 'final',
      code: { coding: zeros(200_000) },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2026-11-20T06:00:00Z',
    };
    const result = screenResource(observation);
    expect(result).toEqual({
      ok: false,
      issue: expect.objectContaining({
        code: 'resource-invalid',
        resource: 'Observation/many',
        message: expect.stringMatching(/^code\.coding: Too big: expected array to have <=1000 items/),
      }),
    });
  });

  test('POST /assessments with 200,000 entries that are not objects: 1,000 worded, the rest counted', async () => {
    const res = await request(app)
      .post('/assessments')
      .send({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }, ...zeros(200_000)],
      });
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(res.body)).toContain(
      '199,000 Bundle entries beyond the first 1,000 issues hold no resource; left out',
    );
    expect(JSON.stringify(res.body).length).toBeLessThan(50_000);
  });

  test('feedback naming 150,000 accepted suggestions: a 400, not a 500', async () => {
    const res = await request(app)
      .post(`${SERVICE}/feedback`)
      .send({
        feedback: [
          {
            card: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
            outcome: 'accepted',
            outcomeTimestamp: '2026-01-01T00:00:00Z',
            acceptedSuggestions: zeros(150_000),
          },
        ],
      });
    expect(res.status).toBe(400);
    expect(res.body.issue).toHaveLength(1);
    expect(res.body.issue[0].diagnostics).toMatch(/acceptedSuggestions: Too big/);
  });

  test.each(['context', 'prefetch', 'extension'])('%s of 101 members: a 400 naming it', async (name) => {
    const crowded = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`m${i}`, i]));
    const body = hookRequest('patient-view', 'p1');
    body[name] = name === 'context' ? { ...(body['context'] as object), ...crowded } : crowded;
    const res = await request(app).post(SERVICE).send(body).expect(400);
    expect(res.body.issue[0].diagnostics).toBe(`${name}: more than 100 members`);
  });

  test('a zod error of 500 problems lists 20 and counts the rest', async () => {
    const res = await request(app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: Array.from({ length: 500 }, () => ({ card: 'not a uuid', outcome: 'accepted' })) });
    expect(res.status).toBe(400);
    expect(res.body.issue).toHaveLength(21);
    expect(res.body.issue[20].diagnostics).toMatch(/^and [\d,]+ more problems not listed$/);
  });
});

test('a fhirServer answer holding more JSON values than BODY_MAX_JSON_VALUES is not parsed: a 412 naming the setting', async () => {
  const capped = buildTestApp({ env: { BODY_MAX_JSON_VALUES: '1000' } });
  const fhir = await fakeServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'Patient', id: 'p1', extension: Array.from({ length: 2000 }, () => ({})) }));
  });
  try {
    const body = hookRequest('patient-view', 'p1', { fhirServer: `${fhir.url}/fhir` });
    const res = await request(capped.app).post(SERVICE).send(body);
    expect(res.status).toBe(412);
    expect(JSON.stringify(res.body)).toContain('more than 1,000 JSON values (BODY_MAX_JSON_VALUES); not parsed');
  } finally {
    await fhir.close();
  }
});

test("fhirServer's answers to one call are counted together: pages each under BODY_MAX_JSON_VALUES, more than it in all, are a 412", async () => {
  const capped = buildTestApp({ env: { BODY_MAX_JSON_VALUES: '1000' } });
  // Every search is answered with 60 entries of its own type (about 400 values), every read with a small resource.
  const fhir = await fakeServer((req, res) => {
    const type = /\/fhir\/([A-Za-z]+)/.exec(req.url ?? '')?.[1] ?? 'Patient';
    const body = req.url?.includes('?')
      ? {
          resourceType: 'Bundle',
          type: 'searchset',
          entry: Array.from({ length: 60 }, (_, i) => ({ resource: { resourceType: type, id: `${type}-${i}` } })),
        }
      : { resourceType: type, id: 'p1' };
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(body));
  });
  try {
    const body = hookRequest('patient-view', 'p1', { fhirServer: `${fhir.url}/fhir` });
    const res = await request(capped.app).post(SERVICE).send(body);
    expect(res.status).toBe(412);
    expect(JSON.stringify(res.body)).toContain(
      "fhirServer's answers to this call and its request body hold more than 1,000 JSON values (BODY_MAX_JSON_VALUES); not parsed",
    );
    // The same answers under the default cap: read, and assessed.
    expect((await request(app).post(SERVICE).send(body)).status).toBe(200);
  } finally {
    await fhir.close();
  }
});
