/**
 * Calls refused by client authentication are failed access attempts: each is in the audit trail
 * (status, refusal reason, request id, client address; never the token, no patient since the body
 * was not read) and in cds_service_calls_total with its status, through the real app, its SQLite
 * audit table and GET /admin/audit.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { AuditEvent } from 'fhir/r4.js';
import type { CryptoKey } from 'jose';
import { exportJWK, generateKeyPair } from 'jose';
import request from 'supertest';
import type { StoredAuditRecord } from '../../src/audit/audit.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import type { ReplayStore } from '../../src/cds-hooks/auth.js';
import { SqliteAuditStore } from '../../src/storage/audit-store.js';
import { SqliteFeedbackStore } from '../../src/storage/sqlite.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { signCdsJwt } from '../helpers/jwt.js';

const ISS = 'https://ehr.example.org/';
const BASE = 'https://cds.example.org';
const PATIENT = 'refused-patient-0815';
const ADMIN = 'an-admin-token-that-is-long-enough-0123456789';
const PV = '/cds-services/cart-hematotox-patient-view';
const body = hookRequest('patient-view', PATIENT, {
  prefetch: { patient: null, observations: null, medicationAdministrations: null, procedures: null, conditions: null },
});

let key: CryptoKey;
let jwks: string;
let store: SqliteFeedbackStore;
let audit: SqliteAuditStore;

function jwt(path: string, jti?: string): Promise<string> {
  return signCdsJwt(key, { iss: ISS, aud: `${BASE}${path}`, ...(jti ? { jti } : {}) });
}

/** An app on the shared audit table; `replay` replaces the in-memory jti store. */
function app(replay?: ReplayStore): { t: TestApp; recorder: AuditRecorder } {
  const recorder = new AuditRecorder(audit);
  const t = buildTestApp({
    env: {
      PUBLIC_BASE_URL: BASE,
      CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile: jwks }]),
      ADMIN_TOKEN: ADMIN,
    },
    overrides: { feedback: store, audit, auditRecorder: recorder, ...(replay ? { replay } : {}) },
    now: () => new Date(),
  });
  return { t, recorder };
}

/** The audit records of one request id, once the recorder has written them. */
async function recordsOf(recorder: AuditRecorder, requestId: string): Promise<StoredAuditRecord[]> {
  expect(await recorder.flush()).toBe(true);
  const all = await audit.read({ from: new Date(0), to: new Date(Date.now() + 60_000), limit: 1000 });
  return all.filter((r) => r.requestId === requestId);
}

const metric = async (t: TestApp, status: number, hook = 'patient-view'): Promise<string | undefined> =>
  new RegExp(
    `cds_service_calls_total\\{service="cart-hematotox-patient-view",hook="${hook}",status="${status}"\\} (\\d+)`,
  ).exec((await request(t.app).get('/metrics')).text)?.[1];

beforeAll(async () => {
  const pair = await generateKeyPair('ES384', { extractable: true });
  key = pair.privateKey;
  const dir = mkdtempSync(join(tmpdir(), 'audit-refused-'));
  jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] }));
  store = new SqliteFeedbackStore(join(dir, 'feedback.sqlite'));
  await store.init();
  audit = new SqliteAuditStore(() => store.bookkeeping());
});

afterAll(async () => {
  await store.close();
});

describe('calls refused by client authentication are audited and counted', () => {
  test('no token: 401, recorded with status 401 and reason no-token, counted as a call with status 401; exported as a failed AuditEvent', async () => {
    const { t, recorder } = app();
    const res = await request(t.app).post(PV).set('x-request-id', 'refused-no-token').send(body).expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    const records = await recordsOf(recorder, 'refused-no-token');
    expect(records).toEqual([
      expect.objectContaining({
        action: 'cds-call',
        serviceId: 'cart-hematotox-patient-view',
        hook: 'patient-view',
        status: 401,
        refusal: 'no-token',
        requestId: 'refused-no-token',
        clientAddress: expect.stringMatching(/127\.0\.0\.1/) as unknown,
        cardUuids: [],
      }),
    ]);
    expect(records[0]).toMatchObject({ patientId: undefined, userId: undefined, clientIss: undefined });
    expect(await metric(t, 401)).toBe('1');

    const exported = await request(t.app)
      .get('/admin/audit')
      .query({ from: new Date(Date.now() - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() })
      .set('authorization', `Bearer ${ADMIN}`)
      .expect(200);
    const event = String(exported.text)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent)
      .find((e) => e.entity?.some((x) => x.detail?.some((d) => d.valueString === 'refused-no-token')));
    expect(event).toMatchObject({
      outcome: '4',
      outcomeDesc: 'refused by client authentication: no-token',
      agent: [{ who: { display: 'CDS client not authenticated (refused)' } }],
    });
  });

  test('a replayed jti, to the service and to its feedback endpoint: 401 each, recorded with reason jti-replayed, never the token', async () => {
    const { t, recorder } = app();
    const token = await jwt(PV, 'replayed-jti-1');
    await request(t.app).post(PV).set('authorization', `Bearer ${token}`).send(body).expect(200);
    await request(t.app)
      .post(PV)
      .set('authorization', `Bearer ${token}`)
      .set('x-request-id', 'refused-replay')
      .send(body)
      .expect(401);
    const feedbackToken = await jwt(`${PV}/feedback`, 'replayed-jti-2');
    const feedback = {
      feedback: [{ card: randomUUID(), outcome: 'overridden', outcomeTimestamp: '2026-11-22T10:15:00Z' }],
    };
    await request(t.app)
      .post(`${PV}/feedback`)
      .set('authorization', `Bearer ${feedbackToken}`)
      .send(feedback)
      .expect(200);
    await request(t.app)
      .post(`${PV}/feedback`)
      .set('authorization', `Bearer ${feedbackToken}`)
      .set('x-request-id', 'refused-feedback-replay')
      .send(feedback)
      .expect(401);
    const call = await recordsOf(recorder, 'refused-replay');
    expect(call).toEqual([
      expect.objectContaining({ action: 'cds-call', hook: 'patient-view', status: 401, refusal: 'jti-replayed' }),
    ]);
    const fb = await recordsOf(recorder, 'refused-feedback-replay');
    expect(fb).toEqual([
      expect.objectContaining({
        action: 'cds-call',
        serviceId: 'cart-hematotox-patient-view',
        hook: 'feedback',
        status: 401,
        refusal: 'jti-replayed',
      }),
    ]);
    expect(await metric(t, 401)).toBe('1');
    expect(await metric(t, 401, 'feedback')).toBe('1');
    const table = JSON.stringify(store.bookkeeping().prepare('SELECT * FROM audit_event').all());
    for (const secret of [token, feedbackToken, 'replayed-jti-1', 'replayed-jti-2'])
      expect(table).not.toContain(secret);
  });

  test('the jti replay store not answering: 503, recorded with status 503 and reason replay-store-unavailable, counted with status 503', async () => {
    const { t, recorder } = app({ kind: 'postgres', remember: () => Promise.reject(new Error('connection refused')) });
    await request(t.app)
      .post(PV)
      .set('authorization', `Bearer ${await jwt(PV)}`)
      .set('x-request-id', 'refused-store-down')
      .send(body)
      .expect(503);
    expect(await recordsOf(recorder, 'refused-store-down')).toEqual([
      expect.objectContaining({
        action: 'cds-call',
        hook: 'patient-view',
        status: 503,
        refusal: 'replay-store-unavailable',
        patientId: undefined,
      }),
    ]);
    expect(await metric(t, 503)).toBe('1');
    const metrics = (await request(t.app).get('/metrics')).text;
    expect(metrics).toMatch(/cds_jwt_refusals_total\{reason="replay-store-unavailable"\} 1/);
  });
});
