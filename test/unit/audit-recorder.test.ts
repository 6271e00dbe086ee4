/**
 * The audit writer behind the response (bounded queue, batches, retries until a database away is back,
 * counted losses) and the
 * FHIR AuditEvent form of a record.
 */
import { describe, expect, test } from '@jest/globals';
import type { AuditRecord, AuditStore, StoredAuditRecord } from '../../src/audit/audit.js';
import { toAuditEvent } from '../../src/audit/audit-event.js';
import { AuditRecorder } from '../../src/audit/recorder.js';

const record = (n: number): AuditRecord => ({
  recordedAt: new Date('2026-11-22T10:00:00Z'),
  action: 'cds-call',
  patientId: `p${n}`,
  cardUuids: [],
  status: 200,
});

/** A store whose first `failures` appends fail, with `code` (none: a database away, which may pass). */
function fakeStore(failures = 0, code?: string): AuditStore & { batches: AuditRecord[][] } {
  let failing = failures;
  const batches: AuditRecord[][] = [];
  return {
    batches,
    append: (records) => {
      if (failing-- > 0) return Promise.reject(Object.assign(new Error('down'), code ? { code } : {}));
      batches.push([...records]);
      return Promise.resolve();
    },
    read: () => Promise.resolve([]),
    prune: () => Promise.resolve(0),
  };
}

describe('AuditRecorder', () => {
  test('record() returns at once; records are written in batches on a later turn', async () => {
    const store = fakeStore();
    const recorder = new AuditRecorder(store, { maxPerWrite: 2 });
    for (let i = 0; i < 5; i++) recorder.record(record(i));
    expect(store.batches).toEqual([]);
    expect(await recorder.flush()).toBe(true);
    expect(store.batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(recorder).toMatchObject({ written: 5, dropped: 0, failed: 0 });
  });

  test('a database away or frozen: the write is tried until it is written, nothing is lost', async () => {
    const store = fakeStore(3);
    const recorder = new AuditRecorder(store, { maxPerWrite: 10 });
    for (let i = 0; i < 4; i++) recorder.record(record(i));
    expect(await recorder.flush(10_000)).toBe(true);
    expect(recorder).toMatchObject({ written: 4, dropped: 0, failed: 0 });
    expect(store.batches.map((b) => b.length)).toEqual([4]);
  });

  test('a full queue drops and counts; a write the database refuses (check violation) is retried once, then counted as failed', async () => {
    const store = fakeStore(3, '23514');
    const recorder = new AuditRecorder(store, { maxQueued: 2, maxPerWrite: 10 });
    for (let i = 0; i < 4; i++) recorder.record(record(i));
    expect(recorder.dropped).toBe(2);
    await recorder.flush();
    expect(recorder.failed).toBe(2);
    recorder.record(record(9));
    await recorder.flush();
    expect(recorder).toMatchObject({ written: 1, failed: 2 });
  });

  test('hostile values are cut to 256 characters and 50 card uuids; after close() records are dropped', async () => {
    const store = fakeStore();
    const recorder = new AuditRecorder(store);
    recorder.record({ ...record(0), patientId: 'x'.repeat(10_000), cardUuids: Array(500).fill('u') });
    await recorder.close();
    recorder.record(record(1));
    expect(store.batches[0]?.[0]?.patientId).toHaveLength(256);
    expect(store.batches[0]?.[0]?.cardUuids).toHaveLength(50);
    expect(recorder.dropped).toBe(1);
  });
});

describe('toAuditEvent', () => {
  const stored: StoredAuditRecord = {
    id: '7',
    recordedAt: new Date('2026-11-22T10:00:00Z'),
    action: 'cds-call',
    userId: 'Practitioner/123',
    patientId: 'abc',
    serviceId: 'cart-hematotox-patient-view',
    hook: 'patient-view',
    hookInstance: 'hi-1',
    cardUuids: ['c1', 'c2'],
    status: 503,
    clientAddress: '10.0.0.7',
  };

  test('an unauthenticated call names no client identity, and a 5xx is a serious failure', () => {
    expect(toAuditEvent(stored, 'cds')).toMatchObject({
      resourceType: 'AuditEvent',
      id: '7',
      recorded: '2026-11-22T10:00:00.000Z',
      outcome: '8',
      agent: [
        { who: { reference: 'Practitioner/123' }, requestor: true },
        {
          who: { display: expect.stringContaining('unauthenticated') as unknown },
          network: { address: '10.0.0.7', type: '2' },
        },
      ],
      entity: [
        { what: { reference: 'Patient/abc' } },
        {
          what: { identifier: { value: 'hi-1' } },
          detail: expect.arrayContaining([{ type: 'cardUuids', valueString: 'c1 c2' }]) as unknown,
        },
      ],
    });
  });

  test('a userId that is not a reference becomes an identifier', () => {
    expect(toAuditEvent({ ...stored, userId: 'dr smith', status: 200 }, 'cds')).toMatchObject({
      outcome: '0',
      agent: [{ who: { identifier: { value: 'dr smith' } } }, {}],
    });
  });
});
