/**
 * One PostgreSQL transaction on a pooled client, in a module of its own so that the audit store
 * can use it without loading the driver (pg is loaded only when DATABASE_URL is set).
 */
import type pg from 'pg';

export async function transaction<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  const result = await work();
  await client.query('COMMIT');
  return result;
}
