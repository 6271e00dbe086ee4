/**
 * Time limits for storage: a database that stops answering (frozen, partitioned, overloaded) must
 * cost a request at most the storage timeout, never a hung clinician.
 */

/** Default for every storage call (STORAGE_TIMEOUT_MS): reads and writes here are tiny. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 2000;

/** A storage call did not finish in time; nothing may be assumed about whether it was applied. */
export class StorageTimeoutError extends Error {
  override readonly name = 'StorageTimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number) {
    super(`storage did not answer within ${timeoutMs} ms`);
  }
}

/**
 * Settles as `work` does, or rejects with StorageTimeoutError after `timeoutMs`, calling
 * `onTimeout` first (to tear down whatever the work holds). The work itself is not cancelled: its
 * late result or error is ignored.
 */
export async function withDeadline<T>(timeoutMs: number, work: Promise<T>, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.();
      } finally {
        reject(new StorageTimeoutError(timeoutMs));
      }
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

export { isPermanentStorageError, storageErrorTag } from '../shared/storage-errors.js';

/** A positive whole number of milliseconds, or the default. */
export function timeoutOrDefault(ms: number | undefined, fallback = DEFAULT_STORAGE_TIMEOUT_MS): number {
  return ms !== undefined && Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : fallback;
}
