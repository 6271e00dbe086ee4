/**
 * Unit normalisation (docs/clinical-logic.md): UCUM plus the common non-UCUM lab strings;
 * unreadable units are reported with their reason, never guessed.
 */
import { describe, expect, test } from '@jest/globals';
import {
  cachedUnitCount,
  isPercentUnit,
  MAX_CACHED_UNITS,
  MAX_UNIT_LENGTH,
  toCanonical,
  unitConverter,
  type Dimension,
} from '../../src/clinical/units.js';

describe('toCanonical: counts in 10^9/L, Hb in g/L, Ig in mg/dL, CRP mg/dL, ferritin ng/mL (docs/clinical-logic.md §3)', () => {
  test.each<[Dimension, string, number, number, string]>([
    ['count', '10*9/L', 1.2, 1.2, 'UCUM canonical'],
    ['count', '10*3/uL', 1.2, 1.2, 'UCUM 10^3/µL = 10^9/L'],
    ['count', 'K/uL', 0.4, 0.4, 'non-UCUM K/uL (in UCUM, K is kelvin)'],
    ['count', 'K/µL', 0.4, 0.4, 'micro sign'],
    ['count', 'x10E3/uL', 0.4, 0.4, 'spec list'],
    ['count', '10^3/uL', 0.4, 0.4, 'spec list'],
    ['count', 'thou/mm3', 150, 150, 'spec list'],
    ['count', 'cells/uL', 400, 0.4, 'spec list: cells per microlitre'],
    ['count', '/uL', 1500, 1.5, 'UCUM per microlitre'],
    ['count', '{cells}/uL', 90, 0.09, 'UCUM with annotation'],
    ['count', 'G/L', 3.1, 3.1, 'French giga/L (in UCUM, G is gauss)'],
    ['count', '10^9/L', 7, 7, 'caret notation'],
    ['count', 'K/mcL', 0.4, 0.4, 'mcL: the microlitre ISMP recommends writing (a helper’s probe)'],
    ['count', '10*3/mcL', 0.4, 0.4, 'mcL'],
    ['count', 'x10^3/mcL', 0.4, 0.4, 'mcL'],
    ['count', 'cells/mcL', 300, 0.3, 'mcL: 300 cells per microlitre is 0.3 ×10⁹/L'],
    ['count', '/mcL', 300, 0.3, 'mcL'],
    ['count', 'x10(9)/L', 0.3, 0.3, 'exponent in brackets'],
    ['count', 'x10(3)/uL', 0.3, 0.3, 'exponent in brackets'],
    ['count', '/cmm', 300, 0.3, 'cmm, cubic millimetre = µL'],
    ['count', 'cells/cmm', 300, 0.3, 'cmm'],
    ['count', 'K/cmm', 0.3, 0.3, 'cmm'],
    ['hemoglobin', 'g/dL', 8.5, 85, 'UCUM'],
    ['hemoglobin', 'g/dl', 8.5, 85, 'spec list'],
    ['hemoglobin', 'G/DL', 8.5, 85, 'upper-case lab system'],
    ['hemoglobin', 'g/L', 85, 85, 'canonical'],
    ['hemoglobin', 'mmol/L', 5.0, 80.57, 'Dutch practice: 16.114 g/L per mmol/L'],
    ['immunoglobulin', 'g/L', 4.5, 450, 'SI'],
    ['immunoglobulin', 'mg/dL', 450, 450, 'canonical'],
    ['immunoglobulin', 'mg/L', 4500, 450, 'UCUM'],
    ['crp', 'mg/L', 30, 3, 'SI'],
    ['ferritin', 'ug/L', 700, 700, 'µg/L = ng/mL'],
    ['ferritin', 'mcg/L', 700, 700, 'alias'],
    ['temperature', '[degF]', 100.4, 38, 'Fahrenheit'],
    ['temperature', '°C', 38.5, 38.5, 'alias'],
    ['percent', '%', 0.5, 0.5, 'percentage'],
    ['ratio', '{ratio}', 0.8, 0.8, 'ratio'],
  ])('%s in "%s": %d → %d (%s)', (dimension, unit, value, expected) => {
    const result = toCanonical(dimension, unit, value);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value).toBeCloseTo(expected, 6);
  });

  test.each<[Dimension, string | undefined, string]>([
    ['count', 'K/ul2', 'unit "K/ul2" cannot be read as a count per volume'],
    ['count', 'g/L', 'unit "g/L" cannot be read as a count per volume'],
    ['count', 'mcg/L', 'unit "mcg/L" cannot be read as a count per volume'], // a mass, not a count: mc is not read as µ here
    ['count', 'GI/L', 'unit "GI/L" cannot be read as a count per volume'], // Gi is UCUM's gibi (2^30): not guessed as giga
    ['count', 'mg/dL', 'cannot be read as a count per volume'],
    ['count', undefined, 'the value has no unit'],
    ['count', '', 'the value has no unit'],
    ['hemoglobin', '10*9/L', 'cannot be read as a hemoglobin concentration'],
    ['hemoglobin', 'IU', 'cannot be read'],
    ['immunoglobulin', 'IU/mL', 'cannot be read as an immunoglobulin concentration'],
    ['percent', 'fraction', 'cannot be read as a percentage'],
    // Words that name Object.prototype members are units like any other (found by the fuzzer).
    ['count', '__proto__', 'unit "__proto__" cannot be read as a count per volume'],
    ['crp', 'constructor', 'unit "constructor" cannot be read'],
    ['immunoglobulin', 'toString', 'unit "toString" cannot be read'],
    ['percent', 'hasOwnProperty', 'unit "hasOwnProperty" cannot be read as a percentage'],
    ['temperature', 'valueOf', 'unit "valueOf" cannot be read'],
  ])('%s in %s is reported, not guessed: %s', (dimension, unit, reason) => {
    const result = toCanonical(dimension, unit, 1);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  test('a ratio may come without a unit', () => {
    expect(toCanonical('ratio', undefined, 0.7)).toEqual({ ok: true, value: 0.7, unit: '1' });
  });

  test('percent detection', () => {
    expect(isPercentUnit('%')).toBe(true);
    expect(isPercentUnit(' % ')).toBe(true);
    expect(isPercentUnit('/uL')).toBe(false);
    expect(isPercentUnit(undefined)).toBe(false);
  });

  test('units are input: 5,000 distinct unit texts leave the caches bounded, and known units still convert', () => {
    for (let i = 0; i < 5000; i++) {
      toCanonical('count', `${i}/nL-hostile`, 1);
      isPercentUnit(`%${i}`);
    }
    // One cache per dimension used here (count) plus the percent cache, each at most MAX_CACHED_UNITS.
    expect(cachedUnitCount()).toBeLessThanOrEqual(2 * MAX_CACHED_UNITS);
    expect(toCanonical('count', '10*3/uL', 1.5)).toEqual({ ok: true, value: 1.5, unit: '10*9/L' });
    expect(toCanonical('count', '/uL', 320)).toEqual({ ok: true, value: 0.32, unit: '10*9/L' });
    expect(isPercentUnit('%')).toBe(true);
    expect(isPercentUnit('%7')).toBe(false);
  });
});

describe('unit texts ucum-lhc cannot parse', () => {
  test.each([
    ['unbalanced brackets', '(10*9/L'],
    ["one of ucum-lhc's own TypeErrors", 'u-^%()!A'],
    ['another', '{L0%##}0'],
    ['HTML', '<img src=x onerror=alert(1)>'],
  ])('%s: unreadable, and nothing written to the console (ucum-lhc logs the text it was given)', (_what, unit) => {
    const written: unknown[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => written.push(args);
    try {
      expect(unitConverter('count', unit)).toEqual(expect.stringContaining('cannot be read'));
    } finally {
      console.log = log;
    }
    expect(written).toEqual([]);
  });

  test(`a unit text longer than ${MAX_UNIT_LENGTH} characters is unreadable and not kept in the cache`, () => {
    const before = cachedUnitCount();
    const long = `10*9/L${'{x}'.repeat(40_000)}`;
    expect(unitConverter('count', long)).toEqual(expect.stringContaining('cannot be read'));
    expect(isPercentUnit(long)).toBe(false);
    expect(cachedUnitCount()).toBe(before);
  });
});
