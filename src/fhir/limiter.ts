/**
 * At most `max` FHIR requests of one CDS call in flight at once (FHIR_MAX_CONCURRENT_REQUESTS):
 * the service reads in parallel, but never floods the EHR's FHIR server. Waiters are served in
 * the order they asked, and a waiter whose call is aborted leaves the queue at once.
 */
export class RequestLimiter {
  private active = 0;
  private readonly waiting: { start: () => void; signal: AbortSignal; onAbort: () => void }[] = [];
  /** Most requests seen in flight together (for tests and benchmarks). */
  peak = 0;

  constructor(readonly max: number) {}

  /** Runs `task` once a slot is free; rejects with the signal's reason when aborted while waiting. */
  async run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.max) {
      this.take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        signal,
        start: () => {
          signal.removeEventListener('abort', waiter.onAbort);
          this.take();
          resolve();
        },
        onAbort: () => {
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal.reason as Error);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private take(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.start();
  }
}
