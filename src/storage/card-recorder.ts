/**
 * Card bookkeeping off the response path. Recording which cards were issued feeds the
 * alert-fatigue reports; it must never delay or cost a clinician their cards. `record()` only
 * puts the batch in a bounded in-memory queue and returns; one worker drains the queue after the
 * response is sent (setImmediate), many batches per transaction.
 *
 * The price, stated: batches still queued when the process dies are lost, a full queue drops new
 * batches, and a failed write is not retried. All three are counted (`dropped`, `failed`) and
 * logged, for metrics and alerts.
 */
import type { Logger } from 'pino';
import type { IssuedCard } from '../shared/card-kind.js';
import { StorageTimeoutError, storageErrorTag, withDeadline } from './deadline.js';
import type { CardBatch } from './feedback-store.js';

/** Where batches go: a FeedbackStore, or anything with recordCards. */
export interface CardSink {
  recordCards(serviceId: string, cards: IssuedCard[], issuedAt: Date): Promise<unknown>;
  /** When present, one call (one transaction) per drained chunk. */
  recordCardBatches?(batches: readonly CardBatch[]): Promise<unknown>;
}

export interface CardRecorderOptions {
  /** Queued batches (service calls) beyond which new ones are dropped. Default 1000. */
  maxQueuedBatches?: number;
  /** Batches written per transaction. Default 100. */
  maxBatchesPerWrite?: number;
  /**
   * Longest wait for one write before it counts as failed and the worker moves on. The stores
   * have their own deadline (STORAGE_TIMEOUT_MS); this guards any sink. Default 5000 ms.
   */
  writeTimeoutMs?: number;
  log?: Pick<Logger, 'error' | 'warn'> | undefined;
}

export class CardRecorder {
  /** Batches refused because the queue was full or the recorder closed. */
  dropped = 0;
  /** Batches whose write failed or timed out. */
  failed = 0;
  /** Batches written. */
  recorded = 0;
  private readonly queue: CardBatch[] = [];
  private readonly maxQueued: number;
  private readonly perWrite: number;
  private readonly writeTimeoutMs: number;
  private readonly log: CardRecorderOptions['log'];
  private draining = false;
  private closed = false;
  /** Set while batches are being dropped, so a full queue logs once rather than per call. */
  private dropping = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly sink: CardSink,
    options: CardRecorderOptions = {},
  ) {
    this.maxQueued = Math.max(1, options.maxQueuedBatches ?? 1000);
    this.perWrite = Math.max(1, options.maxBatchesPerWrite ?? 100);
    this.writeTimeoutMs = Math.max(1, options.writeTimeoutMs ?? 5000);
    this.log = options.log;
  }

  /** Batches waiting to be written (not counting a write in progress). */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues the cards of one service call. Never blocks, never throws. */
  record(serviceId: string, cards: readonly IssuedCard[], issuedAt: Date): void {
    try {
      if (cards.length === 0) return;
      if (this.closed || this.queue.length >= this.maxQueued) {
        this.dropped += 1;
        if (!this.dropping) {
          this.dropping = true;
          // Logged on a later turn: record() itself does no I/O.
          setImmediate(() =>
            this.log?.warn(
              { queued: this.queue.length, dropped: this.dropped, closed: this.closed },
              'card bookkeeping queue full: issued cards not recorded',
            ),
          );
        }
        return;
      }
      this.queue.push({
        serviceId,
        cards: cards.map((c) => ({ uuid: c.uuid, kind: c.kind, indicator: c.indicator })),
        issuedAt,
      });
      if (!this.draining) {
        this.draining = true;
        // After the current I/O phase: the response that issued these cards is written first.
        setImmediate(() => void this.drain());
      }
    } catch {
      this.dropped += 1;
    }
  }

  /** Resolves true once everything queued so far is written (or failed), false after timeoutMs. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    if (!this.draining && this.queue.length === 0) return true;
    let done: () => void = () => undefined;
    const drained = new Promise<void>((resolve) => {
      done = resolve;
      this.idle.push(resolve);
    });
    try {
      await withDeadline(timeoutMs, drained);
      return true;
    } catch {
      return false;
    } finally {
      this.idle = this.idle.filter((r) => r !== done);
    }
  }

  /** Stops accepting batches (later ones count as dropped) and waits for the queue to drain. */
  close(timeoutMs = 5000): Promise<boolean> {
    this.closed = true;
    return this.flush(timeoutMs);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const chunk = this.queue.splice(0, this.perWrite);
        try {
          await withDeadline(this.writeTimeoutMs, this.write(chunk));
          this.recorded += chunk.length;
          this.dropping = false;
        } catch (err) {
          this.failed += chunk.length;
          // Name and code only: a database message may quote data.
          const error =
            err instanceof StorageTimeoutError && err.timeoutMs === this.writeTimeoutMs
              ? 'CardRecorder write timeout'
              : storageErrorTag(err);
          this.log?.error({ error, batches: chunk.length, failed: this.failed }, 'could not record issued cards');
        }
        // Let requests in between two writes (SQLite writes hold the event loop).
        if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
      const waiting = this.idle;
      this.idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  private async write(chunk: CardBatch[]): Promise<void> {
    if (this.sink.recordCardBatches) {
      await this.sink.recordCardBatches(chunk);
      return;
    }
    for (const b of chunk) await this.sink.recordCards(b.serviceId, b.cards, b.issuedAt);
  }
}
