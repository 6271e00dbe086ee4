/**
 * SQLite feedback store (default): a file created on first use, no set-up. WAL journal with
 * synchronous=FULL, so a write acknowledged to the client survives a crash or restart.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import type { IssuedCard } from '../cds-hooks/router.js';
import { buildSummary, feedbackValues, type FeedbackStore, type FeedbackSummary, type SummaryRows } from './feedback-store.js';
import { insertFeedbackSql, schemaSql, SQLITE_PARAM, SUMMARY_SQL, upsertCardSql } from './sql.js';

export class SqliteFeedbackStore implements FeedbackStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;
  /** Statements prepared once per connection: card bookkeeping runs on every service call. */
  private statements: { upsertCard: Database.Statement; insertFeedback: Database.Statement } | undefined;

  constructor(private readonly path: string) {}

  private open(): Database.Database {
    if (this.db) return this.db;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    this.db = db;
    return db;
  }

  init(): Promise<void> {
    this.open().exec(schemaSql({ id: 'INTEGER PRIMARY KEY AUTOINCREMENT', timestamp: 'TEXT' }));
    return Promise.resolve();
  }

  private prepared(): NonNullable<SqliteFeedbackStore['statements']> {
    const db = this.open();
    this.statements ??= { upsertCard: db.prepare(upsertCardSql(SQLITE_PARAM)), insertFeedback: db.prepare(insertFeedbackSql(SQLITE_PARAM)) };
    return this.statements;
  }

  recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void> {
    const { upsertCard } = this.prepared();
    const at = issuedAt.toISOString();
    this.open().transaction(() => {
      for (const c of cards) upsertCard.run(c.uuid, serviceId, c.kind, c.indicator, at, at);
    })();
    return Promise.resolve();
  }

  recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void> {
    const { insertFeedback } = this.prepared();
    const received = receivedAt.toISOString();
    // One transaction: all entries are stored or none, and the commit is synced before we answer.
    this.open().transaction(() => {
      for (const f of entries) insertFeedback.run(feedbackValues(serviceId, f, received));
    })();
    return Promise.resolve();
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
    this.db?.close();
    this.db = undefined;
    this.statements = undefined;
    return Promise.resolve();
  }
}
