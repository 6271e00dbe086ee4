/**
 * The configured feedback store: PostgreSQL when DATABASE_URL is set, SQLite otherwise.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { FeedbackStore } from './feedback-store.js';
import { PostgresFeedbackStore } from './postgres.js';
import { SqliteFeedbackStore } from './sqlite.js';

export async function createFeedbackStore(config: Pick<Config, 'storage'>, log?: Logger): Promise<FeedbackStore> {
  const store: FeedbackStore = config.storage.databaseUrl ? new PostgresFeedbackStore(config.storage.databaseUrl, log) : new SqliteFeedbackStore(config.storage.sqlitePath);
  await store.init();
  return store;
}

export type { FeedbackStore, FeedbackSummary } from './feedback-store.js';
