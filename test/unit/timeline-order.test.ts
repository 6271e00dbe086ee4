/**
 * upToInTimeOrder puts each analyte's values in time order (the engine reads "latest" and "before
 * lymphodepletion" from that order): the same order as a stable sort by instant, for any input.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { sortByTime, upToInTimeOrder } from '../../src/clinical/timeline.js';
import type { Analyte, LabValue } from '../../src/clinical/types.js';

const value = fc.record({
  analyte: fc.constantFrom('anc' as const, 'platelets' as const),
  ms: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 40 * 86_400_000 }),
  id: fc.nat(),
});

function labValue(ms: number, i: number): LabValue {
  return {
    analyte: 'anc',
    value: 1,
    unit: '10*9/L',
    comparator: undefined,
    ms,
    date: new Date(ms).toISOString().slice(0, 10),
    lln: undefined,
    reference: `Observation/${i}`,
  };
}

describe('sortByTime', () => {
  // Lists of 128 values and more are radix-sorted by instant, shorter ones by the general sort;
  // either way the result is the stable sort. Runs in time order (one search after another, draws
  // appended per round), instants from a narrow range, so ties are common.
  const run = fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 40 }).map((r) => r.sort((a, b) => a - b));
  const stable = (list: LabValue[]): string[] => [...list].sort((a, b) => a.ms - b.ms).map((v) => v.reference);

  test('runs in time order come out as a stable sort by instant (ties keep input order)', () => {
    fc.assert(
      fc.property(fc.array(run, { maxLength: 80 }), (runs) => {
        const list = runs.flat().map((minute, i) => labValue(1_700_000_000_000 + minute * 60_000, i));
        const expected = stable(list);
        sortByTime(list);
        expect(list.map((v) => v.reference)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  test('any instants, in any order, from year 1000 to 9999 and across 1970, come out as a stable sort', () => {
    // Ties drawn from a few instants, and instants anywhere in the range (every byte of the offsets).
    const few = fc.constantFrom(-30_610_224_000_000, -1, 0, 1, 255, 256, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7);
    const any = fc.integer({ min: -30_610_224_000_000, max: 253_402_300_799_000 });
    fc.assert(
      fc.property(fc.array(fc.oneof(few, any), { minLength: 120, maxLength: 600 }), (instants) => {
        const list = instants.map((ms, i) => labValue(ms, i));
        const expected = stable(list);
        sortByTime(list);
        expect(list.map((v) => v.reference)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  test('an instant that is not whole milliseconds sends the list to the general sort, still stable', () => {
    const list = Array.from({ length: 200 }, (_, i) => labValue(((i * 7919) % 200) + (i === 5 ? 0.5 : 0), i));
    const expected = stable(list);
    sortByTime(list);
    expect(list.map((v) => v.reference)).toEqual(expected);
  });

  test('worked case: three runs of 16 with equal instants across them', () => {
    // Minutes 0, 2, …, 30 three times, the second run shifted by one minute: 48 values, 3 runs.
    const minutes = [0, 1, 0].flatMap((shift) => Array.from({ length: 16 }, (_, j) => 2 * j + shift));
    const list = minutes.map((minute, i) => labValue(minute * 60_000, i));
    sortByTime(list);
    // Minute 0: inputs 0 (run 1) then 32 (run 3); minute 1: input 16 (run 2); minute 2: 1 then 33; …
    const expected = Array.from({ length: 16 }, (_, j) => [j, 32 + j, 16 + j]).flat();
    expect(list.map((v) => v.reference)).toEqual(expected.map((i) => `Observation/${i}`));
  });

  test('worked case, radix-sorted: three runs of 64 (192 values) with equal instants across them', () => {
    // Days 0, 2, …, 126 at 08:00 three times, the second run shifted by one day.
    const days = [0, 1, 0].flatMap((shift) => Array.from({ length: 64 }, (_, j) => 2 * j + shift));
    const list = days.map((day, i) => labValue(Date.UTC(2026, 0, 1 + day, 8), i));
    sortByTime(list);
    const expected = Array.from({ length: 64 }, (_, j) => [j, 128 + j, 64 + j]).flat();
    expect(list.map((v) => v.reference)).toEqual(expected.map((i) => `Observation/${i}`));
  });
});

/** The values grouped by analyte in input order, as normalizeObservations hands them over. */
function byAnalyte(values: readonly LabValue[]): Map<Analyte, LabValue[]> {
  const groups = new Map<Analyte, LabValue[]>();
  for (const v of values) groups.set(v.analyte, [...(groups.get(v.analyte) ?? []), v]);
  return groups;
}

describe('upToInTimeOrder', () => {
  test('orders every analyte like a stable sort by instant (ties keep input order)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), (raw) => {
        const values = raw.map((r, i): LabValue => ({
          analyte: r.analyte,
          value: 1,
          unit: '10*9/L',
          comparator: undefined,
          ms: r.ms,
          date: new Date(r.ms).toISOString().slice(0, 10),
          lln: undefined,
          reference: `Observation/${i}`,
        }));
        const groups = upToInTimeOrder(byAnalyte(values), '2100-01-01');
        for (const analyte of ['anc', 'platelets'] as const) {
          const expected = values.filter((v) => v.analyte === analyte).sort((a, b) => a.ms - b.ms);
          expect((groups.get(analyte) ?? []).map((v) => v.reference)).toEqual(expected.map((v) => v.reference));
        }
      }),
      { numRuns: 300 },
    );
  });

  test('values after the assessment date are left out, and an analyte left with none is dropped', () => {
    const day = (date: string, analyte: Analyte, i: number): LabValue => ({
      ...labValue(Date.parse(`${date}T08:00:00Z`), i),
      analyte,
    });
    const groups = upToInTimeOrder(
      byAnalyte([
        day('2026-11-23', 'anc', 0),
        day('2026-11-21', 'anc', 1),
        day('2026-11-22', 'anc', 2),
        day('2026-11-24', 'platelets', 3),
      ]),
      '2026-11-22',
    );
    expect([...groups.keys()]).toEqual(['anc']);
    expect(groups.get('anc')?.map((v) => v.reference)).toEqual(['Observation/1', 'Observation/2']);
  });
});
