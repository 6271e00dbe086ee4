/**
 * Throttles failed administrative authentications per client address: after `maxFailures` wrong
 * or missing tokens within `windowMs`, every admin request from that address is answered 429
 * (with Retry-After) until the window ends, the right token included, so guessing stops paying.
 * Per replica, in memory, at most `maxAddresses` addresses remembered (least recent forgotten):
 * a flood of spoofed addresses cannot grow it. Behind a proxy, TRUST_PROXY=true makes the
 * address the client's (X-Forwarded-For) rather than the proxy's.
 */
import { LRUCache } from 'lru-cache';

export interface AdminLimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  maxAddresses?: number;
  now?: () => number;
}

export class AdminFailureLimiter {
  private readonly failures: LRUCache<string, { count: number; resetAt: number }>;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(options: AdminLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.failures = new LRUCache({ max: options.maxAddresses ?? 10_000 });
  }

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfterSeconds(address: string): number {
    const entry = this.failures.get(address);
    if (!entry) return 0;
    const left = entry.resetAt - this.now();
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil(left / 1000) : 0;
  }

  fail(address: string): void {
    const now = this.now();
    const entry = this.failures.get(address);
    if (!entry || entry.resetAt <= now) this.failures.set(address, { count: 1, resetAt: now + this.windowMs });
    else entry.count += 1;
  }
}
