/**
 * Audit records written behind the response: `record()` queues (bounded) and returns; one worker
 * appends queued records in batches (one transaction each) on a later turn of the event loop, so
 * a slow database never delays cards. SIGTERM flushes the queue before the process exits.
 *
 * The price, stated: records still queued when a process is killed (SIGKILL, OOM) are lost — at
 * most the few milliseconds before the next write; a full queue drops new records; a failed write
 * is retried once. Each case is counted (`dropped`, `failed`) for metrics and alerts
 * (cds_audit_events_dropped_total, cds_audit_events_failed_total).
 */
import type { Logger } from 'pino';
import { boundRecord, type AuditRecord, type AuditStore } from './audit.js';

export interface AuditRecorderOptions {
  /** Records waiting beyond which new ones are dropped. Default 10,000. */
  maxQueued?: number;
  /** Records per append. Default 200. */
  maxPerWrite?: number;
  log?: Pick<Logger, 'error' | 'warn'> | undefined;
}

export class AuditRecorder {
  written = 0;
  dropped = 0;
  failed = 0;
  private readonly queue: AuditRecord[] = [];
  private readonly maxQueued: number;
  private readonly perWrite: number;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: AuditStore,
    private readonly options: AuditRecorderOptions = {},
  ) {
    this.maxQueued = Math.max(1, options.maxQueued ?? 10_000);
    this.perWrite = Math.max(1, options.maxPerWrite ?? 200);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues one record. Never blocks, never throws. */
  record(record: AuditRecord): void {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.dropped += 1;
      if (this.dropped === 1 || this.dropped % 1000 === 0)
        setImmediate(() =>
          this.options.log?.error({ dropped: this.dropped }, 'audit queue full: audit records dropped'),
        );
      return;
    }
    this.queue.push(boundRecord(record));
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves true once everything queued so far is written (or failed), false after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      for (;;) {
        const current = this.draining;
        if (!current) return this.queue.length === 0;
        if ((await Promise.race([current.then(() => true as const), expired])) === false) return false;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Refuses later records (counted as dropped) and waits for the queue to drain. */
  close(timeoutMs = 5000): Promise<boolean> {
    this.closed = true;
    return this.flush(timeoutMs);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const chunk = this.queue.splice(0, this.perWrite);
        try {
          await this.appendWithRetry(chunk);
          this.written += chunk.length;
        } catch (err) {
          this.failed += chunk.length;
          const e = err as { name?: unknown; code?: unknown };
          // Class and code only: a database message may quote a patient identifier.
          this.options.log?.error(
            { error: [e.name, e.code].filter((x) => typeof x === 'string').join(' '), records: chunk.length },
            'audit records could not be written',
          );
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async appendWithRetry(chunk: AuditRecord[]): Promise<void> {
    try {
      await this.store.append(chunk);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await this.store.append(chunk);
    }
  }
}
