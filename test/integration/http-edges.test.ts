/**
 * The HTTP edge's answers to hostile requests, against the real express app: each refusal is a
 * named OperationOutcome with the status its kind of error always gets.
 */
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { buildTestApp, hookRequest } from '../helpers/app.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';

describe('request bodies', () => {
  const { app } = buildTestApp();

  test('415 naming the Content-Encoding when it is not one the service inflates', async () => {
    const res = await request(app)
      .post(SERVICE)
      .set('content-type', 'application/json')
      .set('content-encoding', 'compress')
      .send(JSON.stringify(hookRequest('patient-view', 'p1')))
      .expect(415);
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'not-supported',
          diagnostics: 'Content-Encoding "compress" is not supported; send identity, gzip, deflate or br',
        },
      ],
    });
  });
});

describe('methods a path does not take', () => {
  const { app } = buildTestApp({ env: { ADMIN_TOKEN: 'a'.repeat(32) } });
  const admin = { authorization: `Bearer ${'a'.repeat(32)}` };

  test.each([
    ['PUT', SERVICE, '/cds-services/:id', 'POST'],
    ['DELETE', SERVICE, '/cds-services/:id', 'POST'],
    ['PATCH', SERVICE, '/cds-services/:id', 'POST'],
    ['GET', SERVICE, '/cds-services/:id', 'POST'],
    ['GET', `${SERVICE}/feedback`, '/cds-services/:id/feedback', 'POST'],
    ['DELETE', '/cds-services', '/cds-services', 'GET, HEAD'],
    ['GET', '/assessments?x=1', '/assessments', 'POST'],
    ['POST', '/healthz', '/healthz', 'GET, HEAD'],
    ['PUT', '/metrics', '/metrics', 'GET, HEAD'],
    ['DELETE', '/admin/audit', '/admin/audit', 'GET, HEAD'],
    ['POST', '/admin/feedback/summary', '/admin/feedback/summary', 'GET, HEAD'],
  ])('%s %s: 405, Allow and an OperationOutcome naming the method', async (method, path, route, allow) => {
    const res = await request(app)[method.toLowerCase() as 'put'](path).set(admin).expect(405);
    expect(res.headers['allow']).toBe(allow);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'not-supported',
          diagnostics: `${method} is not allowed on ${route}; allowed: ${allow}`,
        },
      ],
    });
  });

  test('an unknown path is still 404, and HEAD on a GET path is answered', async () => {
    const res = await request(app).put('/no-such-path').expect(404);
    expect(res.body.issue[0].diagnostics).toBe('No route for PUT /no-such-path');
    await request(app).head('/healthz').expect(200);
  });

  test('without the admin token, a wrong method on /admin is refused as any admin call (401), not told apart', async () => {
    await request(app).delete('/admin/audit').expect(401);
  });
});
