/**
 * The write-behind queue under the audit trail and card bookkeeping: push() never waits, items are
 * written in order in chunks on a later turn, and every way an item can be lost (full or closed
 * queue, failed write, write past its deadline) is counted and reported.
 */
import { describe, expect, test } from '@jest/globals';
import { WriteBehindQueue, type WriteBehindOptions } from '../../src/shared/write-behind.js';
import { CardRecorder } from '../../src/storage/card-recorder.js';
import { isPermanentStorageError } from '../../src/shared/storage-errors.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function queue(overrides: Partial<WriteBehindOptions<number>> = {}): {
  q: WriteBehindQueue<number>;
  writes: number[][];
  events: string[];
} {
  const writes: number[][] = [];
  const events: string[] = [];
  const q = new WriteBehindQueue<number>({
    write: (chunk) => {
      writes.push([...chunk]);
      return Promise.resolve();
    },
    maxQueued: 10,
    maxPerWrite: 3,
    onDropped: (s) => events.push(`dropped ${s.dropped} (queued ${s.queued}, closed ${String(s.closed)})`),
    onFailed: (error, chunk, failed) => events.push(`failed ${chunk} (${failed} in all): ${(error as Error).name}`),
    ...overrides,
  });
  return { q, writes, events };
}

describe('WriteBehindQueue', () => {
  test('push() returns before anything is written; items are written in order, 3 per write', async () => {
    const { q, writes } = queue();
    for (let i = 1; i <= 7; i++) expect(q.push(i)).toBe(true);
    expect(writes).toEqual([]);
    expect(q.queued).toBe(7);
    await expect(q.flush()).resolves.toBe(true);
    expect(writes).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect({ written: q.written, dropped: q.dropped, failed: q.failed, queued: q.queued }).toEqual({
      written: 7,
      dropped: 0,
      failed: 0,
      queued: 0,
    });
  });

  test('requests get the event loop between two writes', async () => {
    const order: string[] = [];
    const { q } = queue({
      write: (chunk) => {
        order.push(`write ${chunk.join(',')}`);
        if (chunk[0] === 1) setImmediate(() => order.push('a request'));
        return Promise.resolve();
      },
    });
    for (let i = 1; i <= 4; i++) q.push(i);
    await q.flush();
    expect(order).toEqual(['write 1,2,3', 'a request', 'write 4']);
  });

  test('a full queue drops and counts, reporting the first drop and again after a write succeeded', async () => {
    const { q, events } = queue();
    for (let i = 1; i <= 13; i++) q.push(i); // 10 queued, 3 dropped
    await turn();
    expect(events).toEqual(['dropped 1 (queued 10, closed false)']);
    await q.flush();
    for (let i = 1; i <= 11; i++) q.push(i); // 10 queued, 1 dropped: reported again
    await q.flush();
    expect(events).toEqual(['dropped 1 (queued 10, closed false)', 'dropped 4 (queued 10, closed false)']);
    expect({ written: q.written, dropped: q.dropped }).toEqual({ written: 20, dropped: 4 });
  });

  test('a failed write is tried again `retries` times, then its chunk counts as failed and the next is written', async () => {
    let calls = 0;
    const written: number[][] = [];
    const { q, events } = queue({
      retries: 1,
      retryDelayMs: 1,
      write: (chunk) => {
        calls++;
        if (chunk[0] === 1) return Promise.reject(Object.assign(new Error('disk full'), { name: 'SqliteError' }));
        written.push(chunk);
        return Promise.resolve();
      },
    });
    for (let i = 1; i <= 5; i++) q.push(i);
    await q.flush();
    expect({ calls, written, failed: q.failed, ok: q.written }).toEqual({
      calls: 3,
      written: [[4, 5]],
      failed: 3,
      ok: 2,
    });
    expect(events).toEqual(['failed 3 (3 in all): SqliteError']);
  });

  test('card bookkeeping: a write past its deadline counts as failed, the queue goes on, and its late failure is not left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const written: string[] = [];
      const recorder = new CardRecorder(
        {
          recordCards: (serviceId) =>
            serviceId === 'slow'
              ? new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 60))
              : Promise.resolve(void written.push(serviceId)),
        },
        { writeTimeoutMs: 20, maxBatchesPerWrite: 1 },
      );
      const card = [{ uuid: 'u', kind: 'g-csf', indicator: 'critical' as const }];
      recorder.record('slow', card, new Date());
      recorder.record('next', card, new Date());
      await expect(recorder.flush(2000)).resolves.toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the late rejection
      expect({ failed: recorder.failed, recorded: recorder.recorded, written, unhandled }).toEqual({
        failed: 1,
        recorded: 1,
        written: ['next'],
        unhandled: [],
      });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('a write that may pass (transient) is tried until it is written, the delay doubling; what is queued meanwhile waits, nothing is lost', async () => {
    let calls = 0;
    const written: number[][] = [];
    const retrying: string[] = [];
    const { q, events } = queue({
      retries: 1,
      retryDelayMs: 1,
      maxRetryDelayMs: 4,
      transient: (e) => (e as { code?: string }).code !== '23505',
      onRetrying: (_e, attempt, queued) => retrying.push(`${attempt}:${queued}`),
      write: (chunk) => {
        calls++;
        // The database is away for the first 5 tries.
        if (calls <= 5) return Promise.reject(Object.assign(new Error('timeout'), { name: 'StorageTimeoutError' }));
        written.push(chunk);
        return Promise.resolve();
      },
    });
    for (let i = 1; i <= 3; i++) q.push(i);
    await turn();
    for (let i = 4; i <= 5; i++) q.push(i); // arrive while the first chunk waits
    expect(await q.flush()).toBe(true);
    expect({ calls, written, failed: q.failed, ok: q.written }).toEqual({
      calls: 7,
      written: [
        [1, 2, 3],
        [4, 5],
      ],
      failed: 0,
      ok: 5,
    });
    expect(retrying).toEqual(['0:0', '1:2', '2:2', '3:2', '4:2']); // 4 and 5 arrived after the first try
    expect(events).toEqual([]);
  });

  test('a write the database refuses (not transient) is tried `retries` times and counted as failed, as before', async () => {
    const { q, events } = queue({
      retries: 1,
      retryDelayMs: 1,
      transient: (e) => (e as { code?: string }).code !== '23505',
      write: () => Promise.reject(Object.assign(new Error('duplicate key'), { name: 'DatabaseError', code: '23505' })),
    });
    q.push(1);
    await q.flush();
    expect({ failed: q.failed, ok: q.written }).toEqual({ failed: 1, ok: 0 });
    expect(events).toEqual(['failed 1 (1 in all): DatabaseError']);
  });

  test('closed while the database is away: the waiting write stops at its next try and counts as failed', async () => {
    const { q } = queue({
      retryDelayMs: 1,
      maxRetryDelayMs: 2,
      transient: () => true,
      write: () => Promise.reject(new Error('connection refused')),
    });
    q.push(1);
    q.push(2);
    await turn();
    expect(await q.close(2000)).toBe(true);
    expect({ failed: q.failed, ok: q.written }).toEqual({ failed: 2, ok: 0 });
  });

  test('flush() gives up after its timeout and says so', async () => {
    const { q } = queue({ write: () => new Promise(() => undefined) });
    q.push(1);
    await expect(q.flush(30)).resolves.toBe(false);
  });

  test('close() drains what is queued, then refuses (and counts) every later item', async () => {
    const { q, writes, events } = queue();
    q.push(1);
    await expect(q.close()).resolves.toBe(true);
    expect(q.push(2)).toBe(false);
    await turn();
    expect({ writes, dropped: q.dropped, events }).toEqual({
      writes: [[1]],
      dropped: 1,
      events: ['dropped 1 (queued 0, closed true)'],
    });
  });
});

describe('isPermanentStorageError: a write no retry will change (the audit trail retries the others)', () => {
  test.each<[string, unknown, boolean]>([
    ['PostgreSQL unique violation (23505)', { name: 'DatabaseError', code: '23505' }, true],
    ['PostgreSQL value too long (22001)', { code: '22001' }, true],
    ['PostgreSQL undefined table (42P01)', { code: '42P01' }, true],
    ['SQLite constraint', { code: 'SQLITE_CONSTRAINT_NOTNULL' }, true],
    ['PostgreSQL admin shutdown (57P01)', { code: '57P01' }, false],
    ['PostgreSQL connection failure (08006)', { code: '08006' }, false],
    ['too many connections (53300)', { code: '53300' }, false],
    ['connection refused', { code: 'ECONNREFUSED' }, false],
    ['a deadline passed (no code)', { name: 'StorageTimeoutError' }, false],
    ['SQLite busy', { code: 'SQLITE_BUSY' }, false],
    ['not an error at all', null, false],
  ])('%s → %s', (_name, error, permanent) => {
    expect(isPermanentStorageError(error)).toBe(permanent);
  });
});
