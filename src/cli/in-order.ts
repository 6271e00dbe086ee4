/**
 * A reorder window: pieces of work are numbered as they start, and their results handed on in that
 * order, each as soon as it and every one before it are done. At most `size` pieces are between
 * their start and their hand-over (running, done and waiting for one before them, or being handed
 * on): a caller that starts work only when {@link InOrder.slot} lets it waits while the consumer is
 * slow (backpressure), and holds at most `size` results whatever the number of pieces.
 */
export class InOrder<T> {
  private readonly done = new Map<number, T>();
  private started = 0;
  private handed = 0;
  /** The hand-overs under way, one after the other. */
  private handing: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly size: number,
    private readonly handOn: (result: T) => Promise<void>,
  ) {}

  /** Pieces started and not yet handed on. */
  get pending(): number {
    return this.started - this.handed;
  }

  /** The number of the next piece, once fewer than `size` are pending; rejects with the first failure. */
  async slot(): Promise<number> {
    while (this.pending >= this.size && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
    return this.started++;
  }

  /** Piece `index` is done with `result`. */
  settle(index: number, result: T): void {
    this.done.set(index, result);
    if (index === this.handed) this.handing = this.handing.then(() => this.handOver());
  }

  /** Ends the run with `error` (a hand-over failed, or a piece will never settle): slot and drained reject with it. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake?.();
  }

  /** Resolves once every result settled so far is handed on; rejects with the first failure. */
  async drained(): Promise<void> {
    await this.handing;
    this.check();
  }

  /** Hands nothing more on (the run is failing); resolves once the hand-over under way, if any, ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.handing;
  }

  private async handOver(): Promise<void> {
    while (this.done.has(this.handed) && !this.stopped && !this.failure) {
      const result = this.done.get(this.handed) as T;
      this.done.delete(this.handed);
      try {
        await this.handOn(result);
      } catch (error) {
        this.fail(error);
      }
      this.handed++;
      this.wake?.();
    }
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
