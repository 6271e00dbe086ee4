/**
 * Audit retention against a store whose statements have a time limit: batches, each bounded, the
 * size halved after a batch that did not finish in time, a backlog drained over several runs, and
 * a failure logged with its class and code.
 */
import { Writable } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import type { AuditStore } from '../../src/audit/audit.js';
import { startAuditRetention } from '../../src/audit/retention.js';
import { createLogger } from '../../src/logger.js';
import { StorageTimeoutError } from '../../src/storage/deadline.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const DAY = 86_400_000;

/**
 * `old` records past retention; a statement deleting more than `fitsInTime` rows (or all of them:
 * no limit) outlives the storage timeout, as one DELETE over a backlog did.
 */
function slowStore(old: number, fitsInTime: number, fail?: Error): AuditStore & { limits: (number | undefined)[] } {
  let left = old;
  const limits: (number | undefined)[] = [];
  return {
    limits,
    append: () => Promise.resolve(),
    read: () => Promise.resolve([]),
    prune: (before: Date, limit?: number) => {
      expect(before.getTime()).toBe(NOW.getTime() - 30 * DAY);
      limits.push(limit);
      if (fail) return Promise.reject(fail);
      const n = Math.min(left, limit ?? left);
      if (n > fitsInTime) return Promise.reject(new StorageTimeoutError(100));
      left -= n;
      return Promise.resolve(n);
    },
  };
}

function logs(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger('info', sink), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('audit retention', () => {
  test.each([
    // [old records, rows one statement deletes in time, runs needed at most]
    [2_500, 1_000, 'drained in batches of 1,000'],
    [2_500, 300, 'a batch that does not finish in time is tried again at half the size (1,000 → 500 → 250)'],
  ])('%i old records, %i rows per statement in time: %s', async (old, fitsInTime) => {
    const store = slowStore(old, fitsInTime);
    const { log, lines } = logs();
    let deleted = 0;
    const stop = startAuditRetention(store, 30, {
      log,
      now: () => NOW,
      everyMs: 20,
      onDeleted: (n) => (deleted += n),
    });
    try {
      await until(() => deleted === old);
    } finally {
      stop();
    }
    expect(deleted).toBe(old);
    expect(store.limits.every((l) => l !== undefined && l <= 1000)).toBe(true);
    expect(lines().filter((l) => l['msg'] === 'audit retention failed; will retry')).toEqual([]);
  });

  test('a backlog larger than one run allows is deleted over several runs, each stopping at its time limit', async () => {
    const store = slowStore(5_000, 1_000);
    const { log, lines } = logs();
    let deleted = 0;
    const stop = startAuditRetention(store, 30, {
      log,
      now: () => NOW,
      everyMs: 20,
      runMs: 0,
      onDeleted: (n) => (deleted += n),
    });
    try {
      await until(() => deleted === 5_000);
    } finally {
      stop();
    }
    expect(deleted).toBe(5_000);
    const runs = lines().filter((l) => typeof l['deleted'] === 'number');
    expect(runs.length).toBeGreaterThan(1);
    expect(runs[0]).toMatchObject({ deleted: 1000, more: true, msg: expect.stringMatching(/the rest next run/) });
  });

  test('a store that never answers in time: the failure is logged with its class and code and what was deleted before', async () => {
    const store = slowStore(
      10,
      0,
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
    );
    const { log, lines } = logs();
    const stop = startAuditRetention(store, 30, { log, now: () => NOW, everyMs: 20 });
    try {
      await until(() => lines().length >= 2);
    } finally {
      stop();
    }
    expect(lines()[0]).toMatchObject({
      level: 'warn',
      msg: 'audit retention failed; will retry',
      error: 'Error 57014',
      deleted: 0,
    });
    expect(JSON.stringify(lines())).not.toContain('canceling statement');
  });
});
