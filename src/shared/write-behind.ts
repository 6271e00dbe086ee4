/**
 * A write-behind queue: `push()` puts an item in a bounded in-memory queue and returns at once;
 * one worker writes the queue in chunks (one `write` call each) on a later turn of the event loop,
 * after the response that queued them, yielding to requests between two writes. The audit trail
 * and card bookkeeping both use it: neither may delay or cost a clinician their cards.
 *
 * The price, stated: items still queued when the process dies are lost; a full (or closed) queue
 * drops new items; a write that fails (after its retries) drops its chunk, unless the owner says the
 * failure may pass (`transient`: a database away), in which case it is tried until it is written. A deadline belongs in
 * `write` (e.g. storage's withDeadline), which also keeps a late failure from going unhandled.
 * Each case is counted (`dropped`, `failed`) for metrics and alerts, and reported to the owner's
 * `onDropped` / `onFailed`, which log without I/O on the caller's turn.
 */
export interface WriteBehindOptions<T> {
  /** Writes one chunk (one transaction). */
  write: (chunk: T[]) => Promise<unknown>;
  /** Items waiting beyond which new ones are dropped. */
  maxQueued: number;
  /** Items per write. */
  maxPerWrite: number;
  /** A failed write is tried again this many times, `retryDelayMs` apart. Default 0. */
  retries?: number;
  retryDelayMs?: number;
  /**
   * Whether a failed write may succeed later (a database away or frozen, not a record it refuses): such a
   * write is tried again past `retries`, the delay doubling up to `maxRetryDelayMs`, for as long as the
   * queue is open, and what is queued meanwhile waits (up to `maxQueued`). Default: never.
   */
  transient?: (error: unknown) => boolean;
  /** Default 30 s. */
  maxRetryDelayMs?: number;
  /** Told of each failed write that is tried again because `transient` says it may pass (attempt 0, 1, …). */
  onRetrying?: (error: unknown, attempt: number, queued: number) => void;
  /**
   * Told when items are being dropped: at the first drop since the last successful write, then at
   * every 1,000th, so a full queue is logged without a line per call. Called on a later turn
   * (push() does no I/O).
   */
  onDropped?: (state: { dropped: number; queued: number; closed: boolean }) => void;
  /** Told of each chunk that could not be written. */
  onFailed?: (error: unknown, chunk: number, failed: number) => void;
}

export class WriteBehindQueue<T> {
  /** Items written. */
  written = 0;
  /** Items refused: the queue was full or closed. */
  dropped = 0;
  /** Items whose write failed. */
  failed = 0;
  private readonly queue: T[] = [];
  private readonly maxQueued: number;
  private readonly perWrite: number;
  private draining = false;
  private closed = false;
  /** Whether an item was dropped since the last successful write (owners log once per episode). */
  private dropping = false;
  private idle: (() => void)[] = [];

  constructor(private readonly options: WriteBehindOptions<T>) {
    this.maxQueued = Math.max(1, options.maxQueued);
    this.perWrite = Math.max(1, options.maxPerWrite);
  }

  /** Items waiting to be written (not counting a write in progress). */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues one item; false when it was dropped. Never blocks, never throws. */
  push(item: T): boolean {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.dropped += 1;
      const { onDropped } = this.options;
      if (onDropped && (!this.dropping || this.dropped % 1000 === 0)) {
        const state = { dropped: this.dropped, queued: this.queue.length, closed: this.closed };
        setImmediate(() => onDropped(state));
      }
      this.dropping = true;
      return false;
    }
    this.queue.push(item);
    if (!this.draining) {
      this.draining = true;
      // After the current I/O phase: the response that queued this item is written first.
      setImmediate(() => void this.drain());
    }
    return true;
  }

  /** Resolves true once everything queued so far is written (or failed), false after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    if (!this.draining && this.queue.length === 0) return true;
    let done: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<boolean>((resolve) => {
      done = () => resolve(true);
      this.idle.push(done);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await drained;
    } finally {
      clearTimeout(timer);
      this.idle = this.idle.filter((r) => r !== done);
    }
  }

  /** Refuses later items (counted as dropped) and waits for the queue to drain. */
  close(timeoutMs = 5000): Promise<boolean> {
    this.closed = true;
    return this.flush(timeoutMs);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const chunk = this.queue.splice(0, this.perWrite);
        try {
          await this.writeWithRetries(chunk);
          this.written += chunk.length;
          this.dropping = false;
        } catch (error) {
          this.failed += chunk.length;
          this.options.onFailed?.(error, chunk.length, this.failed);
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

  private async writeWithRetries(chunk: T[]): Promise<void> {
    const { retries = 0, retryDelayMs = 100, transient, maxRetryDelayMs = 30_000 } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.write(chunk);
        return;
      } catch (error) {
        // Closed (shutting down), a write that will not pass goes the way of any other: counted as failed.
        const waitForIt = !this.closed && transient?.(error) === true;
        if (attempt >= retries && !waitForIt) throw error;
        if (waitForIt) this.options.onRetrying?.(error, attempt, this.queue.length);
        const delay = waitForIt ? Math.min(retryDelayMs * 2 ** Math.min(attempt, 20), maxRetryDelayMs) : retryDelayMs;
        // unref: a wait for the database never holds the process up on its own.
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }
}
