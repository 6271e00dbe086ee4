/**
 * The audit trail and the metrics through the real app: CDS calls (JWT-authenticated) and an
 * assessment are audited and exported by GET /admin/audit as FHIR R4 AuditEvents (NDJSON); the
 * Prometheus metrics tell which service answered, which cards, where the data came from, what the
 * FHIR server did, why tokens were refused, what the engine cost; wrong admin tokens are throttled
 * per client address; the application log never holds the patient id.
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
import { AuditRecorder } from '../../src/audit/recorder.js';
import { SqliteAuditStore } from '../../src/storage/audit-store.js';
import { SqliteFeedbackStore } from '../../src/storage/sqlite.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { fakeServer, seededDemo, serveFhir } from '../helpers/servers.js';
import { signCdsJwt } from '../helpers/jwt.js';

const ISS = 'https://ehr.example.org/';
const BASE = 'https://cds.example.org';
const PATIENT = 'audit-patient-4711';
const ADMIN = 'an-admin-token-that-is-long-enough-0123456789';
const PV = '/cds-services/cart-hematotox-patient-view';

let key: CryptoKey;
let t: TestApp;
let store: SqliteFeedbackStore;
let recorder: AuditRecorder;
let fhir: Awaited<ReturnType<typeof fakeServer>>;

function jwt(path: string, jti?: string): Promise<string> {
  return signCdsJwt(key, { iss: ISS, aud: `${BASE}${path}`, ...(jti ? { jti } : {}) });
}

beforeAll(async () => {
  const pair = await generateKeyPair('ES384', { extractable: true });
  key = pair.privateKey;
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] }));
  // A FHIR server: the patient, no data; one search answers 500 (an upstream failure to count).
  fhir = await fakeServer((req, res) => {
    res.setHeader('content-type', 'application/fhir+json');
    if (/\/Condition/.test(req.url ?? '')) {
      res.statusCode = 500;
      res.end('{"resourceType":"OperationOutcome","issue":[]}');
      return;
    }
    res.end(
      JSON.stringify(
        /\/Patient\//.test(req.url ?? '')
          ? { resourceType: 'Patient', id: PATIENT }
          : { resourceType: 'Bundle', type: 'searchset', entry: [] },
      ),
    );
  });
  store = new SqliteFeedbackStore(join(dir, 'feedback.sqlite'));
  await store.init();
  const audit = new SqliteAuditStore(() => store.bookkeeping());
  recorder = new AuditRecorder(audit);
  t = buildTestApp({
    env: {
      PUBLIC_BASE_URL: BASE,
      CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile: jwks }]),
      ADMIN_TOKEN: ADMIN,
    },
    overrides: { feedback: store, audit, auditRecorder: recorder },
    now: () => new Date(),
  });
});

afterAll(async () => {
  await fhir.close();
  await store.close();
});

describe('audit trail', () => {
  test('CDS calls and assessments are exported as AuditEvents (NDJSON) with who, which patient, service, hookInstance, cards and status; logs hold no patient id', async () => {
    const hookInstance = randomUUID();
    const call = await request(t.app)
      .post(PV)
      .set('authorization', `Bearer ${await jwt(PV)}`)
      .send(hookRequest('patient-view', PATIENT, { hookInstance, fhirServer: `${fhir.url}/fhir` }));
    expect(call.status).toBe(200);
    const refused = await request(t.app)
      .post('/assessments')
      .set('authorization', `Bearer ${await jwt('/assessments')}`)
      .query({ patientId: PATIENT })
      .send({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'Patient', id: PATIENT } }],
      });
    expect([200, 400]).toContain(refused.status);
    expect(await recorder.flush()).toBe(true);

    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const exported = await request(t.app)
      .get('/admin/audit')
      .query({ from, to })
      .set('authorization', `Bearer ${ADMIN}`)
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => done(null, text));
      });
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/application\/fhir\+ndjson/);
    const events = (exported.body as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    const cdsEvent = events.find((e) => e.entity?.some((x) => x.what?.identifier?.value === hookInstance));
    expect(cdsEvent).toMatchObject({
      resourceType: 'AuditEvent',
      action: 'E',
      outcome: '0',
      subtype: [{ code: 'patient-view' }],
      agent: [
        { who: { reference: 'Practitioner/demo-hematologist' }, requestor: true },
        { who: { identifier: { system: ISS, value: 'epic-client-7' } } },
      ],
      entity: [
        { what: { reference: `Patient/${PATIENT}` } },
        {
          detail: expect.arrayContaining([
            { type: 'serviceId', valueString: 'cart-hematotox-patient-view' },
          ]) as unknown,
        },
      ],
    });
    expect(events.some((e) => e.entity?.[1]?.description === 'hematotoxicity assessment')).toBe(true);
    expect(t.logs.text).not.toContain(PATIENT);
  });

  test('GET /admin/audit needs the admin token and a valid range; pages carry a next link', async () => {
    expect((await request(t.app).get('/admin/audit').query({ from: 'x', to: 'y' })).status).toBe(401);
    const bad = await request(t.app)
      .get('/admin/audit')
      .query({ from: 'yesterday' })
      .set('authorization', `Bearer ${ADMIN}`);
    expect(bad.status).toBe(400);
    const page = await request(t.app)
      .get('/admin/audit')
      .query({ from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z', _count: 1 })
      .set('authorization', `Bearer ${ADMIN}`);
    expect(page.status).toBe(200);
    expect(page.headers['link']).toMatch(/after=\d+.*rel="next"/);
  });

  test.each([
    [{ _count: '0x10' }, 'query._count: must be a whole number written in decimal digits'],
    [{ _count: '1e3' }, 'query._count: must be a whole number written in decimal digits'],
    [{ _count: '+5' }, 'query._count: must be a whole number written in decimal digits'],
    [{ _count: '0' }, 'query._count: Too small: expected number to be >=1'],
    [
      { from: '2027-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
      'query.from: from is after to: the range is empty (give from ≤ to)',
    ],
    // An unreadable bound is a 400 naming it, not a 500 from comparing it (the from ≤ to rule runs too).
    [{ to: 'garbage' }, 'query.to: Invalid ISO datetime'],
    [{ from: 'garbage' }, 'query.from: Invalid ISO datetime'],
    [{ to: '+275760-09-13T00:00:00Z' }, 'query.to: Invalid ISO datetime'],
  ])('GET /admin/audit %o: 400 naming the parameter', async (query, diagnostics) => {
    const res = await request(t.app)
      .get('/admin/audit')
      .query({ from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', ...query })
      .set('authorization', `Bearer ${ADMIN}`)
      .expect(400);
    expect(res.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics }],
    });
    expect(res.body.issue).toHaveLength(1);
  });

  test('GET /admin/audit with from equal to to is an empty range, answered 200', async () => {
    const at = '2026-01-01T00:00:00Z';
    const res = await request(t.app)
      .get('/admin/audit')
      .query({ from: at, to: at, _count: '16' })
      .set('authorization', `Bearer ${ADMIN}`)
      .expect(200);
    expect(res.text).toBe('');
  });
});

describe('metrics', () => {
  test('a replayed jti is refused (401) and counted by reason', async () => {
    const token = await jwt(PV, 'same-jti');
    const body = hookRequest('patient-view', PATIENT, { fhirServer: `${fhir.url}/fhir` });
    expect((await request(t.app).post(PV).set('authorization', `Bearer ${token}`).send(body)).status).toBe(200);
    expect((await request(t.app).post(PV).set('authorization', `Bearer ${token}`).send(body)).status).toBe(401);
    expect((await request(t.app).post(PV).send(body)).status).toBe(401);
    const metrics = (await request(t.app).get('/metrics')).text;
    expect(metrics).toMatch(/cds_jwt_refusals_total\{reason="jti-replayed"\} 1/);
    expect(metrics).toMatch(/cds_jwt_refusals_total\{reason="no-token"\} 1/);
  });

  test('/metrics tells calls per service and hook, prefetch sources, FHIR upstream outcomes and latency, engine time, feedback', async () => {
    const feedback = await request(t.app)
      .post(`${PV}/feedback`)
      .set('authorization', `Bearer ${await jwt(`${PV}/feedback`)}`)
      .send({ feedback: [{ card: randomUUID(), outcome: 'overridden', outcomeTimestamp: new Date().toISOString() }] });
    expect(feedback.status).toBe(200);
    await request(t.app)
      .post('/cds-services/no-such-service')
      .set('authorization', `Bearer ${await jwt('/cds-services/no-such-service')}`)
      .send({});
    const text = (await request(t.app).get('/metrics')).text;
    for (const line of [
      /cds_service_calls_total\{service="cart-hematotox-patient-view",hook="patient-view",status="200"\} [1-9]/,
      /cds_service_calls_total\{service="unknown",hook="unknown",status="404"\} 1/,
      /cds_service_call_duration_seconds_bucket\{le="0.5",service="cart-hematotox-patient-view",hook="patient-view"\}/,
      /cds_prefetch_keys_total\{service="cart-hematotox-patient-view",key="patient",source="fetched"\} [1-9]/,
      /cds_fhir_requests_total\{outcome="ok",resource_type="Patient"\} [1-9]/,
      /cds_fhir_requests_total\{outcome="http-error",resource_type="Condition"\} [1-9]/,
      /cds_fhir_request_duration_seconds_count\{outcome="ok"\} [1-9]/,
      /cds_engine_duration_seconds_count\{operation="cds-call"\} [1-9]/,
      /cds_feedback_entries_total\{service="cart-hematotox-patient-view",outcome="overridden",result="stored"\} 1/,
      /cds_card_records_dropped_total 0/,
      /cds_audit_events_written_total [1-9]/,
      /cds_audit_events_dropped_total 0/,
    ])
      expect(text).toMatch(line);
    expect(text).not.toContain(PATIENT);
  });
});

test('cards issued are counted by service, kind and indicator (demo FHIR server, a patient on day +9)', async () => {
  const demo = await serveFhir(await seededDemo(new Date().toISOString().slice(0, 10)));
  try {
    const call = await request(t.app)
      .post(PV)
      .set('authorization', `Bearer ${await jwt(PV)}`)
      .send(hookRequest('patient-view', 'cart-day9', { fhirServer: demo.baseUrl }));
    expect(call.status).toBe(200);
    const cards = (call.body as { cards: { indicator: string }[] }).cards;
    expect(cards.length).toBeGreaterThan(0);
    const text = (await request(t.app).get('/metrics')).text;
    const issued = [
      ...text.matchAll(
        /^cds_cards_issued_total\{service="cart-hematotox-patient-view",kind="[a-z-]+",indicator="(\w+)"\} (\d+)$/gm,
      ),
    ];
    expect(issued.reduce((n, m) => n + Number(m[2]), 0)).toBe(cards.length);
  } finally {
    await demo.close();
  }
});

describe('admin authentication is throttled per client address', () => {
  test('after 10 wrong tokens the address gets 429 with Retry-After, even with the right token', async () => {
    const { app } = buildTestApp({ env: { ADMIN_TOKEN: ADMIN }, overrides: { feedback: store } });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push(
        (await request(app).get('/admin/feedback/summary').set('authorization', `Bearer wrong-${i}`)).status,
      );
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(403));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const right = await request(app).get('/admin/feedback/summary').set('authorization', `Bearer ${ADMIN}`);
    expect(right.status).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toMatch(/cds_admin_auth_failures_total\{result="rate_limited"\} 3/);
    expect(metrics).toMatch(/cds_admin_auth_failures_total\{result="refused"\} 10/);
  });
});
