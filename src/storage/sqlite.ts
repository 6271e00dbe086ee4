/**
 * SQLite feedback store (default): a file created on first use, no set-up. WAL journal with
 * synchronous=FULL, so a write acknowledged to the client survives a crash or restart.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import type { IssuedCard } from '../cds-hooks/router.js';
import { buildSummary, feedbackRow, type FeedbackStore, type FeedbackSummary, type SummaryRows } from './feedback-store.js';
import { schemaSql, SUMMARY_SQL } from './sql.js';

export class SqliteFeedbackStore implements FeedbackStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | undefined;

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

  recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void> {
    const db = this.open();
    const upsert = db.prepare(`
      INSERT INTO issued_cards (card_uuid, service_id, kind, indicator, first_issued_at, last_issued_at)
      VALUES (@uuid, @serviceId, @kind, @indicator, @at, @at)
      ON CONFLICT (card_uuid) DO UPDATE SET last_issued_at = excluded.last_issued_at, times_issued = times_issued + 1`);
    const at = issuedAt.toISOString();
    db.transaction(() => {
      for (const c of cards) upsert.run({ uuid: c.uuid, serviceId, kind: c.kind, indicator: c.indicator, at });
    })();
    return Promise.resolve();
  }

  recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void> {
    const db = this.open();
    const insert = db.prepare(`
      INSERT INTO feedback (service_id, card_uuid, outcome, accepted_suggestions, override_system, override_code, override_display, user_comment, outcome_timestamp, received_at)
      VALUES (@serviceId, @card, @outcome, @accepted, @system, @code, @display, @comment, @timestamp, @received)`);
    const received = receivedAt.toISOString();
    // One transaction: all entries are stored or none, and the commit is synced before we answer.
    db.transaction(() => {
      for (const f of entries) insert.run(feedbackRow(serviceId, f, received));
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
    return Promise.resolve();
  }
}
