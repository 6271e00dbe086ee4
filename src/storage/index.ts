/**
 * The configured feedback store: PostgreSQL when DATABASE_URL is set, SQLite otherwise.
 */
import type { Logger } from 'pino';
import type { FeedbackStore, StoreTimeouts } from './feedback-store.js';
import type { PostgresFeedbackStore } from './postgres.js';
import { SqliteFeedbackStore } from './sqlite.js';
import type { AuditStore } from '../audit/audit.js';
import { PostgresAuditStore, SqliteAuditStore } from './audit-store.js';
import { PostgresReplayStore } from './replay-store.js';

/** The storage part of Config; `timeoutMs` is STORAGE_TIMEOUT_MS once config.ts parses it. */
export interface StorageConfig {
  storage: {
    databaseUrl?: string | undefined;
    sqlitePath: string;
    timeoutMs?: number | undefined;
    /** Connections per process (DATABASE_POOL_MAX). */
    poolMax?: number | undefined;
  };
}

/**
 * Opens the store and creates or upgrades its schema. Timeouts: `options` first, then
 * `config.storage.timeoutMs`, then 2000 ms.
 */
export async function createFeedbackStore(
  config: StorageConfig,
  log?: Logger,
  options: StoreTimeouts = {},
): Promise<FeedbackStore> {
  const timeouts: StoreTimeouts = { ...options, timeoutMs: options.timeoutMs ?? config.storage.timeoutMs };
  // The PostgreSQL driver and migrations are loaded only when used (a fifth of start-up otherwise).
  const store: FeedbackStore = config.storage.databaseUrl
    ? new (await import('./postgres.js')).PostgresFeedbackStore(config.storage.databaseUrl, log, {
        ...timeouts,
        ...(config.storage.poolMax ? { pool: { max: config.storage.poolMax } } : {}),
      })
    : new SqliteFeedbackStore(config.storage.sqlitePath, timeouts);
  try {
    await store.init();
  } catch (error) {
    // Do not leave a pool (and its timers) behind when start-up fails.
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

function isPostgres(store: FeedbackStore): store is PostgresFeedbackStore {
  return store.kind === 'postgres';
}

/** The audit trail's table in the same database as the feedback. */
export function auditStoreFor(store: FeedbackStore): AuditStore {
  if (isPostgres(store)) return new PostgresAuditStore(store);
  if (store instanceof SqliteFeedbackStore) return new SqliteAuditStore(() => store.bookkeeping());
  throw new Error('no audit store for this feedback store');
}

/**
 * The jti replay store: shared in PostgreSQL when DATABASE_URL is set; undefined for SQLite (one
 * process: the verifier's in-memory cache is enough).
 */
export function replayStoreFor(store: FeedbackStore, log?: Logger): PostgresReplayStore | undefined {
  return isPostgres(store) ? new PostgresReplayStore(store, { log }) : undefined;
}

export { CardRecorder, type CardRecorderOptions, type CardSink } from './card-recorder.js';
export { PostgresReplayStore } from './replay-store.js';
export { registerCardRecorderMetrics } from './metrics.js';
export { DEFAULT_STORAGE_TIMEOUT_MS, StorageTimeoutError, storageErrorTag } from './deadline.js';
export type {
  CardBatch,
  FeedbackStore,
  FeedbackSummary,
  FeedbackWriteResult,
  StoreTimeouts,
} from './feedback-store.js';
