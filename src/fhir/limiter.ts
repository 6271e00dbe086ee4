/**
 * At most `max` FHIR requests of one CDS call in flight at once (FHIR_MAX_CONCURRENT_REQUESTS):
 * the service reads in parallel, but never floods the EHR's FHIR server. A budget of `max` (see
 * src/shared/budget.ts), each request a lease of 1 without a time limit (the call's deadline is
 * the limit): waiters are served in the order they asked, and a waiter whose call is aborted leaves
 * the queue at once.
 */
import { Budget, type BudgetUnit } from '../shared/budget.js';

const REQUESTS: BudgetUnit = { unit: 'FHIR requests', setting: 'FHIR_MAX_CONCURRENT_REQUESTS' };

export class RequestLimiter {
  private readonly slots: Budget;

  constructor(readonly max: number) {
    this.slots = new Budget(max, Infinity, REQUESTS);
  }

  /** Most requests seen in flight together (for tests and benchmarks). */
  get peak(): number {
    return this.slots.peak;
  }

  /** Runs `task` once a slot is free; rejects with the signal's reason when aborted, even with a slot free. */
  async run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (signal.aborted) throw signal.reason as Error;
    const slot = await this.slots.acquire(1, signal);
    try {
      return await task();
    } finally {
      slot.release();
    }
  }
}
