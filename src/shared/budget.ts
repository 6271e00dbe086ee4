/**
 * A capacity that callers take leases of, and give back when they are done. The process's memory:
 * the JSON values held parsed (MAX_JSON_VALUES_IN_FLIGHT: request bodies and fhirServer's answers
 * take a lease of their count before they are parsed), and the bytes of request bodies held
 * (MAX_BODY_BYTES_IN_FLIGHT: taken before a body is read, so that a body waiting for room waits in
 * the network, not in memory). BODY_LIMIT and BODY_MAX_JSON_VALUES bound one call; these bound the
 * calls together, which is what the pod's memory limit is about: five of the costliest bodies
 * allowed, each held over a slow fhirServer read, ended the service (V8's heap exhausted). And one
 * call's FHIR requests in flight (FHIR_MAX_CONCURRENT_REQUESTS, src/fhir/limiter.ts), leases of 1.
 *
 * Leases are granted in the order asked (a large one is never passed over for ever by small ones),
 * but those of calls already under way (`ongoing`: the fhirServer answers of a call whose body was
 * let in) come before those of new calls: finishing a call is what gives room back, and a call held
 * behind a new one that waits for it would hold both until the wait ran out. A lease that cannot be
 * granted within `maxWaitMs` (Infinity: no limit) fails with {@link BusyError} (a 503 with
 * Retry-After), and one whose call is aborted while waiting leaves its queue at once.
 */

/** What a budget counts, as its messages name it. */
export interface BudgetUnit {
  /** `JSON values`, `bytes of request body`, `FHIR requests`. */
  unit: string;
  /** The setting that sizes it. */
  setting: string;
}

export const JSON_VALUES: BudgetUnit = { unit: 'JSON values', setting: 'MAX_JSON_VALUES_IN_FLIGHT' };
export const BODY_BYTES: BudgetUnit = { unit: 'bytes of request body', setting: 'MAX_BODY_BYTES_IN_FLIGHT' };

/** No lease could be had within the wait: other calls hold the budget. */
export class BusyError extends Error {
  constructor(
    readonly weight: number,
    readonly capacity: number,
    readonly waitedMs: number,
    what: BudgetUnit = JSON_VALUES,
  ) {
    super(
      `the service is busy with other large calls: ${weight.toLocaleString('en-US')} ${what.unit} did not fit within ${what.setting} (${capacity.toLocaleString('en-US')}) in ${waitedMs} ms`,
    );
    this.name = 'BusyError';
  }
}

/** A part of the budget, held until released (releasing twice gives it back once). */
export interface Lease {
  readonly weight: number;
  readonly release: () => void;
}

interface Waiter {
  weight: number;
  grant: () => void;
}

export class Budget {
  private held = 0;
  /** Waiting, in the order asked: leases of calls under way, then those of new calls. */
  private readonly ongoing: Waiter[] = [];
  private readonly queue: Waiter[] = [];
  /** Most held at once (tests, benchmarks). */
  peak = 0;
  /** Leases refused for want of room within the wait (metrics). */
  refused = 0;

  constructor(
    readonly capacity: number,
    readonly maxWaitMs: number,
    readonly what: BudgetUnit = JSON_VALUES,
  ) {}

  /** Values held by leases now. */
  get inUse(): number {
    return this.held;
  }

  /** Leases waiting now. */
  get waiting(): number {
    return this.ongoing.length + this.queue.length;
  }

  /** A lease of `weight` now, when it fits and nobody waits before it; undefined otherwise. */
  tryAcquire(weight: number, ongoing = false): Lease | undefined {
    const w = this.clamp(weight);
    const before = this.ongoing.length + (ongoing ? 0 : this.queue.length);
    if (before > 0 || this.held + w > this.capacity) return undefined;
    return this.lease(w);
  }

  /**
   * A lease of `weight` once it fits, after every lease asked before it; rejects with BusyError
   * after maxWaitMs, or with the signal's reason when it aborts first. A weight above the capacity
   * waits for the whole budget.
   */
  acquire(weight: number, signal?: AbortSignal, ongoing = false): Promise<Lease> {
    const now = this.tryAcquire(weight, ongoing);
    if (now) return Promise.resolve(now);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const w = this.clamp(weight);
    const queue = ongoing ? this.ongoing : this.queue;
    return new Promise<Lease>((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = queue.indexOf(waiter);
        if (at >= 0) queue.splice(at, 1);
        this.grantWaiting(); // the head may have been the one in the way
      };
      const waiter: Waiter = {
        weight: w,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(this.lease(w));
        },
      };
      const onAbort = (): void => {
        leave();
        reject(signal?.reason as Error);
      };
      const timer =
        this.maxWaitMs === Infinity
          ? undefined
          : setTimeout(() => {
              leave();
              this.refused++;
              reject(new BusyError(weight, this.capacity, this.maxWaitMs, this.what));
            }, this.maxWaitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  private clamp(weight: number): number {
    return Math.min(Math.max(0, Math.ceil(weight)), this.capacity);
  }

  private lease(weight: number): Lease {
    this.held += weight;
    this.peak = Math.max(this.peak, this.held);
    let released = false;
    return {
      weight,
      release: () => {
        if (released) return;
        released = true;
        this.held -= weight;
        this.grantWaiting();
      },
    };
  }

  /** Grants waiting leases in order (calls under way first) while the first fits. */
  private grantWaiting(): void {
    for (;;) {
      const queue = this.ongoing.length > 0 ? this.ongoing : this.queue;
      const head = queue[0];
      if (!head || this.held + head.weight > this.capacity) return;
      queue.shift();
      head.grant();
    }
  }
}
