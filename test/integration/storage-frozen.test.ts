/**
 * Storage must never stall care. A real PostgreSQL cluster is frozen (SIGSTOP on all its
 * processes: connections stay open, nothing answers), a real SQLite file is write-locked by
 * another connection, and card bookkeeping goes through CardRecorder, whose sink is also faked
 * (hanging, throwing) since the recorder is the boundary we own.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { IssuedCard } from '../../src/shared/card-kind.js';
import type { FeedbackEntry } from '../../src/cds-hooks/schemas.js';
import { createLogger } from '../../src/logger.js';
import { CardRecorder, type CardSink } from '../../src/storage/card-recorder.js';
import { StorageTimeoutError } from '../../src/storage/deadline.js';
import type { CardBatch } from '../../src/storage/feedback-store.js';
import { registerCardRecorderMetrics } from '../../src/storage/metrics.js';
import { PostgresFeedbackStore } from '../../src/storage/postgres.js';
import { SqliteFeedbackStore } from '../../src/storage/sqlite.js';
import { LogCapture } from '../helpers/app.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const TIMEOUT_MS = 2000; // the default, STORAGE_TIMEOUT_MS
const COMMENT = 'Transfused yesterday on the ward, result pending';
const CARDS: IssuedCard[] = [
  { uuid: '0a9d3b8e-3f1c-4b7a-9c2e-1d5f6a7b8c90', kind: 'platelet-transfusion', indicator: 'warning' },
  { uuid: '1b8e4c9f-402d-4c8b-8d3f-2e6a7b8c9d01', kind: 'g-csf', indicator: 'info' },
];
const feedback = (n = 0): FeedbackEntry[] => [
  {
    card: CARDS[0]!.uuid,
    outcome: 'overridden',
    outcomeTimestamp: `2026-11-22T10:${String(15 + n).padStart(2, '0')}:00Z`,
    overrideReason: {
      reason: { system: 'urn:test', code: 'already-addressed', display: 'Already addressed' },
      userComment: COMMENT,
    },
  },
];

/** How long `work` takes to settle, and how. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

/**
 * Calls record() `n` times; durations in ms, sorted. A shared CI machine may preempt any single
 * call, so tests bound the 99th percentile by 5 ms and the slowest by 50 ms.
 */
function recordTimes(recorder: CardRecorder, n: number): { p99: number; max: number } {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    recorder.record('patient-view', CARDS, new Date());
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p99: times[Math.ceil(n * 0.99) - 1] ?? 0, max: times[n - 1] ?? 0 };
}

function expectQuickRecords(what: string, recorder: CardRecorder, n: number): void {
  // Warm the code up on a throwaway recorder first: with n = 3 the 99th percentile is the slowest
  // call, and a first (unoptimised) call on a loaded machine measured 7.6 ms (CI, 2026-11-23).
  const warm = new CardRecorder({ recordCards: () => Promise.resolve() }, { log: createLogger('silent') });
  for (let i = 0; i < 50; i++) warm.record('patient-view', CARDS, new Date());
  const { p99, max } = recordTimes(recorder, n);
  console.info(
    `${what}: CardRecorder.record() over ${n} calls, p99 ${p99.toFixed(3)} ms, slowest ${max.toFixed(3)} ms`,
  );
  expect(p99).toBeLessThan(5);
  expect(max).toBeLessThan(50);
}

const report = (what: string, ms: number): void => console.info(`${what}: ${ms.toFixed(1)} ms`);

describe('CardRecorder (fake sinks)', () => {
  const never = (): Promise<never> => new Promise<never>(() => undefined);

  test('a sink that never answers: record() returns at once, the write counts as failed after writeTimeoutMs', async () => {
    const logs = new LogCapture();
    const recorder = new CardRecorder({ recordCards: never }, { writeTimeoutMs: 50, log: createLogger('debug', logs) });
    expectQuickRecords('hanging sink', recorder, 3);
    expect(recorder.queued).toBe(3);
    expect(await recorder.flush(2000)).toBe(true);
    expect({
      failed: recorder.failed,
      dropped: recorder.dropped,
      recorded: recorder.recorded,
      queued: recorder.queued,
    }).toEqual({ failed: 3, dropped: 0, recorded: 0, queued: 0 });
    expect(logs.records()).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'could not record issued cards',
        error: 'CardRecorder write timeout',
      }),
    );
  });

  test('a sink that throws (synchronously or not): counted and logged by name and code, never by message', async () => {
    const logs = new LogCapture();
    let calls = 0;
    const sink: CardSink = {
      recordCards: () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error(`value "${COMMENT}" violates`), { code: '23514' });
        return Promise.reject(Object.assign(new TypeError(COMMENT), { code: 'EBOOM' }));
      },
    };
    const recorder = new CardRecorder(sink, { maxBatchesPerWrite: 1, log: createLogger('debug', logs) });
    recorder.record('patient-view', CARDS, new Date());
    recorder.record('patient-view', CARDS, new Date());
    expect(await recorder.flush()).toBe(true);
    expect(recorder.failed).toBe(2);
    const errors = logs.records().filter((r) => r['msg'] === 'could not record issued cards');
    expect(errors.map((r) => r['error'])).toEqual(['Error 23514', 'TypeError EBOOM']);
    expect(logs.text).not.toContain(COMMENT);
  });

  test('a full queue drops new batches (counted, one warning); close() refuses later ones', async () => {
    const logs = new LogCapture();
    const written: CardBatch[][] = [];
    const recorder = new CardRecorder(
      { recordCards: never, recordCardBatches: (b) => Promise.resolve(void written.push([...b])) },
      { maxQueuedBatches: 10, maxBatchesPerWrite: 4, log: createLogger('debug', logs) },
    );
    recordTimes(recorder, 25);
    expect({ queued: recorder.queued, dropped: recorder.dropped }).toEqual({ queued: 10, dropped: 15 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(logs.records().filter((r) => r['level'] === 'warn')).toHaveLength(1);
    expect(await recorder.close()).toBe(true);
    expect(written.map((w) => w.length)).toEqual([4, 4, 2]);
    expect(recorder.recorded).toBe(10);
    recorder.record('patient-view', CARDS, new Date());
    expect(recorder.dropped).toBe(16);
    const registry = new Registry();
    registerCardRecorderMetrics(registry, recorder);
    const metrics = await registry.metrics();
    for (const line of [
      'cds_card_records_written_total 10',
      'cds_card_records_dropped_total 16',
      'cds_card_records_failed_total 0',
      'cds_card_records_queued 0',
    ]) {
      expect(metrics).toContain(line);
    }
  });

  test("record() writes nothing on the caller's turn: the response goes out first", async () => {
    let writes = 0;
    const recorder = new CardRecorder({ recordCards: () => Promise.resolve(void (writes += 1)) });
    recorder.record('patient-view', CARDS, new Date());
    await Promise.resolve(); // microtasks (a handler's own awaits) still come before the write
    expect(writes).toBe(0);
    await recorder.flush();
    expect(writes).toBe(1);
  });
});

describe('SQLite (a real file)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'cart-frozen-')), 'feedback.sqlite');

  test('CardRecorder batches many service calls into few transactions, counts re-issued cards', async () => {
    const store = new SqliteFeedbackStore(path);
    await store.init();
    const recorder = new CardRecorder(store, { maxBatchesPerWrite: 100 });
    expectQuickRecords('SQLite', recorder, 250);
    expect(await recorder.flush(10_000)).toBe(true);
    expect({ recorded: recorder.recorded, failed: recorder.failed, dropped: recorder.dropped }).toEqual({
      recorded: 250,
      failed: 0,
      dropped: 0,
    });
    const summary = await store.summary(new Date());
    expect(summary.totals.cardsIssued).toBe(2);
    expect(summary.byServiceAndKind.map((k) => k.timesIssued)).toEqual([250, 250]);
    await store.close();
  });

  test('a write lock held by another connection costs a feedback write at most busy_timeout (SQLITE_BUSY)', async () => {
    const store = new SqliteFeedbackStore(path, { timeoutMs: 1000 });
    await store.init();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const write = await timed(() => store.recordFeedback('patient-view', feedback(), new Date()));
      report('SQLite feedback write against a held lock (timeout 1000 ms)', write.ms);
      expect(write.error).toMatchObject({ code: 'SQLITE_BUSY' });
      expect(write.ms).toBeLessThan(2000);
      const recorder = new CardRecorder(store);
      recorder.record('patient-view', CARDS, new Date());
      expect(await recorder.flush()).toBe(true);
      expect(recorder.failed).toBe(1);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expect(store.storeFeedback('patient-view', feedback(), new Date())).resolves.toEqual({
      inserted: 1,
      alreadyStored: 0,
    });
    await store.close();
  });
});

describe('PostgreSQL frozen (SIGSTOP on every process of the cluster)', () => {
  let db: TestPostgres;
  let store: PostgresFeedbackStore;
  const logs = new LogCapture();

  beforeAll(async () => {
    db = await startTestPostgres();
    store = new PostgresFeedbackStore(db.url, createLogger('debug', logs));
    await store.init();
  }, 60_000);
  afterAll(async () => {
    db?.thaw();
    await store?.close();
    await db?.stop();
  }, 30_000);

  test('writes and pings give up within the timeout, record() does not wait, and all recovers after SIGCONT', async () => {
    // Warm connections in the pool: the frozen server holds them open.
    await Promise.all([
      store.storeFeedback('patient-view', feedback(0), new Date()),
      store.ping(),
      store.recordCards('patient-view', CARDS, new Date()),
    ]);
    const frozen = db.freeze();
    expect(frozen.length).toBeGreaterThan(3);
    try {
      const write = await timed(() => store.recordFeedback('patient-view', feedback(1), new Date()));
      report('frozen PostgreSQL: recordFeedback rejected after', write.ms);
      expect(write.error).toBeInstanceOf(StorageTimeoutError);
      expect(write.ms).toBeLessThan(TIMEOUT_MS + 1000);

      // More callers than pooled connections: those waiting for a connection are bounded too.
      const many = await timed(() =>
        Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.recordFeedback('patient-view', feedback(10 + i), new Date())),
        ),
      );
      report('frozen PostgreSQL: 8 concurrent writes (pool of 5) all rejected after', many.ms);
      expect(many.value?.map((r) => r.status)).toEqual(Array(8).fill('rejected'));
      expect(many.ms).toBeLessThan(TIMEOUT_MS + 1000);

      const ping = await timed(() => store.ping());
      report('frozen PostgreSQL: ping() answered false after', ping.ms);
      expect(ping.value).toBe(false);
      expect(ping.ms).toBeLessThan(TIMEOUT_MS + 1000);

      // A new store has no open connection: connecting (TCP accepted, no startup answer) is bounded.
      const fresh = new PostgresFeedbackStore(db.url);
      const freshPing = await timed(() => fresh.ping());
      report('frozen PostgreSQL: ping() on a fresh pool (connect hangs) false after', freshPing.ms);
      expect(freshPing.value).toBe(false);
      expect(freshPing.ms).toBeLessThan(TIMEOUT_MS + 1000);
      await fresh.close();

      const recorder = new CardRecorder(store, { maxQueuedBatches: 50, log: createLogger('debug', logs) });
      expectQuickRecords('frozen PostgreSQL', recorder, 200);
      expect({ queued: recorder.queued, dropped: recorder.dropped }).toEqual({ queued: 50, dropped: 150 });
      expect(await recorder.flush(TIMEOUT_MS + 1000)).toBe(true);
      expect({ failed: recorder.failed, recorded: recorder.recorded }).toEqual({ failed: 50, recorded: 0 });
    } finally {
      db.thaw();
    }

    // Thawed: the same store works again, on new connections.
    expect(await store.ping()).toBe(true);
    await expect(store.storeFeedback('patient-view', feedback(1), new Date())).resolves.toEqual({
      inserted: 1,
      alreadyStored: 0,
    });
    const recorder = new CardRecorder(store);
    recorder.record('patient-view', CARDS, new Date());
    expect(await recorder.flush()).toBe(true);
    expect(recorder.recorded).toBe(1);
    const summary = await store.summary(new Date());
    expect(summary.totals).toMatchObject({ cardsIssued: 2, feedback: 2 });
    expect(summary.byServiceAndKind.map((k) => k.timesIssued)).toEqual([2, 2]);
    expect(logs.text).not.toContain(COMMENT);
  }, 30_000);

  test('a statement waiting on a lock is stopped by statement_timeout, and the pool stays usable', async () => {
    const pg = (await import('pg')).default;
    const locker = new pg.Client(db.url);
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE feedback IN ACCESS EXCLUSIVE MODE');
      const write = await timed(() => store.recordFeedback('patient-view', feedback(30), new Date()));
      report('PostgreSQL write behind a table lock rejected after', write.ms);
      expect(write.error).toBeDefined();
      expect(write.ms).toBeLessThan(TIMEOUT_MS + 1000);
      // The server gave up too (statement_timeout): no statement of ours still waits for the lock
      // (a destroyed socket alone would leave it waiting until the lock is released).
      await new Promise((resolve) => setTimeout(resolve, 300));
      const waiting = await locker.query<{ n: string }>('SELECT count(*) AS n FROM pg_locks WHERE NOT granted');
      expect(Number(waiting.rows[0]?.n)).toBe(0);
      await locker.query('ROLLBACK');
      await expect(store.storeFeedback('patient-view', feedback(30), new Date())).resolves.toEqual({
        inserted: 1,
        alreadyStored: 0,
      });
      // Hung connections were destroyed, not pooled: the server sees at most the pool's five.
      const { rows } = await locker.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'feedback' AND pid <> pg_backend_pid()",
      );
      expect(Number(rows[0]?.n)).toBeLessThanOrEqual(5);
    } finally {
      await locker.end();
    }
  }, 30_000);
});
