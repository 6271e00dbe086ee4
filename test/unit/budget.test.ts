/**
 * Budget (src/shared/budget.ts): the JSON values all calls together may hold parsed.
 * Worked cases, then a model-based property: any sequence of leases asked, released, given up
 * (the call aborted) and timed out keeps what is held within the capacity, grants in the order
 * asked, and gives everything back.
 */
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { BODY_BYTES, BusyError, type Lease, Budget } from '../../src/shared/budget.js';
import { RequestLimiter } from '../../src/fhir/limiter.js';

/** Lets promise callbacks run (grants resolve in microtasks). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

// Waits (maxWaitMs) run on fake timers in every case.
beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('Budget: worked cases', () => {
  test('leases that fit are granted at once; released, the room comes back (twice released: once)', async () => {
    const budget = new Budget(100, 1000);
    const a = budget.tryAcquire(60);
    const b = await budget.acquire(40);
    expect([a?.weight, b.weight, budget.inUse]).toEqual([60, 40, 100]);
    expect(budget.tryAcquire(1)).toBeUndefined();
    a?.release();
    a?.release();
    expect(budget.inUse).toBe(40);
    b.release();
    expect([budget.inUse, budget.peak]).toEqual([0, 100]);
  });

  test('one that does not fit waits, and is granted as soon as room comes', async () => {
    const budget = new Budget(100, 1000);
    const a = budget.tryAcquire(70) as Lease;
    let got: Lease | undefined;
    void budget.acquire(50).then((lease) => (got = lease));
    await settle();
    expect([got, budget.waiting]).toEqual([undefined, 1]);
    jest.advanceTimersByTime(999);
    a.release();
    await settle();
    expect([got?.weight, budget.inUse, budget.waiting]).toEqual([50, 50, 0]);
  });

  test('after maxWaitMs without room: BusyError naming the setting, counted as refused', async () => {
    const budget = new Budget(1_000_000, 2000);
    budget.tryAcquire(900_000);
    const waiting = budget.acquire(200_000);
    jest.advanceTimersByTime(2000);
    await expect(waiting).rejects.toThrow(new BusyError(200_000, 1_000_000, 2000).message);
    expect(new BusyError(200_000, 1_000_000, 2000).message).toBe(
      'the service is busy with other large calls: 200,000 JSON values did not fit within MAX_JSON_VALUES_IN_FLIGHT (1,000,000) in 2000 ms',
    );
    expect([budget.refused, budget.waiting, budget.inUse]).toEqual([1, 0, 900_000]);
  });

  test('a budget of body bytes names its setting', async () => {
    const budget = new Budget(33_554_432, 2000, BODY_BYTES);
    budget.tryAcquire(20_000_000);
    const waiting = budget.acquire(16_000_000);
    jest.advanceTimersByTime(2000);
    await expect(waiting).rejects.toThrow(
      'the service is busy with other large calls: 16,000,000 bytes of request body did not fit within MAX_BODY_BYTES_IN_FLIGHT (33,554,432) in 2000 ms',
    );
  });

  test('in the order asked: a small lease that would fit waits behind a large one that does not', async () => {
    const budget = new Budget(100, 1000);
    const a = budget.tryAcquire(60) as Lease;
    const order: string[] = [];
    void budget.acquire(80).then((l) => order.push(`large ${l.weight}`));
    void budget.acquire(10).then((l) => order.push(`small ${l.weight}`));
    expect(budget.tryAcquire(10)).toBeUndefined(); // someone waits: no passing them
    await settle();
    expect(order).toEqual([]);
    a.release();
    await settle();
    expect(order).toEqual(['large 80', 'small 10']);
  });

  test('leases of calls under way come first: one passes new calls waiting, and is granted before them', async () => {
    const budget = new Budget(100, 1000);
    const a = budget.tryAcquire(60) as Lease;
    const order: string[] = [];
    void budget.acquire(50).then(() => order.push('new call 50'));
    expect(budget.tryAcquire(30)).toBeUndefined(); // a new call waits behind the waiting one
    const now = budget.tryAcquire(30, true); // a call under way passes it
    void budget.acquire(20, undefined, true).then(() => order.push('under way 20'));
    await settle();
    expect([now?.weight, budget.inUse, order]).toEqual([30, 90, []]);
    now?.release();
    await settle();
    expect(order).toEqual(['under way 20']);
    a.release();
    await settle();
    expect([order, budget.inUse]).toEqual([['under way 20', 'new call 50'], 70]);
  });

  test('a waiter whose call aborts leaves the queue, and those behind it may go on', async () => {
    const budget = new Budget(100, 1000);
    budget.tryAcquire(50);
    const call = new AbortController();
    const large = budget.acquire(90, call.signal);
    let small: Lease | undefined;
    void budget.acquire(40).then((l) => (small = l));
    call.abort(new Error('client gone'));
    await expect(large).rejects.toThrow('client gone');
    await settle();
    expect([small?.weight, budget.inUse, budget.waiting]).toEqual([40, 90, 0]);
  });

  test('without a time limit (Infinity) a waiter waits as long as it takes, and is granted', async () => {
    const budget = new Budget(1, Infinity);
    const a = budget.tryAcquire(1) as Lease;
    let got: Lease | undefined;
    void budget.acquire(1).then((l) => (got = l));
    jest.advanceTimersByTime(24 * 3_600_000);
    await settle();
    expect([got, budget.refused, budget.waiting]).toEqual([undefined, 0, 1]);
    a.release();
    await settle();
    expect(got?.weight).toBe(1);
  });

  test('RequestLimiter (FHIR_MAX_CONCURRENT_REQUESTS 2): at most 2 tasks at once, in the order asked; an aborted waiter never runs; an aborted call runs nothing', async () => {
    const limiter = new RequestLimiter(2);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const task = (id: number) => (): Promise<number> =>
      new Promise((resolve) => {
        started.push(id);
        finish[id] = () => resolve(id);
      });
    const call = new AbortController();
    const runs = [0, 1, 2, 3].map((id) =>
      limiter.run(id === 2 ? call.signal : new AbortController().signal, task(id)).catch((e: Error) => e.message),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    call.abort(new Error('call 2 ended'));
    finish[0]?.();
    await settle();
    expect(started).toEqual([0, 1, 3]);
    finish[1]?.();
    finish[3]?.();
    expect(await Promise.all(runs)).toEqual([0, 1, 'call 2 ended', 3]);
    expect(limiter.peak).toBe(2);
    const gone = new AbortController();
    gone.abort(new Error('already over'));
    await expect(limiter.run(gone.signal, task(9))).rejects.toThrow('already over');
    expect(started).not.toContain(9);
  });

  test('a weight above the capacity waits for the whole budget, and gets it', async () => {
    const budget = new Budget(100, 1000);
    const a = budget.tryAcquire(1) as Lease;
    let got: Lease | undefined;
    void budget.acquire(250).then((l) => (got = l));
    await settle();
    expect(got).toBeUndefined();
    a.release();
    await settle();
    expect([got?.weight, budget.inUse]).toEqual([100, 100]);
  });
});

type Op =
  | { kind: 'ask'; weight: number; abortable: boolean; ongoing: boolean }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'time'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('ask' as const),
    weight: fc.integer({ min: 0, max: 150 }),
    abortable: fc.boolean(),
    ongoing: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 600 }) }),
);

describe('Budget: any sequence of leases', () => {
  test('held never passes the capacity, equals what granted leases not released hold, grants of each kind go in the order asked, and all comes back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
        const capacity = 100;
        const budget = new Budget(capacity, 1000);
        const granted: { id: number; lease: Lease }[] = [];
        const grantOrder: Record<'ongoing' | 'new', number[]> = { ongoing: [], new: [] };
        const pending: { id: number; controller: AbortController | undefined }[] = [];
        let held = 0;
        let next = 0;
        for (const op of ops) {
          if (op.kind === 'ask') {
            const id = next++;
            const controller = op.abortable ? new AbortController() : undefined;
            pending.push({ id, controller });
            budget.acquire(op.weight, controller?.signal, op.ongoing).then(
              (lease) => {
                granted.push({ id, lease });
                grantOrder[op.ongoing ? 'ongoing' : 'new'].push(id);
                held += lease.weight;
              },
              () => undefined,
            );
          } else if (op.kind === 'release' && granted.length > 0) {
            const [g] = granted.splice(op.pick % granted.length, 1);
            g?.lease.release();
            held -= g?.lease.weight ?? 0;
          } else if (op.kind === 'abort' && pending.length > 0) {
            pending[op.pick % pending.length]?.controller?.abort(new Error('gone'));
          } else if (op.kind === 'time') jest.advanceTimersByTime(op.ms);
          await settle();
          expect(budget.inUse).toBe(held);
          expect(budget.inUse).toBeLessThanOrEqual(capacity);
        }
        // Granted in the order asked within each kind (those refused or aborted drop out, never jump the queue).
        for (const ids of Object.values(grantOrder)) expect(ids).toEqual([...ids].sort((a, b) => a - b));
        jest.advanceTimersByTime(1000);
        await settle();
        for (const g of granted.splice(0)) g.lease.release();
        await settle();
        for (const g of granted) g.lease.release(); // granted while the others were given back
        expect([budget.inUse, budget.waiting]).toEqual([0, 0]);
      }),
      { numRuns: 2000 },
    );
  });
});
