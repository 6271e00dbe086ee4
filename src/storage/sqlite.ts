/**
 * SQLite feedback store (default, one process): a file created on first use, no set-up. WAL
 * journal. Feedback is written with synchronous=FULL, so a write acknowledged to the client
 * survives a crash or a power loss.
 *
 * better-sqlite3 is synchronous: a call holds the event loop for its duration (0.7–13 ms per
 * synced commit here). So card bookkeeping and the audit trail, written behind the response in
 * batches, use a second connection with synchronous=NORMAL: in WAL mode a commit then does not wait
 * for fsync (a few tens of microseconds instead of milliseconds of a blocked event loop) and still
 * survives the process being killed; only an operating-system crash or power loss can lose the
 * last commits. The only unbounded wait is for another connection's write lock, which
 * `busy_timeout` limits to the storage timeout (then SQLITE_BUSY).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import type { IssuedCard } from '../shared/card-kind.js';
import { sqliteAuditSchema } from './audit-store.js';
import { DEFAULT_STORAGE_TIMEOUT_MS, timeoutOrDefault } from './deadline.js';
import { backfillKeys, rowDedupeKey, type UnkeyedFeedbackRow } from './dedupe.js';
import {
  buildSummary,
  cardRows,
  feedbackValues,
  type CardBatch,
  type FeedbackStore,
  type FeedbackSummary,
  type FeedbackWriteResult,
  type StoreTimeouts,
  type SummaryRows,
} from './feedback-store.js';
import {
  FEEDBACK_DEDUPE_INDEX_SQL,
  insertFeedbackSql,
  schemaSql,
  SQLITE_PARAM,
  SUMMARY_SQL,
  UNKEYED_FEEDBACK_SQL,
  upsertCardsSql,
} from './sql.js';

export type SqliteStoreOptions = Pick<StoreTimeouts, 'timeoutMs' | 'initTimeoutMs'>;

export class SqliteFeedbackStore implements FeedbackStore {
  readonly kind = 'sqlite' as const;
  readonly timeoutMs: number;
  private readonly initTimeoutMs: number;
  private db: Database.Database | undefined;
  /** Card bookkeeping and audit: synchronous=NORMAL (see above). The same as `db` for ':memory:'. */
  private bookkeepingDb: Database.Database | undefined;
  /** Statements prepared once per connection: card bookkeeping runs on every service call. */
  private statements: { upsertCard: Database.Statement; insertFeedback: Database.Statement } | undefined;
  private cardUpsert: ((rows: ReturnType<typeof cardRows>) => void) | undefined;

  constructor(
    private readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    this.timeoutMs = timeoutOrDefault(options.timeoutMs, DEFAULT_STORAGE_TIMEOUT_MS);
    this.initTimeoutMs = timeoutOrDefault(options.initTimeoutMs, Math.max(30_000, this.timeoutMs));
  }

  private open(): Database.Database {
    if (this.db) return this.db;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    this.db = this.connect('FULL');
    return this.db;
  }

  /** The connection card bookkeeping and the audit trail write through. */
  bookkeeping(): Database.Database {
    if (this.bookkeepingDb) return this.bookkeepingDb;
    if (this.path === ':memory:') return this.open();
    this.open();
    this.bookkeepingDb = this.connect('NORMAL');
    return this.bookkeepingDb;
  }

  /** A WAL connection to the file: FULL sync for feedback, NORMAL for bookkeeping (see bookkeeping()). */
  private connect(synchronous: 'FULL' | 'NORMAL'): Database.Database {
    const db = new Database(this.path, { timeout: this.timeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`busy_timeout = ${this.timeoutMs}`);
    return db;
  }

  init(): Promise<void> {
    const db = this.open();
    db.pragma(`busy_timeout = ${this.initTimeoutMs}`);
    try {
      // IMMEDIATE: two processes starting on one file upgrade it one after the other.
      db.transaction(() => {
        db.exec(schemaSql({ id: 'INTEGER PRIMARY KEY AUTOINCREMENT', timestamp: 'TEXT' }));
        const columns = db.prepare('SELECT name FROM pragma_table_info(?)').all('feedback') as { name: string }[];
        if (!columns.some((c) => c.name === 'dedupe_key')) db.exec('ALTER TABLE feedback ADD COLUMN dedupe_key TEXT');
        const rows = db.prepare(UNKEYED_FEEDBACK_SQL).all() as UnkeyedFeedbackRow[];
        if (rows.length > 0) {
          const exists = db.prepare('SELECT 1 FROM feedback WHERE dedupe_key = ?').pluck();
          const taken = new Set(rows.map(rowDedupeKey).filter((k) => exists.get(k) !== undefined));
          const update = db.prepare('UPDATE feedback SET dedupe_key = ? WHERE id = ?');
          for (const k of backfillKeys(rows, taken)) update.run(k.key, k.id);
        }
        db.exec(FEEDBACK_DEDUPE_INDEX_SQL);
        sqliteAuditSchema(db);
      }).immediate();
    } finally {
      db.pragma(`busy_timeout = ${this.timeoutMs}`);
    }
    return Promise.resolve();
  }

  private prepared(): NonNullable<SqliteFeedbackStore['statements']> {
    const db = this.open();
    this.statements ??= {
      upsertCard: this.bookkeeping().prepare(upsertCardsSql(SQLITE_PARAM)),
      insertFeedback: db.prepare(insertFeedbackSql(SQLITE_PARAM)),
    };
    return this.statements;
  }

  /** The card upsert as one transaction, built once (better-sqlite3 wraps a function per transaction()). */
  private upsertCards(): (rows: ReturnType<typeof cardRows>) => void {
    if (!this.cardUpsert) {
      const { upsertCard } = this.prepared();
      this.cardUpsert = this.bookkeeping().transaction((rows: ReturnType<typeof cardRows>) => {
        for (const row of rows) upsertCard.run(row);
      });
    }
    return this.cardUpsert;
  }

  recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void> {
    return this.recordCardBatches([{ serviceId, cards, issuedAt }]);
  }

  /** All batches in one transaction: one synced commit however many service calls they cover. */
  recordCardBatches(batches: readonly CardBatch[]): Promise<void> {
    return settled(() => {
      const rows = cardRows(batches);
      if (rows.length === 0) return;
      this.upsertCards()(rows);
    });
  }

  async recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void> {
    await this.storeFeedback(serviceId, entries, receivedAt);
  }

  storeFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<FeedbackWriteResult> {
    return settled(() => {
      const { insertFeedback } = this.prepared();
      const received = receivedAt.toISOString();
      // One transaction: all entries are stored or none, and the commit is synced before we answer.
      const inserted = this.open().transaction(() =>
        entries.reduce((n, f) => n + insertFeedback.run(feedbackValues(serviceId, f, received)).changes, 0),
      )();
      return { inserted, alreadyStored: entries.length - inserted };
    });
  }

  summary(now: Date): Promise<FeedbackSummary> {
    const db = this.open();
    const rows: SummaryRows = {
      issued: db.prepare(SUMMARY_SQL.issued).all() as SummaryRows['issued'],
      outcomes: db.prepare(SUMMARY_SQL.outcomes).all() as SummaryRows['outcomes'],
      reasons: db.prepare(SUMMARY_SQL.reasons).all() as SummaryRows['reasons'],
    };
    return Promise.resolve(buildSummary(rows, 'sqlite', now));
  }

  ping(): Promise<boolean> {
    try {
      this.open().prepare('SELECT 1').get();
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  }

  close(): Promise<void> {
    if (this.bookkeepingDb !== this.db) this.bookkeepingDb?.close();
    this.bookkeepingDb = undefined;
    this.db?.close();
    this.db = undefined;
    this.statements = undefined;
    this.cardUpsert = undefined;
    return Promise.resolve();
  }
}

/**
 * The synchronous `work` as a promise: a throw becomes a rejection with the very error thrown
 * (SqliteError, with its `code`), so callers see one failure path.
 */
function settled<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}
