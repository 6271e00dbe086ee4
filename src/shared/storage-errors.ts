/**
 * Storage errors as the write-behind queues and the stores' logs see them: what of one may be logged,
 * and whether a write that failed with it may succeed later. Here, below both the stores (src/storage)
 * and the audit trail (src/audit), so that neither imports the other.
 */

/**
 * What of a storage error may be logged: its class and code, never its message (a database
 * message may quote the clinician's comment).
 */
export function storageErrorTag(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown };
  return [typeof e.name === 'string' ? e.name : 'Error', typeof e.code === 'string' ? e.code : '']
    .filter(Boolean)
    .join(' ');
}

/**
 * Whether a storage error is about the data written, which no retry will change: PostgreSQL's data
 * exceptions, integrity constraints and syntax or access rules (SQLSTATE classes 22, 23, 42), SQLite's
 * constraint, type and size errors. Anything else (a deadline passed, a connection refused or cut, the
 * server shutting down or out of connections, an error with no code) may pass when the database is back.
 */
export function isPermanentStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return false;
  return /^(?:22|23|42)[0-9A-Z]{3}$/.test(code) || /^SQLITE_(?:CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}

/**
 * A write whose COMMIT was sent but not answered (the deadline passed, the connection went): the
 * database may have applied it. Only an error raised before COMMIT means nothing was stored.
 */
export class CommitOutcomeUnknownError extends Error {
  override readonly name = 'CommitOutcomeUnknownError';
  constructor(override readonly cause: unknown) {
    super('the database did not answer COMMIT: the write may have been applied');
  }
}
