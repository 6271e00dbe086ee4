/**
 * Card bookkeeping off the response path (src/shared/write-behind.ts). Recording which cards were
 * issued feeds the alert-fatigue reports; it must never delay or cost a clinician their cards.
 * `record()` only puts the batch in a bounded in-memory queue and returns; one worker drains the
 * queue after the response is sent (setImmediate), many batches per transaction.
 *
 * The price, stated: batches still queued when the process dies are lost, a full queue drops new
 * batches, and a failed write is not retried. All three are counted (`dropped`, `failed`) and
 * logged, for metrics and alerts.
 */
import type { Logger } from 'pino';
import type { IssuedCard } from '../shared/card-kind.js';
import { WriteBehindQueue } from '../shared/write-behind.js';
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
  private readonly queue: WriteBehindQueue<CardBatch>;

  constructor(sink: CardSink, options: CardRecorderOptions = {}) {
    const { log } = options;
    const writeTimeoutMs = Math.max(1, options.writeTimeoutMs ?? 5000);
    this.queue = new WriteBehindQueue<CardBatch>({
      // The sink's own deadline (STORAGE_TIMEOUT_MS) guards the stores; this one guards any sink.
      write: (chunk) => withDeadline(writeTimeoutMs, write(sink, chunk)),
      maxQueued: options.maxQueuedBatches ?? 1000,
      maxPerWrite: options.maxBatchesPerWrite ?? 100,
      onDropped: ({ queued, dropped, closed }) =>
        log?.warn({ queued, dropped, closed }, 'card bookkeeping queue full: issued cards not recorded'),
      onFailed: (err, batches, failed) => {
        // Name and code only: a database message may quote data.
        const error =
          err instanceof StorageTimeoutError && err.timeoutMs === writeTimeoutMs
            ? 'CardRecorder write timeout'
            : storageErrorTag(err);
        log?.error({ error, batches, failed }, 'could not record issued cards');
      },
    });
  }

  /** Batches refused because the queue was full or the recorder closed. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Batches whose write failed or timed out. */
  get failed(): number {
    return this.queue.failed;
  }

  /** Batches written. */
  get recorded(): number {
    return this.queue.written;
  }

  /** Batches waiting to be written (not counting a write in progress). */
  get queued(): number {
    return this.queue.queued;
  }

  /** Queues the cards of one service call. Never blocks, never throws. */
  record(serviceId: string, cards: readonly IssuedCard[], issuedAt: Date): void {
    if (cards.length === 0) return;
    this.queue.push({
      serviceId,
      cards: cards.map((c) => ({ uuid: c.uuid, kind: c.kind, indicator: c.indicator })),
      issuedAt,
    });
  }

  /** Resolves true once everything queued so far is written (or failed), false after timeoutMs. */
  flush(timeoutMs = 5000): Promise<boolean> {
    return this.queue.flush(timeoutMs);
  }

  /** Stops accepting batches (later ones count as dropped) and waits for the queue to drain. */
  close(timeoutMs = 5000): Promise<boolean> {
    return this.queue.close(timeoutMs);
  }
}

/** One transaction per chunk when the sink can, else one call per batch. */
async function write(sink: CardSink, chunk: CardBatch[]): Promise<void> {
  if (sink.recordCardBatches) {
    await sink.recordCardBatches(chunk);
    return;
  }
  for (const b of chunk) await sink.recordCards(b.serviceId, b.cards, b.issuedAt);
}
