/**
 * The JWT `jti` replay store shared by every replica (PostgreSQL, table jwt_replay): a CDS client
 * token accepted by one replica is refused by all the others until it expires.
 *
 * Bounded: a row is a fixed-size key (sha256 of issuer and jti, so a hostile jti cannot grow it)
 * and an expiry no later than the token's lifetime (CDS_JWT_MAX_LIFETIME_SECONDS) plus the clock
 * tolerance; only tokens whose signature verified get a row. Every `pruneEveryMs` a replica
 * deletes expired rows and, beyond `maxEntries` live rows, those closest to expiry (as the
 * in-memory cache forgets its least recent entries).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReplayStore } from '../cds-hooks/auth.js';
import { storageErrorTag } from './deadline.js';
import type { PostgresFeedbackStore } from './postgres.js';

const REMEMBER_SQL = `
  INSERT INTO jwt_replay (key, expires_at) VALUES ($1, to_timestamp($2::double precision / 1000))
  ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
    WHERE jwt_replay.expires_at <= to_timestamp($3::double precision / 1000)
  RETURNING 1`;

/** Rows deleted per statement while pruning, so no statement holds many row locks. */
const PRUNE_BATCH = 5000;

export interface PostgresReplayStoreOptions {
  maxEntries?: number;
  pruneEveryMs?: number;
  log?: Logger | undefined;
}

export class PostgresReplayStore implements ReplayStore {
  readonly kind = 'postgres';
  private readonly maxEntries: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Pick<PostgresFeedbackStore, 'withClient' | 'timeoutMs'>,
    private readonly options: PostgresReplayStoreOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    const every = options.pruneEveryMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.prune(Date.now()).catch((err: unknown) =>
          options.log?.warn({ error: storageErrorTag(err) }, 'jwt_replay pruning failed; will retry'),
        );
      }, every);
      this.timer.unref();
    }
  }

  /** True the first time (issuer, jti) is seen while unexpired; throws when the store cannot answer. */
  async remember(issuer: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    const key = createHash('sha256').update(issuer).update('\u0000').update(jti).digest('hex');
    const result = await this.db.withClient(this.db.timeoutMs, (client) =>
      client.query(REMEMBER_SQL, [key, expiresAtMs, nowMs]),
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Deletes expired rows, then the soonest-expiring rows beyond maxEntries; returns rows deleted. */
  async prune(nowMs: number): Promise<number> {
    return this.db.withClient(5 * this.db.timeoutMs, async (client) => {
      let deleted = 0;
      for (;;) {
        const r = await client.query(
          `DELETE FROM jwt_replay WHERE key IN (
             SELECT key FROM jwt_replay WHERE expires_at <= to_timestamp($1::double precision / 1000) LIMIT ${PRUNE_BATCH})`,
          [nowMs],
        );
        deleted += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < PRUNE_BATCH) break;
      }
      const count = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM jwt_replay');
      const excess = Number(count.rows[0]?.n ?? 0) - this.maxEntries;
      if (excess > 0) {
        const r = await client.query(
          'DELETE FROM jwt_replay WHERE key IN (SELECT key FROM jwt_replay ORDER BY expires_at LIMIT $1)',
          [excess],
        );
        deleted += r.rowCount ?? 0;
      }
      return deleted;
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
