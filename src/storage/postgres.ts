/**
 * PostgreSQL feedback store, used when DATABASE_URL is set. Each write is one transaction; the
 * client gets its answer after COMMIT. A feedback write that fails after COMMIT was sent (not
 * answered in time: a synchronous standby that does not confirm) may have been applied: it rejects
 * with CommitOutcomeUnknownError, and the 503 says so.
 *
 * Every call has one deadline, start to end (waiting for a pooled connection, connecting, BEGIN,
 * the statements, COMMIT): a server that stops answering (frozen, partitioned) costs a request at
 * most `timeoutMs`. The server also stops any statement after `statement_timeout`, and the driver
 * gives up on any single query after `query_timeout`. A connection caught by the deadline is
 * destroyed, never returned to the pool: its socket may still deliver a late answer.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import type { IssuedCard } from '../shared/card-kind.js';
import { CommitOutcomeUnknownError } from '../shared/storage-errors.js';
import { DEFAULT_STORAGE_TIMEOUT_MS, storageErrorTag, timeoutOrDefault, withDeadline } from './deadline.js';
import { backfillKeys, rowDedupeKey, type UnkeyedFeedbackRow } from './dedupe.js';
import {
  buildSummary,
  cardRows,
  chunks,
  feedbackValues,
  type CardBatch,
  type FeedbackStore,
  type FeedbackSummary,
  type FeedbackWriteResult,
  type StoreTimeouts,
  type SummaryRows,
} from './feedback-store.js';
import { migrate } from './migrate.js';
import { transaction } from './pg-transaction.js';
import { insertFeedbackSql, POSTGRES_PARAM, SUMMARY_SQL, UNKEYED_FEEDBACK_SQL, upsertCardsSql } from './sql.js';

/** Serialises schema upgrades between instances starting together (any constant will do). */
const SCHEMA_LOCK = 0x63617274;
/** Rows per INSERT: 500 × 11 parameters, far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 500;

export type PostgresStoreOptions = StoreTimeouts & { pool?: Pick<pg.PoolConfig, 'max' | 'idleTimeoutMillis'> };

export class PostgresFeedbackStore implements FeedbackStore {
  readonly kind = 'postgres' as const;
  readonly timeoutMs: number;
  private readonly initTimeoutMs: number;
  private readonly summaryTimeoutMs: number;
  private readonly pool: pg.Pool;

  constructor(
    connectionString: string,
    private readonly log?: Logger,
    options: PostgresStoreOptions = {},
  ) {
    this.timeoutMs = timeoutOrDefault(options.timeoutMs, DEFAULT_STORAGE_TIMEOUT_MS);
    this.initTimeoutMs = timeoutOrDefault(options.initTimeoutMs, Math.max(30_000, this.timeoutMs));
    this.summaryTimeoutMs = timeoutOrDefault(options.summaryTimeoutMs, 5 * this.timeoutMs);
    this.pool = new pg.Pool({
      connectionString,
      max: 5,
      idleTimeoutMillis: 30_000,
      ...options.pool,
      connectionTimeoutMillis: this.timeoutMs,
      statement_timeout: this.timeoutMs,
      query_timeout: this.timeoutMs,
      keepAlive: true,
    });
    // An idle connection dropped by the server (restart, failover) is reported here; without a
    // listener it would crash the process. The pool replaces it on the next query.
    this.pool.on('error', (err: Error) =>
      log?.warn({ error: storageErrorTag(err) }, 'PostgreSQL connection lost; will reconnect'),
    );
  }

  /**
   * Applies pending migrations (migrate.ts: versioned, under node-pg-migrate's advisory lock), then
   * keys feedback rows an older replica stored without a dedupe key during a rollout.
   */
  async init(): Promise<void> {
    await this.withClient(this.initTimeoutMs, async (client) => {
      // Session-wide for the migration run (the lock wait included); reset before the pool reuses it.
      await client.query(`SET statement_timeout = ${this.initTimeoutMs}`);
      const applied = await migrate({ client, log: (m) => this.log?.debug({ migration: m }, 'schema migration') });
      if (applied.length > 0) this.log?.info({ migrations: applied.map((m) => m.name) }, 'PostgreSQL schema migrated');
      await transaction(client, async () => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await backfill(client);
      });
      await client.query('RESET statement_timeout');
    });
  }

  async recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<void> {
    await this.recordCardBatches([{ serviceId, cards, issuedAt }]);
  }

  async recordCardBatches(batches: readonly CardBatch[]): Promise<void> {
    const rows = cardRows(batches);
    if (rows.length === 0) return;
    await this.withClient(this.timeoutMs, (client) =>
      transaction(client, async () => {
        for (const part of chunks(rows, ROWS_PER_STATEMENT))
          await client.query(upsertCardsSql(POSTGRES_PARAM, part.length), part.flat());
      }),
    );
  }

  async recordFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<void> {
    await this.storeFeedback(serviceId, entries, receivedAt);
  }

  async storeFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<FeedbackWriteResult> {
    const received = receivedAt.toISOString();
    const rows = entries.map((f) => feedbackValues(serviceId, f, received));
    const progress = { commitSent: false };
    let inserted: number;
    try {
      inserted = await this.withClient(this.timeoutMs, (client) =>
        transaction(
          client,
          async () => {
            let n = 0;
            for (const part of chunks(rows, ROWS_PER_STATEMENT))
              n += (await client.query(insertFeedbackSql(POSTGRES_PARAM, part.length), part.flat())).rowCount ?? 0;
            return n;
          },
          progress,
        ),
      );
    } catch (error) {
      // COMMIT sent and not answered (a synchronous standby that does not confirm, a server frozen
      // then): the rows may be stored. Sending them again is safe: they are stored once (dedupe key).
      throw progress.commitSent ? new CommitOutcomeUnknownError(error) : error;
    }
    return { inserted, alreadyStored: entries.length - inserted };
  }

  async summary(now: Date): Promise<FeedbackSummary> {
    const rows = await this.withClient(this.summaryTimeoutMs, (client) =>
      transaction(client, async () => {
        await client.query(`SET LOCAL statement_timeout = ${this.summaryTimeoutMs}`);
        const issued = await client.query<SummaryRows['issued'][number]>(SUMMARY_SQL.issued);
        const outcomes = await client.query<SummaryRows['outcomes'][number]>(SUMMARY_SQL.outcomes);
        const reasons = await client.query<SummaryRows['reasons'][number]>(SUMMARY_SQL.reasons);
        return { issued: issued.rows, outcomes: outcomes.rows, reasons: reasons.rows };
      }),
    );
    return buildSummary(rows, 'postgres', now);
  }

  /** False when the server does not answer `SELECT 1` within the timeout. */
  async ping(): Promise<boolean> {
    try {
      await this.withClient(this.timeoutMs, (client) => client.query('SELECT 1'));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * Runs `work` on a pooled connection under one deadline. On success the connection goes back
   * to the pool; on any error it is discarded (the server rolls back an open transaction when the
   * connection goes); when the deadline passes, its socket is destroyed at once.
   */
  async withClient<T>(timeoutMs: number, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let expired = false;
    let held: pg.PoolClient | undefined;
    let released = false;
    const release = (client: pg.PoolClient, err?: Error): void => {
      if (released) return;
      released = true;
      client.release(err);
    };
    const attempt = (async (): Promise<T> => {
      const client = await this.pool.connect();
      if (expired) {
        // Connected after the deadline: a fresh, idle connection is fine to keep.
        release(client);
        throw new Error('storage deadline passed while connecting');
      }
      held = client;
      try {
        const result = await work(client);
        release(client);
        return result;
      } catch (error) {
        release(client, error instanceof Error ? error : new Error('storage call failed'));
        throw error;
      }
    })();
    return withDeadline(timeoutMs, attempt, () => {
      expired = true;
      if (held && !released) {
        release(held, new Error('storage deadline passed'));
        destroySocket(held);
      }
    });
  }
}

/** Gives every row stored without a dedupe key its key (see backfillKeys for duplicates). */
async function backfill(client: pg.PoolClient): Promise<void> {
  const rows = (await client.query(UNKEYED_FEEDBACK_SQL)).rows as UnkeyedFeedbackRow[];
  if (rows.length === 0) return;
  const plain = rows.map(rowDedupeKey);
  const taken = (await client.query('SELECT dedupe_key FROM feedback WHERE dedupe_key = ANY($1::text[])', [plain]))
    .rows as { dedupe_key: string }[];
  const keys = backfillKeys(rows, new Set(taken.map((t) => t.dedupe_key)));
  await client.query(
    'UPDATE feedback AS f SET dedupe_key = v.key FROM unnest($1::bigint[], $2::text[]) AS v(id, key) WHERE f.id = v.id',
    [keys.map((k) => String(k.id)), keys.map((k) => k.key)],
  );
}

/**
 * pg's Client.end() is graceful when no query is in flight: it waits for the server to close the
 * socket, which a frozen server never does. pg-pool itself destroys the stream on a connection
 * timeout; `connection.stream` is not in @types/pg, hence the narrow cast.
 */
function destroySocket(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
