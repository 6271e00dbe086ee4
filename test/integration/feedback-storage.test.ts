/**
 * Feedback, for real, through both databases: cards issued by patient-view, the clinician's
 * accept/override feedback, a service restart, and the alert-fatigue summary joining the two by
 * card uuid. SQLite is a file in a temporary directory; PostgreSQL is a throw-away cluster from
 * Debian's package (test/helpers/postgres.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { cardKind } from '../../src/cds-hooks/router.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { FeedbackSummary } from '../../src/storage/feedback-store.js';
import { buildTestApp, hookRequest, LogCapture } from '../helpers/app.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';
const COMMENT = 'Transfused yesterday on the ward, result pending';
const SERVICE = `/cds-services/${PATIENT_VIEW_ID}`;

let fhir: TestFhirServer;
let pg: TestPostgres;

beforeAll(async () => {
  [fhir, pg] = await Promise.all([seededDemo().then((d) => serveFhir(d)), startTestPostgres()]);
}, 120_000);
afterAll(async () => {
  await fhir?.close();
  await pg?.stop();
});

interface Started {
  running: RunningServer;
  logs: LogCapture;
}

async function start(storageEnv: Record<string, string>): Promise<Started> {
  const logs = new LogCapture();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', FHIR_ALLOW_HTTP: 'true', ADMIN_TOKEN, ...storageEnv });
  return { running: await startServer(config, createLogger('debug', logs)), logs };
}

const entry = (card: string, outcome: 'accepted' | 'overridden', more: Record<string, unknown> = {}): Record<string, unknown> => ({
  card,
  outcome,
  outcomeTimestamp: '2026-11-22T10:15:00Z',
  ...more,
});
const reason = (code: string, display: string, userComment?: string): Record<string, unknown> => ({
  overrideReason: { reason: { system: 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox', code, display }, ...(userComment ? { userComment } : {}) },
});

const BACKENDS: [string, () => Record<string, string>][] = [
  ['SQLite (default, a file created on first use)', () => ({ FEEDBACK_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'cart-feedback-')), 'nested', 'feedback.sqlite') })],
  ['PostgreSQL (DATABASE_URL)', () => ({ DATABASE_URL: pg.url })],
];

describe.each(BACKENDS)('%s', (_name, storage) => {
  let env: Record<string, string>;
  let cards: Card[];
  let first: Started;
  beforeAll(async () => {
    env = storage();
    first = await start(env);
    const res = await request(first.running.baseUrl).post(SERVICE).send(hookRequest('patient-view', 'cart-day9', { fhirServer: fhir.baseUrl })).expect(200);
    cards = (res.body as { cards: Card[] }).cards;
  }, 60_000);
  afterAll(async () => {
    await first?.running.close().catch(() => undefined);
  });

  const card = (kind: string): Card => cards.find((c) => cardKind(c) === kind) as Card;

  test('feedback is answered 200 once stored, and a restart loses none of it', async () => {
    const redCells = card('red-cell-transfusion');
    const feedback = [
      entry(redCells.uuid as string, 'accepted', { acceptedSuggestions: [{ id: redCells.suggestions?.[0]?.uuid }] }),
      entry(card('platelet-transfusion').uuid as string, 'overridden', reason('already-addressed', 'Already addressed', COMMENT)),
      entry(card('platelet-transfusion').uuid as string, 'overridden', reason('already-addressed', 'Already addressed')),
      entry(card('hematotoxicity-summary').uuid as string, 'overridden', reason('not-indicated', 'Not clinically indicated for this patient')),
      entry(card('g-csf').uuid as string, 'overridden'),
    ];
    const res = await request(first.running.baseUrl).post(`${SERVICE}/feedback`).send({ feedback }).expect(200);
    expect(res.body).toEqual({ stored: 5 });
    await first.running.close();

    // A new process on the same storage: everything acknowledged is there.
    const second = await start(env);
    try {
      // The same situation issues the same cards again (same uuids): counted, not duplicated.
      await request(second.running.baseUrl).post(SERVICE).send(hookRequest('patient-view', 'cart-day9', { fhirServer: fhir.baseUrl })).expect(200);
      const summary = (await request(second.running.baseUrl).get('/admin/feedback/summary').set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(200)).body as FeedbackSummary;
      expect(summary.storage).toBe(env['DATABASE_URL'] ? 'postgres' : 'sqlite');
      expect(summary.totals).toEqual({ cardsIssued: 4, feedback: 5, accepted: 1, overridden: 4 });
      const byKind = Object.fromEntries(summary.byServiceAndKind.map((k) => [k.cardKind, k]));
      expect(byKind['platelet-transfusion']).toMatchObject({
        serviceId: PATIENT_VIEW_ID,
        cardsIssued: 1,
        timesIssued: 2,
        accepted: 0,
        overridden: 2,
        acceptanceRate: 0,
        topOverrideReasons: [{ code: 'already-addressed', display: 'Already addressed', count: 2 }],
      });
      expect(byKind['red-cell-transfusion']).toMatchObject({ accepted: 1, overridden: 0, acceptanceRate: 1, topOverrideReasons: [] });
      expect(byKind['g-csf']).toMatchObject({ overridden: 1, topOverrideReasons: [{ code: null, count: 1 }] });
      expect(byKind['hematotoxicity-summary']?.topOverrideReasons[0]).toMatchObject({ code: 'not-indicated', count: 1 });
      // No patient data and no clinician comment in the logs.
      for (const logs of [first.logs, second.logs]) {
        expect(logs.text).not.toContain('cart-day9');
        expect(logs.text).not.toContain(COMMENT);
      }
    } finally {
      await second.running.close();
    }
  }, 60_000);
});

describe('feedback validation and the admin endpoint', () => {
  const app = buildTestApp({ env: { ADMIN_TOKEN } }).app;
  const uuid = '5f1c2a0e-1b2c-4d3e-8f40-123456789abc';

  test.each([
    ['no feedback array', {}, 'feedback'],
    ['empty feedback array', { feedback: [] }, 'feedback'],
    ['card is not a uuid', { feedback: [entry('card-1', 'overridden')] }, 'feedback[0].card'],
    ['unknown outcome', { feedback: [entry(uuid, 'ignored' as 'accepted')] }, 'feedback[0].outcome'],
    ['accepted without acceptedSuggestions', { feedback: [entry(uuid, 'accepted')] }, 'feedback[0].acceptedSuggestions'],
    ['timestamp without offset', { feedback: [entry(uuid, 'overridden', { outcomeTimestamp: '2026-11-22 10:15' })] }, 'feedback[0].outcomeTimestamp'],
  ])('%s → 400 OperationOutcome naming the field', async (_name, body, field) => {
    const res = await request(app).post(`${SERVICE}/feedback`).send(body).expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).toContain(field);
  });

  test('feedback for an unknown service is a 404', async () => {
    await request(app).post('/cds-services/nope/feedback').send({ feedback: [entry(uuid, 'overridden')] }).expect(404);
  });

  test('the summary needs the admin token: 401 without, 403 wrong, 404 when no token is configured', async () => {
    await request(app).get('/admin/feedback/summary').expect(401);
    await request(app).get('/admin/feedback/summary').set('authorization', 'Bearer wrong-token').expect(403);
    await request(app).get('/admin/feedback/summary').set('authorization', `Bearer ${ADMIN_TOKEN}x`).expect(403);
    await request(buildTestApp().app).get('/admin/feedback/summary').set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(404);
  });

  test('an unusable SQLite path stops start-up with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cart-feedback-'));
    writeFileSync(join(dir, 'not-a-directory'), '');
    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', FEEDBACK_SQLITE_PATH: join(dir, 'not-a-directory', 'feedback.sqlite') });
    await expect(startServer(config, createLogger('silent', new LogCapture()))).rejects.toThrow(/not-a-directory/);
  });
});

describe('PostgreSQL going away', () => {
  test('cards still flow; feedback gets 503 (nothing acknowledged that was not stored); /readyz says not ready', async () => {
    const db = await startTestPostgres();
    const started = await start({ DATABASE_URL: db.url });
    try {
      await db.stop();
      // Card bookkeeping fails, but the clinician still gets the cards.
      const cards = await request(started.running.baseUrl).post(SERVICE).send(hookRequest('patient-view', 'cart-day9', { fhirServer: fhir.baseUrl })).expect(200);
      expect(cards.body.cards.length).toBe(4);
      expect(started.logs.text).toContain('could not record issued cards');
      const t0 = Date.now();
      const res = await request(started.running.baseUrl)
        .post(`${SERVICE}/feedback`)
        .send({ feedback: [entry('5f1c2a0e-1b2c-4d3e-8f40-123456789abc', 'overridden')] })
        .expect(503);
      expect(Date.now() - t0).toBeLessThan(7000);
      expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', diagnostics: expect.stringContaining('send it again later') }] });
      expect(started.logs.text).toContain('PostgreSQL connection lost');
      const ready = await request(started.running.baseUrl).get('/readyz').expect(503);
      expect(ready.body.checks.feedbackStorage).toBe(false);
      await request(started.running.baseUrl).get('/admin/feedback/summary').set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(503);
    } finally {
      await started.running.close();
    }
  }, 60_000);
});
