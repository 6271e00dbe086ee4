/**
 * Observations → lab values (docs/clinical-logic.md): ValueSet codes, statuses, amendments,
 * missing values, dates and units, reference ranges.
 */
import { describe, expect, test } from '@jest/globals';
import type { Observation } from 'fhir/r4.js';
import { normalizeObservations } from '../../src/clinical/observations.js';
import { anc, dateOf, obs, testTerminology } from '../helpers/fhir.js';

const run = (observations: Observation[], tz = 'UTC') => normalizeObservations(observations, testTerminology(), tz);

describe('status (docs/clinical-logic.md §3: ignore entered-in-error, cancelled, preliminary; amended/corrected replace)', () => {
  test.each([
    ['final', 1],
    ['amended', 1],
    ['corrected', 1],
    ['entered-in-error', 0],
    ['cancelled', 0],
    ['preliminary', 0],
    ['registered', 0],
  ] as const)('status %s → %d value(s) used', (status, used) => {
    const result = run([anc(1, 0.4, { status })]);
    expect(result.values).toHaveLength(used);
    if (used === 0) expect(result.ignored[status]).toBe(1);
  });

  test('ignored statuses are counted, not reported one by one; unexpected ones are reported', () => {
    const result = run([
      anc(1, 0.4, { status: 'preliminary' }),
      anc(2, 0.4, { status: 'cancelled' }),
      anc(3, 0.4, { status: 'registered' }),
    ]);
    expect(result.ignored).toEqual({ preliminary: 1, cancelled: 1, registered: 1 });
    expect(result.issues).toEqual([
      expect.objectContaining({ code: 'status-ignored', resource: expect.stringContaining('Observation/') }),
    ]);
  });

  test('an amended version replaces the original with the same id', () => {
    const original = anc(1, 0.4, { id: 'x' });
    const amended: Observation = { ...anc(1, 0.9, { id: 'x', status: 'amended' }), meta: { versionId: '2' } };
    const result = run([{ ...original, meta: { versionId: '1' } }, amended]);
    expect(result.values.map((v) => v.value)).toEqual([0.9]);
  });

  test('a corrected version replaces the final one even without version ids', () => {
    const result = run([anc(1, 0.4, { id: 'y' }), anc(1, 0.6, { id: 'y', status: 'corrected' })]);
    expect(result.values.map((v) => v.value)).toEqual([0.6]);
  });
});

describe('values that cannot be used are listed, never guessed, never fatal', () => {
  test('no value → value-missing', () => {
    const result = run([obs('751-8', undefined, undefined, 2, { id: 'nv' })]);
    expect(result.values).toEqual([]);
    expect(result.issues).toEqual([
      expect.objectContaining({ code: 'value-missing', resource: 'Observation/nv', severity: 'warning' }),
    ]);
  });

  test('no date → date-missing; a month-only date is not a lab day', () => {
    const noDate = { ...anc(1, 0.4, { id: 'nd' }) };
    delete noDate.effectiveDateTime;
    const monthOnly = { ...anc(1, 0.4, { id: 'mo' }), effectiveDateTime: '2026-03' };
    const result = run([noDate, monthOnly]);
    expect(result.values).toEqual([]);
    expect(result.issues.map((i) => [i.code, i.resource])).toEqual([
      ['date-missing', 'Observation/nd'],
      ['date-missing', 'Observation/mo'],
    ]);
  });

  test('an unreadable unit names the unit and keeps going', () => {
    const result = run([obs('751-8', 1.2, 'K/ul2', 1, { id: 'bad', unitText: 'yes' }), anc(2, 0.3)]);
    expect(result.values.map((v) => v.value)).toEqual([0.3]);
    expect(result.issues[0]).toMatchObject({ code: 'unit-unreadable', resource: 'Observation/bad' });
    expect(result.issues[0]?.message).toContain('"K/ul2"');
  });

  test('a unit given only as text (no UCUM code) is read', () => {
    const result = run([obs('751-8', 0.9, 'K/uL', 1, { unitText: 'yes' })]);
    expect(result.values[0]).toMatchObject({ analyte: 'anc', value: 0.9, unit: '10*9/L' });
  });

  test('codes outside the ValueSets are ignored silently (other labs in a prefetch)', () => {
    expect(run([obs('2345-7', 5.5, 'mmol/L', 1)])).toEqual({ values: [], issues: [], ignored: {} });
  });
});

describe('reading', () => {
  test('manual and method-less ANC codes are the same analyte (docs/clinical-logic.md §1)', () => {
    const result = run([obs('753-4', 0.4, '10*9/L', 1), obs('26499-4', 0.5, '10*9/L', 2)]);
    expect(result.values.map((v) => v.analyte)).toEqual(['anc', 'anc']);
  });

  test('CD19 is a percentage or a count, told apart by the unit, not the code', () => {
    const result = run([
      obs('8116-6', 0.5, '%', 1),
      obs('8116-6', 150, '/uL', 1),
      obs('8117-4', 80, 'cells/uL', 2, { unitText: 'yes' }),
    ]);
    expect(result.values.map((v) => [v.analyte, v.value])).toEqual([
      ['cd19Percent', 0.5],
      ['cd19Absolute', 0.15],
      ['cd19Absolute', 0.08],
    ]);
  });

  test('referenceRange.low becomes the LLN in the canonical unit', () => {
    const result = run([obs('718-7', 10.5, 'g/dL', 1, { low: 12.0 })]);
    expect(result.values[0]).toMatchObject({ value: 105, lln: 120 });
  });

  test('the lab day is the calendar date in the hospital time zone', () => {
    const late = { ...anc(1, 0.4), effectiveDateTime: `${dateOf(1)}T23:30:00Z` };
    expect(run([late]).values[0]?.date).toBe(dateOf(1));
    expect(run([late], 'Europe/Berlin').values[0]?.date).toBe(dateOf(2));
  });
});
