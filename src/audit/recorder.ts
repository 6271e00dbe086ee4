/**
 * Audit records written behind the response (src/shared/write-behind.ts): `record()` queues
 * (bounded) and returns; one worker appends queued records in batches (one transaction each) on a
 * later turn of the event loop, so a slow database never delays cards. SIGTERM flushes the queue
 * before the process exits.
 *
 * The price, stated: records still queued when a process is killed (SIGKILL, OOM) are lost — at
 * most the few milliseconds before the next write, or what waits for a database that is away; a full
 * queue drops new records. A write the database may take later (it is away, frozen, out of connections)
 * is tried again until it is written, the delay doubling to 30 s, while later records wait in the queue:
 * an outage costs the trail nothing until the queue is full. A write it refuses (a record it will never
 * take) is retried once, then counted as failed. Each loss is counted (`dropped`, `failed`) for metrics
 * and alerts (cds_audit_events_dropped_total, cds_audit_events_failed_total).
 */
import type { Logger } from 'pino';
import { WriteBehindQueue } from '../shared/write-behind.js';
import { isPermanentStorageError, storageErrorTag } from '../shared/storage-errors.js';
import { boundRecord, type AuditRecord, type AuditStore } from './audit.js';

export interface AuditRecorderOptions {
  /** Records waiting beyond which new ones are dropped. Default 10,000. */
  maxQueued?: number;
  /** Records per append. Default 200. */
  maxPerWrite?: number;
  log?: Pick<Logger, 'error' | 'warn'> | undefined;
}

export class AuditRecorder {
  private readonly queue: WriteBehindQueue<AuditRecord>;

  constructor(store: AuditStore, options: AuditRecorderOptions = {}) {
    const { log } = options;
    this.queue = new WriteBehindQueue({
      write: (chunk) => store.append(chunk),
      maxQueued: options.maxQueued ?? 10_000,
      maxPerWrite: options.maxPerWrite ?? 200,
      retries: 1,
      transient: (error) => !isPermanentStorageError(error),
      // Once when a write first fails, then every 20th try (about every 10 minutes at the 30 s cap).
      onRetrying: (error, attempt, queued) => {
        if (attempt % 20 === 0)
          log?.warn(
            { error: storageErrorTag(error), attempt, queued },
            'audit store unavailable: records held, retrying',
          );
      },
      onDropped: ({ dropped }) => log?.error({ dropped }, 'audit queue full: audit records dropped'),
      onFailed: (error, records) => {
        const e = error as { name?: unknown; code?: unknown };
        // Class and code only: a database message may quote a patient identifier.
        log?.error(
          { error: [e.name, e.code].filter((x) => typeof x === 'string').join(' '), records },
          'audit records could not be written',
        );
      },
    });
  }

  get written(): number {
    return this.queue.written;
  }

  get dropped(): number {
    return this.queue.dropped;
  }

  get failed(): number {
    return this.queue.failed;
  }

  get queued(): number {
    return this.queue.queued;
  }

  /** Queues one record. Never blocks, never throws. */
  record(record: AuditRecord): void {
    this.queue.push(boundRecord(record));
  }

  /** Resolves true once everything queued so far is written (or failed), false after `timeoutMs`. */
  flush(timeoutMs = 5000): Promise<boolean> {
    return this.queue.flush(timeoutMs);
  }

  /** Refuses later records (counted as dropped) and waits for the queue to drain. */
  close(timeoutMs = 5000): Promise<boolean> {
    return this.queue.close(timeoutMs);
  }
}
