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
