/**
 * One PostgreSQL transaction on a pooled client, in a module of its own so that the audit store
 * can use it without loading the driver (pg is loaded only when DATABASE_URL is set).
 */
import type pg from 'pg';

/** Set by {@link transaction} once COMMIT is sent: from then on a failure may hide a commit. */
export interface TransactionProgress {
  commitSent: boolean;
}

export async function transaction<T>(
  client: pg.PoolClient,
  work: () => Promise<T>,
  progress?: TransactionProgress,
): Promise<T> {
  await client.query('BEGIN');
  const result = await work();
  if (progress) progress.commitSent = true;
  await client.query('COMMIT');
  return result;
}
