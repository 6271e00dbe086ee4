/**
 * PostgreSQL feedback store, used when DATABASE_URL is set. Each write is one transaction; the
 * client gets its answer after COMMIT.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import type { IssuedCard } from '../cds-hooks/router.js';
import { buildSummary, feedbackValues, type FeedbackStore, type FeedbackSummary, type SummaryRows } from './feedback-store.js';
import { insertFeedbackSql, POSTGRES_PARAM, schemaSql, SUMMARY_SQL, upsertCardSql } from './sql.js';

export class PostgresFeedbackStore implements FeedbackStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connectionString: string, log?: Logger) {
    this.pool = new pg.Pool({ connectionString, max: 5, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // An idle connection dropped by the server (restart, failover) is reported here; without a
    // listener it would crash the process. The pool replaces it on the next query.
    this.pool.on('error', (err: Error & { code?: string }) => log?.warn({ error: `${err.name} ${err.code ?? ''}`.trim() }, 'PostgreSQL connection lost; will reconnect'));
  }

  async init(): Promise<void> {
    await this.pool.query(schemaSql({ id: 'BIGSERIAL PRIMARY KEY', timestamp: 'TIMESTAMPTZ' }));
  }

  async recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void> {
    if (cards.length === 0) return;
    await this.inTransaction(async (client) => {
      for (const c of cards) {
        await client.query(upsertCardSql(POSTGRES_PARAM), [c.uuid, serviceId, c.kind, c.indicator, issuedAt, issuedAt]);
      }
    });
  }

  async recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void> {
    const received = receivedAt.toISOString();
    await this.inTransaction(async (client) => {
      for (const f of entries) await client.query(insertFeedbackSql(POSTGRES_PARAM), feedbackValues(serviceId, f, received));
    });
  }

  async summary(now: Date): Promise<FeedbackSummary> {
    const [issued, outcomes, reasons] = await Promise.all([this.pool.query(SUMMARY_SQL.issued), this.pool.query(SUMMARY_SQL.outcomes), this.pool.query(SUMMARY_SQL.reasons)]);
    const rows: SummaryRows = { issued: issued.rows as SummaryRows['issued'], outcomes: outcomes.rows as SummaryRows['outcomes'], reasons: reasons.rows as SummaryRows['reasons'] };
    return buildSummary(rows, 'postgres', now);
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
