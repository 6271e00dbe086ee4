/**
 * groupByAnalyte puts each analyte's values in time order (the engine reads "latest" and "before
 * lymphodepletion" from that order): the same order as a stable sort by instant, for any input.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { groupByAnalyte } from '../../src/clinical/timeline.js';
import type { LabValue } from '../../src/clinical/types.js';

const value = fc.record({
  analyte: fc.constantFrom('anc' as const, 'platelets' as const),
  ms: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 40 * 86_400_000 }),
  id: fc.nat(),
});

describe('groupByAnalyte', () => {
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
        const groups = groupByAnalyte(values, '2100-01-01');
        for (const analyte of ['anc', 'platelets'] as const) {
          const expected = values.filter((v) => v.analyte === analyte).sort((a, b) => a.ms - b.ms);
          expect((groups.get(analyte) ?? []).map((v) => v.reference)).toEqual(expected.map((v) => v.reference));
        }
      }),
      { numRuns: 300 },
    );
  });
});
