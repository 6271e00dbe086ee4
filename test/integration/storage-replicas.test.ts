/**
 * What replicas share in PostgreSQL, on a real cluster: versioned migrations applied once under
 * node-pg-migrate's advisory lock when several replicas start at the same instant; the jti replay
 * store (a token seen by one replica is refused by another, expiry, bounded size); the append-only
 * audit trail with its retention. SQLite (one process) keeps an audit table too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AuditRecord, AuditStore } from '../../src/audit/audit.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { startAuditRetention } from '../../src/audit/retention.js';
import { PostgresAuditStore, SqliteAuditStore } from '../../src/storage/audit-store.js';
import { PostgresFeedbackStore } from '../../src/storage/postgres.js';
import { PostgresReplayStore } from '../../src/storage/replay-store.js';
import { SqliteFeedbackStore } from '../../src/storage/sqlite.js';
import { createLogger } from '../../src/logger.js';
import { LogCapture } from '../helpers/app.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

let cluster: TestPostgres;
let admin: pg.Client;
const stores: PostgresFeedbackStore[] = [];

async function freshDatabase(name: string): Promise<string> {
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(cluster.url);
  url.pathname = `/${name}`;
  return url.toString();
}

function store(url: string, timeoutMs = 2000): PostgresFeedbackStore {
  const s = new PostgresFeedbackStore(url, undefined, { timeoutMs });
  stores.push(s);
  return s;
}

const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  recordedAt: new Date('2026-11-22T10:00:00Z'),
  action: 'cds-call',
  clientIss: 'https://ehr.example.org/',
  clientSub: 'ehr-client',
  userId: 'Practitioner/p1',
  patientId: 'patient-1',
  serviceId: 'cart-hematotox-patient-view',
  hook: 'patient-view',
  hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
  cardUuids: ['a', 'b'],
  status: 200,
  requestId: 'r1',
  clientAddress: '127.0.0.1',
  ...over,
});

/** Retention's cut-off in the tests below: records of 2019 are past it, those of 2026-11-22 are not. */
const CUTOFF = new Date('2026-01-01T00:00:00Z');

/**
 * Runs the retention job (every 50 ms, each run at most 300 ms) until no record older than CUTOFF
 * is left (`countOld`, on a connection of its own) or 60 s have passed; returns what it deleted, the
 * runs that deleted, and the failures logged.
 */
async function retainUntilDrained(
  audit: AuditStore,
  countOld: () => Promise<number> | number,
): Promise<{ deleted: number; runs: number; failures: unknown[] }> {
  const logs = new LogCapture();
  let deleted = 0;
  const now = new Date(CUTOFF.getTime() + 30 * 86_400_000);
  const stop = startAuditRetention(audit, 30, {
    log: createLogger('info', logs),
    now: () => now,
    everyMs: 50,
    runMs: 300,
    onDeleted: (n) => (deleted += n),
  });
  const end = Date.now() + 60_000;
  try {
    while (Date.now() < end) {
      if ((await countOld()) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    stop();
  }
  const lines = logs.records();
  return {
    deleted,
    runs: lines.filter((l) => typeof l['deleted'] === 'number' && l['deleted'] > 0).length,
    failures: lines.filter((l) => l['level'] === 'warn').map((l) => String(l['error'])),
  };
}

beforeAll(async () => {
  cluster = await startTestPostgres();
  admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
}, 60_000);

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  await admin.end();
  await cluster.stop();
});

describe('PostgreSQL migrations', () => {
  test('five replicas starting at the same instant apply each migration once, under the advisory lock', async () => {
    const url = await freshDatabase('replicas_start');
    const replicas = Array.from({ length: 5 }, () => store(url));
    await Promise.all(replicas.map((r) => r.init()));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const ran = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      expect(ran.rows.map((r) => r.name)).toEqual([
        '1763800000000_feedback-schema',
        '1763800000001_feedback-dedupe-index',
        '1763800000002_jwt-replay',
        '1763800000003_audit-event',
        '1763800000004_audit-event-refusal',
      ]);
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      expect(tables.rows.map((t) => t.table_name)).toEqual([
        'audit_event',
        'feedback',
        'issued_cards',
        'jwt_replay',
        'pgmigrations',
      ]);
      // A restart finds nothing to do.
      await replicas[0]?.init();
      expect((await client.query('SELECT COUNT(*)::int AS n FROM pgmigrations')).rows[0]).toEqual({ n: 5 });
    } finally {
      await client.end();
    }
  });

  test('a database created by the release before migrations (feedback without dedupe keys) is adopted and keyed', async () => {
    const url = await freshDatabase('legacy_schema');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`
        CREATE TABLE issued_cards (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, kind TEXT NOT NULL,
          indicator TEXT NOT NULL, first_issued_at TIMESTAMPTZ NOT NULL, last_issued_at TIMESTAMPTZ NOT NULL,
          times_issued INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE feedback (id BIGSERIAL PRIMARY KEY, service_id TEXT NOT NULL, card_uuid TEXT NOT NULL,
          outcome TEXT NOT NULL, accepted_suggestions TEXT, override_system TEXT, override_code TEXT,
          override_display TEXT, user_comment TEXT, outcome_timestamp TIMESTAMPTZ NOT NULL,
          received_at TIMESTAMPTZ NOT NULL);
        INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp, received_at)
          VALUES ('s', 'c1', 'accepted', now(), now()), ('s', 'c1', 'accepted', now(), now());`);
      await store(url).init();
      const rows = await client.query<{ dedupe_key: string | null }>('SELECT dedupe_key FROM feedback ORDER BY id');
      expect(rows.rows).toHaveLength(2);
      expect(rows.rows.every((r) => typeof r.dedupe_key === 'string')).toBe(true);
      expect(rows.rows[1]?.dedupe_key).toMatch(/:dup:/);
    } finally {
      await client.end();
    }
  });
});

describe('jti replay store shared by replicas', () => {
  test('a jti seen by one replica is refused by another until it expires; expired rows are pruned; size is bounded', async () => {
    const url = await freshDatabase('replay');
    const a = store(url);
    const b = store(url);
    await Promise.all([a.init(), b.init()]);
    const replayA = new PostgresReplayStore(a, { pruneEveryMs: 0, maxEntries: 3 });
    const replayB = new PostgresReplayStore(b, { pruneEveryMs: 0, maxEntries: 3 });
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(await replayA.remember('iss', 'jti-1', now + 60_000, now)).toBe(true);
    expect(await replayB.remember('iss', 'jti-1', now + 60_000, now)).toBe(false);
    expect(await replayB.remember('other-iss', 'jti-1', now + 60_000, now)).toBe(true);
    // Once expired, the same jti is a new token (its exp check is jose's business).
    expect(await replayB.remember('iss', 'jti-1', now + 200_000, now + 61_000)).toBe(true);
    // Two tokens at once: exactly one replica wins.
    const race = await Promise.all([
      replayA.remember('iss', 'jti-race', now + 60_000, now),
      replayB.remember('iss', 'jti-race', now + 60_000, now),
    ]);
    expect(race.filter(Boolean)).toHaveLength(1);
    for (let i = 0; i < 5; i++) await replayA.remember('iss', `bulk-${i}`, now + 1000 + i, now);
    const deleted = await replayA.prune(now + 500);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const n = Number((await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM jwt_replay')).rows[0]?.n);
    await client.end();
    expect(deleted).toBeGreaterThan(0);
    expect(n).toBe(3);
    // A jti a hostile client made huge is stored as a fixed-size hash.
    expect(await replayA.remember('iss', 'x'.repeat(10_000), now + 60_000, now)).toBe(true);
  });

  test('a frozen database makes remember() reject within the storage timeout (the caller answers 503)', async () => {
    const url = await freshDatabase('replay_frozen');
    const s = new PostgresFeedbackStore(url, undefined, { timeoutMs: 500 });
    stores.push(s);
    await s.init();
    const replay = new PostgresReplayStore(s, { pruneEveryMs: 0 });
    cluster.freeze();
    const started = Date.now();
    try {
      await expect(replay.remember('iss', 'frozen', Date.now() + 60_000, Date.now())).rejects.toThrow();
    } finally {
      cluster.thaw();
    }
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('audit trail', () => {
  test('PostgreSQL: records are appended and read back by time range; UPDATE, DELETE and TRUNCATE are refused; retention deletes old ones', async () => {
    const url = await freshDatabase('audit');
    const s = store(url);
    await s.init();
    const audit = new PostgresAuditStore(s);
    await audit.append([
      record({ recordedAt: new Date('2020-01-01T00:00:00Z'), patientId: 'old' }),
      record(),
      record({ action: 'assessment', hook: undefined, cardUuids: [] }),
    ]);
    const read = await audit.read({
      from: new Date('2026-11-22T00:00:00Z'),
      to: new Date('2026-11-23T00:00:00Z'),
      limit: 10,
    });
    expect(read).toHaveLength(2);
    expect(read[0]).toMatchObject({
      patientId: 'patient-1',
      cardUuids: ['a', 'b'],
      status: 200,
      clientSub: 'ehr-client',
    });
    const page = await audit.read({
      from: new Date(0),
      to: new Date('2030-01-01T00:00:00Z'),
      afterId: read[0]?.id,
      limit: 10,
    });
    expect(page.map((r) => r.action)).toEqual(['assessment']);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await expect(client.query("UPDATE audit_event SET patient_id = 'x'")).rejects.toThrow(/append-only/);
      await expect(client.query('DELETE FROM audit_event')).rejects.toThrow(/append-only/);
      await expect(client.query('TRUNCATE audit_event')).rejects.toThrow(/append-only/);
      expect(await audit.prune(new Date('2021-01-01T00:00:00Z'), 1000)).toBe(1);
      expect((await client.query('SELECT COUNT(*)::int AS n FROM audit_event')).rows[0]).toEqual({ n: 2 });
    } finally {
      await client.end();
    }
  });

  test('PostgreSQL: a backlog of 200,000 records past retention is deleted with STORAGE_TIMEOUT_MS=100, over several runs; recent records stay', async () => {
    // One DELETE over the backlog outlived the pool-wide statement_timeout every hour (integration review).
    const url = await freshDatabase('audit_backlog');
    const s = store(url, 100);
    await s.init();
    const audit = new PostgresAuditStore(s);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO audit_event (recorded_at, action, patient_id, status)
         SELECT TIMESTAMPTZ '2019-01-01' + g * INTERVAL '1 minute', 'cds-call', 'old-' || g, 200
         FROM generate_series(1, 200000) AS g`,
      );
      await audit.append([record(), record({ requestId: 'r2' }), record({ requestId: 'r3' })]);
      const outcome = await retainUntilDrained(audit, async () =>
        Number(
          (await client.query('SELECT COUNT(*) AS n FROM audit_event WHERE recorded_at < $1', [CUTOFF])).rows[0].n,
        ),
      );
      expect(outcome.failures).toEqual([]);
      expect(outcome.deleted).toBe(200_000);
      expect(outcome.runs).toBeGreaterThan(1);
      const left = await client.query('SELECT request_id FROM audit_event ORDER BY id');
      expect(left.rows).toEqual([{ request_id: 'r1' }, { request_id: 'r2' }, { request_id: 'r3' }]);
    } finally {
      await client.end();
    }
  }, 120_000);

  test('PostgreSQL: a NUL in a request (userId, service id in the URL, patient) costs no record, its own or the others written with it', async () => {
    // PostgreSQL text cannot hold U+0000 (22021); records go many to one INSERT (helper review, 2026-11-23).
    const url = await freshDatabase('audit_nul');
    const s = store(url);
    await s.init();
    const recorder = new AuditRecorder(new PostgresAuditStore(s));
    recorder.record(record({ requestId: 'before' }));
    recorder.record(
      record({ requestId: 'nul', userId: 'Practitioner/evil\u0000', serviceId: 'x\u0000', patientId: 'p\u0000' }),
    );
    recorder.record(record({ requestId: 'after', cardUuids: ['a\u0000'] }));
    expect(await recorder.flush()).toBe(true);
    expect({ written: recorder.written, failed: recorder.failed }).toEqual({ written: 3, failed: 0 });
    const read = await new PostgresAuditStore(s).read({
      from: new Date(0),
      to: new Date('2030-01-01T00:00:00Z'),
      limit: 10,
    });
    expect(read.map((r) => [r.requestId, r.userId, r.serviceId, r.patientId, r.cardUuids])).toEqual([
      ['before', 'Practitioner/p1', 'cart-hematotox-patient-view', 'patient-1', ['a', 'b']],
      ['nul', 'Practitioner/evil\ufffd', 'x\ufffd', 'p\ufffd', ['a', 'b']],
      ['after', 'Practitioner/p1', 'cart-hematotox-patient-view', 'patient-1', ['a\ufffd']],
    ]);
  });

  test('SQLite: the audit table is created on start-up, refuses UPDATE and prunes by retention', async () => {
    const sqlite = new SqliteFeedbackStore(':memory:');
    await sqlite.init();
    const audit = new SqliteAuditStore(() => sqlite.bookkeeping());
    await audit.append([record(), record({ recordedAt: new Date('2020-01-01T00:00:00Z') })]);
    const read = await audit.read({ from: new Date(0), to: new Date('2030-01-01T00:00:00Z'), limit: 10 });
    expect(read.map((r) => r.cardUuids)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(() => sqlite.bookkeeping().prepare("UPDATE audit_event SET patient_id = 'x'").run()).toThrow(/append-only/);
    expect(await audit.prune(new Date('2021-01-01T00:00:00Z'), 1000)).toBe(1);
    await sqlite.close();
  });

  test('SQLite: an audit table of the release before (no refusal column) gets it on start-up, its records kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cart-audit-upgrade-'));
    const file = join(dir, 'f.sqlite');
    const old = new Database(file);
    old.exec(`CREATE TABLE audit_event (
      id INTEGER PRIMARY KEY AUTOINCREMENT, recorded_at TEXT NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('cds-call', 'assessment')),
      client_iss TEXT, client_sub TEXT, user_id TEXT, patient_id TEXT, service_id TEXT, hook TEXT,
      hook_instance TEXT, card_uuids TEXT NOT NULL DEFAULT '[]', status INTEGER NOT NULL,
      request_id TEXT, client_address TEXT)`);
    old
      .prepare(
        "INSERT INTO audit_event (recorded_at, action, status, request_id) VALUES (?, 'cds-call', 200, 'before')",
      )
      .run('2026-11-22T09:00:00.000Z');
    old.close();
    const sqlite = new SqliteFeedbackStore(file);
    await sqlite.init();
    const audit = new SqliteAuditStore(() => sqlite.bookkeeping());
    await audit.append([record({ requestId: 'refused', status: 401, refusal: 'no-token', patientId: undefined })]);
    const read = await audit.read({ from: new Date(0), to: new Date('2030-01-01T00:00:00Z'), limit: 10 });
    expect(read.map((r) => [r.requestId, r.status, r.refusal])).toEqual([
      ['before', 200, undefined],
      ['refused', 401, 'no-token'],
    ]);
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SQLite: retention deletes 200,000 records past retention in batches of at most 1,000, the event loop free between them; recent records stay', async () => {
    const sqlite = new SqliteFeedbackStore(':memory:');
    await sqlite.init();
    const audit = new SqliteAuditStore(() => sqlite.bookkeeping());
    sqlite
      .bookkeeping()
      .prepare(
        `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200000)
         INSERT INTO audit_event (recorded_at, action, patient_id, status)
         SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2019-01-01', '+' || n || ' minutes'), 'cds-call', 'old-' || n, 200 FROM g`,
      )
      .run();
    await audit.append([record(), record({ requestId: 'r2' })]);
    expect(await audit.prune(CUTOFF, 1000)).toBe(1000);
    const outcome = await retainUntilDrained(audit, () =>
      Number(
        (
          sqlite
            .bookkeeping()
            .prepare('SELECT COUNT(*) AS n FROM audit_event WHERE recorded_at < ?')
            .get(CUTOFF.toISOString()) as {
            n: number;
          }
        ).n,
      ),
    );
    expect(outcome).toMatchObject({ deleted: 199_000, failures: [] });
    const left = sqlite.bookkeeping().prepare('SELECT request_id FROM audit_event ORDER BY id').all();
    expect(left).toEqual([{ request_id: 'r1' }, { request_id: 'r2' }]);
    await sqlite.close();
  }, 120_000);

  test('SQLite: feedback commits with synchronous=FULL; card records and audit events on a connection with NORMAL (no fsync on the event loop)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cart-sync-'));
    const sqlite = new SqliteFeedbackStore(join(dir, 'f.sqlite'));
    await sqlite.init();
    await sqlite.recordCardBatches([
      { serviceId: 's', issuedAt: new Date(), cards: [{ uuid: 'u1', kind: 'g-csf', indicator: 'critical' }] },
    ]);
    const mode = (db: { pragma(p: string, o: { simple: true }): unknown }): unknown =>
      db.pragma('synchronous', { simple: true });
    // 2 = FULL, 1 = NORMAL (https://www.sqlite.org/pragma.html#pragma_synchronous)
    expect(mode(sqlite.bookkeeping())).toBe(1);
    expect(mode((sqlite as unknown as { db: { pragma(p: string, o: { simple: true }): unknown } }).db)).toBe(2);
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
