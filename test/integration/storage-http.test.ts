/**
 * Storage never stalls care, over real HTTP with a real PostgreSQL: frozen with SIGSTOP (sockets
 * open, nothing answers), CDS calls still answer at their usual speed because issued cards are
 * recorded off the response path, and feedback answers 503 within the storage timeout. Feedback
 * retried after a lost 200 is stored once. A COMMIT the database does not confirm in time (a
 * synchronous standby that does not answer) is a 503 that says the feedback may be stored.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pgDriver from 'pg';
import request from 'supertest';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { createFeedbackStore, type FeedbackStore } from '../../src/storage/index.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

/** Long enough that awaiting a frozen database would stand out from a loaded machine's noise. */
const STORAGE_TIMEOUT_MS = 3000;
const SERVICE = `/cds-services/${PATIENT_VIEW_ID}`;
let pg: TestPostgres;
let fhir: TestFhirServer;
let store: FeedbackStore;
let t: TestApp;

beforeAll(async () => {
  [pg, fhir] = await Promise.all([startTestPostgres(), seededDemo().then((demo) => serveFhir(demo))]);
  const env = { DATABASE_URL: pg.url, STORAGE_TIMEOUT_MS: String(STORAGE_TIMEOUT_MS) };
  const config = buildTestApp({ env }).config;
  store = await createFeedbackStore(config);
  t = buildTestApp({ env, overrides: { feedback: store } });
}, 60_000);
afterAll(async () => {
  pg.thaw();
  await store.close();
  await fhir.close();
  await pg.stop();
});

async function patientView(): Promise<{ ms: number; cards: Card[] }> {
  const started = performance.now();
  const res = await request(t.app)
    .post(SERVICE)
    .send(hookRequest('patient-view', 'cart-day9', { fhirServer: fhir.baseUrl }))
    .expect(200);
  return { ms: performance.now() - started, cards: (res.body as { cards: Card[] }).cards };
}

const entry = (card: string, minute: number): Record<string, unknown> => ({
  card,
  outcome: 'overridden',
  outcomeTimestamp: `2026-11-22T10:${String(minute).padStart(2, '0')}:00Z`,
  overrideReason: { reason: { system: 'urn:test', code: 'already-addressed', display: 'Already addressed' } },
});

describe('with PostgreSQL frozen', () => {
  test('CDS calls answer as fast as before, feedback answers 503 within the timeout, and both recover', async () => {
    const warm = await patientView();
    await patientView();
    const before = (await patientView()).ms;
    pg.freeze();
    try {
      const frozen = await patientView();
      expect(frozen.cards.map((c) => c.uuid)).toEqual(warm.cards.map((c) => c.uuid));
      // Card bookkeeping is queued, not awaited: the call costs what it cost before, plus noise, and
      // far less than the storage timeout it would wait out if the bookkeeping were on its path.
      expect(frozen.ms).toBeLessThan(before + STORAGE_TIMEOUT_MS / 2);
      const started = performance.now();
      const res = await request(t.app)
        .post(`${SERVICE}/feedback`)
        .send({ feedback: [entry(warm.cards[0]?.uuid ?? '', 1)] });
      const feedbackMs = performance.now() - started;
      expect(res.status).toBe(503);
      expect(res.body.issue[0]).toMatchObject({
        code: 'transient',
        diagnostics: 'Feedback could not be stored; nothing was saved, send it again later',
      });
      expect(feedbackMs).toBeLessThan(STORAGE_TIMEOUT_MS + 500);
      console.log(
        `frozen PostgreSQL: patient-view ${frozen.ms.toFixed(0)} ms (before ${before.toFixed(0)} ms), feedback 503 after ${feedbackMs.toFixed(0)} ms`,
      );
    } finally {
      pg.thaw();
    }
    await request(t.app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: [entry(warm.cards[0]?.uuid ?? '', 2)] })
      .expect(200);
  }, 30_000);
});

describe('COMMIT not confirmed in time (a synchronous standby that does not answer)', () => {
  test('feedback answers 503 saying it may have been stored and that sending it again is safe; the retry stores it once', async () => {
    const card = '0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3';
    const body = { feedback: [entry(card, 45)] };
    const admin = new pgDriver.Client({ connectionString: pg.url });
    await admin.connect();
    const stored = async (): Promise<number> =>
      (await admin.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM feedback WHERE card_uuid = $1', [card])).rows[0]
        ?.n ?? -1;
    // The test cluster runs with synchronous_commit=off (command line); the database's setting wins
    // for new sessions, hence a store of its own, connecting after it.
    await admin.query('ALTER DATABASE feedback SET synchronous_commit = on');
    await admin.query("ALTER SYSTEM SET synchronous_standby_names = 'ghost'");
    await admin.query('SELECT pg_reload_conf()');
    const env = { DATABASE_URL: pg.url, STORAGE_TIMEOUT_MS: '1000' };
    const waiting = await createFeedbackStore(buildTestApp({ env }).config);
    const app = buildTestApp({ env, overrides: { feedback: waiting } });
    try {
      const res = await request(app.app).post(`${SERVICE}/feedback`).send(body);
      expect(res.status).toBe(503);
      expect(res.body.issue[0]).toMatchObject({
        code: 'transient',
        diagnostics:
          'Feedback may have been stored: the database did not confirm it in time. Sending it again is safe: it is stored once',
      });
      expect(app.logs.text).toContain('feedback may be stored: COMMIT was not answered');
      expect(app.logs.text).not.toContain('Already addressed');
      const metrics = await request(app.app).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/cds_feedback_entries_total\{[^}]*outcome="overridden",result="unknown"\} 1/);
    } finally {
      await admin.query('ALTER SYSTEM RESET synchronous_standby_names');
      await admin.query('ALTER DATABASE feedback RESET synchronous_commit');
      await admin.query('SELECT pg_reload_conf()');
    }
    try {
      // The standby no longer waited for, the commit that was in flight completes: it was stored.
      const until = Date.now() + 10_000;
      while ((await stored()) !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(await stored()).toBe(1);
      await request(app.app).post(`${SERVICE}/feedback`).send(body).expect(200, { stored: 1 });
      expect(await stored()).toBe(1);
    } finally {
      await waiting.close();
      await admin.end();
    }
  }, 30_000);
});

describe('idempotent feedback', () => {
  test('the same entry posted twice (a retry after a lost 200) is answered 200 both times and stored once', async () => {
    const { cards } = await patientView();
    const body = { feedback: [entry(cards[0]?.uuid ?? '', 30)] };
    const before = (await store.summary(new Date())).totals.feedback;
    await request(t.app).post(`${SERVICE}/feedback`).send(body).expect(200, { stored: 1 });
    await request(t.app).post(`${SERVICE}/feedback`).send(body).expect(200, { stored: 1 });
    expect((await store.summary(new Date())).totals.feedback).toBe(before + 1);
    // Another decision on the same card at another time is another entry.
    await request(t.app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: [entry(cards[0]?.uuid ?? '', 31)] })
      .expect(200);
    expect((await store.summary(new Date())).totals.feedback).toBe(before + 2);
  });
});

test('/metrics says how many card records were written, dropped or failed', async () => {
  const res = await request(t.app).get('/metrics').expect(200);
  for (const name of [
    'cds_card_records_written_total',
    'cds_card_records_dropped_total',
    'cds_card_records_failed_total',
    'cds_card_records_queued',
  ])
    expect(res.text).toContain(name);
});
