/**
 * Audit retention (AUDIT_RETENTION_DAYS): every replica deletes, once an hour and once at start,
 * the audit events older than the retention period. Idempotent, so replicas need no coordination.
 *
 * Deleted in batches (AUDIT_PRUNE_BATCH rows, one short transaction each, the event loop free between
 * them), so that every statement stays within the storage timeout whatever the backlog: one
 * `DELETE … WHERE recorded_at < $1` over 3,000,000 rows outlived STORAGE_TIMEOUT_MS every hour,
 * deleted nothing, and the backlog only grew. A run stops after AUDIT_PRUNE_RUN_MS; the next run goes on
 * where it stopped.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isPermanentStorageError, storageErrorTag } from '../shared/storage-errors.js';
import type { AuditStore } from './audit.js';

/** Rows per deleting statement: about 7 ms each here (200,000 rows in 1.5 s), far below any storage timeout. */
export const AUDIT_PRUNE_BATCH = 1000;
/** Smallest batch tried after a batch did not finish in time (each failure halves it). */
const MIN_BATCH = 10;
/** Longest one run keeps deleting (it then leaves the rest to the next run). */
export const AUDIT_PRUNE_RUN_MS = 60_000;

export interface PruneOptions {
  batch?: number;
  runMs?: number;
  /** Called after each batch with the rows it deleted (the metric counts as they go). */
  onDeleted?: (n: number) => void;
}

export interface PruneRun {
  deleted: number;
  /** False when the run stopped at `runMs` with old records left. */
  done: boolean;
}

/** A run that failed, with what its earlier batches deleted (they stay deleted). */
export class AuditPruneError extends Error {
  override readonly name = 'AuditPruneError';
  constructor(
    override readonly cause: unknown,
    readonly deleted: number,
  ) {
    super('audit retention failed');
  }
}

/**
 * Deletes the records older than `before`, batch after batch, until none is left or `runMs` has
 * passed. A batch that fails for a reason that may pass (the deadline, a busy server) is tried again
 * at half the size, and the size doubles back after each batch that succeeds; when even MIN_BATCH
 * rows fail, or the database refuses the statement, the run fails with AuditPruneError.
 */
export async function pruneAuditEvents(store: AuditStore, before: Date, options: PruneOptions = {}): Promise<PruneRun> {
  const started = Date.now();
  const runMs = options.runMs ?? AUDIT_PRUNE_RUN_MS;
  const largest = options.batch ?? AUDIT_PRUNE_BATCH;
  let batch = largest;
  let deleted = 0;
  for (;;) {
    let n: number;
    try {
      n = await store.prune(before, batch);
    } catch (error) {
      if (batch <= MIN_BATCH || isPermanentStorageError(error)) throw new AuditPruneError(error, deleted);
      batch = Math.max(MIN_BATCH, Math.floor(batch / 2));
      continue;
    }
    deleted += n;
    if (n > 0) options.onDeleted?.(n);
    if (n < batch) return { deleted, done: true };
    if (Date.now() - started >= runMs) return { deleted, done: false };
    batch = Math.min(largest, batch * 2);
    // Other calls (and their storage calls) go first between two batches.
    await nextTurn();
  }
}

export function startAuditRetention(
  store: AuditStore,
  retentionDays: number,
  options: {
    log?: Logger | undefined;
    onDeleted?: (n: number) => void;
    everyMs?: number;
    firstAfterMs?: number;
    now?: () => Date;
  } & Pick<PruneOptions, 'batch' | 'runMs'> = {},
): () => void {
  const now = options.now ?? (() => new Date());
  let running = false;
  const run = (): void => {
    // A run still deleting a backlog when the next is due: one at a time per replica.
    if (running) return;
    running = true;
    const before = new Date(now().getTime() - retentionDays * 86_400_000);
    pruneAuditEvents(store, before, { batch: options.batch, runMs: options.runMs, onDeleted: options.onDeleted })
      .then(({ deleted, done }) => {
        if (deleted > 0)
          options.log?.info(
            { deleted, retentionDays, ...(done ? {} : { more: true }) },
            done ? 'audit events past retention deleted' : 'audit events past retention deleted; the rest next run',
          );
      })
      .catch((err: unknown) => {
        // Class and code only (a database message may quote a patient identifier).
        const failed = err instanceof AuditPruneError ? err : new AuditPruneError(err, 0);
        options.log?.warn(
          { error: storageErrorTag(failed.cause), deleted: failed.deleted, retentionDays },
          'audit retention failed; will retry',
        );
      })
      .finally(() => {
        running = false;
      });
  };
  const first = setTimeout(run, options.firstAfterMs ?? 5_000);
  const timer = setInterval(run, options.everyMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
