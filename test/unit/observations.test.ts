/**
 * Observations → lab values (docs/clinical-logic.md): ValueSet codes, statuses, amendments,
 * missing values, dates and units, reference ranges.
 */
import { describe, expect, test } from '@jest/globals';
import type { Observation } from 'fhir/r4.js';
import fc from 'fast-check';
import { latestVersions, normalizeObservations, supersedes } from '../../src/clinical/observations.js';
import { anc, dateOf, obs, testTerminology } from '../helpers/fhir.js';

/** The values of every analyte, analyte after analyte (each in input order), with the issues. */
const run = (observations: Observation[], tz = 'UTC') => {
  const { byAnalyte, issues, ignored } = normalizeObservations(observations, testTerminology(), tz);
  return { values: [...byAnalyte.values()].flat(), issues, ignored };
};

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

  test.each([
    ['text only', { valueString: '<0.1' }, 'no numeric value (reported as text "<0.1"); not used'],
    [
      'text and a reason',
      { valueString: ' < 0.1\n', dataAbsentReason: { text: 'below range' } },
      'no numeric value (reported as text "< 0.1"); not used',
    ],
    ['a reason only', { dataAbsentReason: { text: 'haemolysed' } }, 'no numeric value (haemolysed); not used'],
    [
      'a coded reason only',
      { dataAbsentReason: { coding: [{ code: 'error' }] } },
      'no numeric value (error); not used',
    ],
    ['blank text, no reason', { valueString: ' ' }, 'no numeric value; not used'],
    ['nothing', {}, 'no numeric value; not used'],
  ] satisfies [string, Partial<Observation>, string][])(
    'no number, %s: the message says what the record gave instead',
    (_what, extra, said) => {
      const result = run([{ ...obs('751-8', undefined, undefined, 2, { id: 'nv' }), ...extra }]);
      expect(result.values).toEqual([]);
      expect(result.issues.map((i) => [i.code, i.message])).toEqual([
        ['value-missing', `Neutrophils [#/volume] in Blood by Automated count on 2026-03-03: ${said}`],
      ]);
    },
  );

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

describe('values below zero and values reported with a comparator (docs/clinical-logic.md §3)', () => {
  const withComparator = (day: number, value: number, comparator: '<' | '<=' | '>' | '>='): Observation => {
    const o = anc(day, value, { id: `c-${day}` });
    return { ...o, valueQuantity: { ...o.valueQuantity, comparator } };
  };

  test.each<[string, Observation, number[], { code: string; severity: string; message: string } | undefined]>([
    [
      'ANC -1: no count is below zero → not used, value-implausible (§3)',
      anc(2, -1, { id: 'neg' }),
      [],
      {
        code: 'value-implausible',
        severity: 'warning',
        message: 'Neutrophils [#/volume] in Blood by Automated count on 2026-03-03: value -1 is below zero; not used',
      },
    ],
    ['ANC -0 is zero → used as 0 (§3)', anc(2, -0), [0], undefined],
    ['ANC 0 → used (§3)', anc(2, 0), [0], undefined],
    ['ANC "<0.1" → used as 0.1: the true value is at most that (§3)', withComparator(2, 0.1, '<'), [0.1], undefined],
    ['ANC "<=0.1" → used as 0.1 (§3)', withComparator(2, 0.1, '<='), [0.1], undefined],
    [
      'ANC ">0.1" → used as 0.1 and said: a lower bound (§3)',
      withComparator(2, 0.1, '>'),
      [0.1],
      {
        code: 'comparator',
        severity: 'information',
        message:
          'Neutrophils [#/volume] in Blood by Automated count on 2026-03-03 was reported as >0.1 10*9/L: used as 0.1, the true value may be higher',
      },
    ],
    [
      'ANC ">=0.1" → the same (§3)',
      withComparator(2, 0.1, '>='),
      [0.1],
      {
        code: 'comparator',
        severity: 'information',
        message:
          'Neutrophils [#/volume] in Blood by Automated count on 2026-03-03 was reported as >=0.1 10*9/L: used as 0.1, the true value may be higher',
      },
    ],
  ])('%s', (_rule, observation, used, issue) => {
    const result = run([observation]);
    expect(result.values.map((v) => v.value)).toEqual(used);
    expect(result.issues).toEqual(
      issue ? [{ ...issue, resource: `Observation/${observation.id ?? ''}`, analyte: 'anc', date: '2026-03-03' }] : [],
    );
  });

  test('Hb 1e308 g/dL is Infinity in g/L: not a number a card can show or a grade can test → not used, value-implausible', () => {
    const result = run([obs('718-7', 1e308, 'g/dL', 2, { id: 'inf' }), obs('718-7', 9.1, 'g/dL', 2, { id: 'ok' })]);
    expect(result.values.map((v) => [v.analyte, v.value])).toEqual([['hemoglobin', 91]]);
    expect(result.issues).toEqual([
      {
        code: 'value-implausible',
        severity: 'warning',
        message:
          'Hemoglobin [Mass/volume] in Blood on 2026-03-03: value 1e+308 g/dL is too large to be a result; not used',
        resource: 'Observation/inf',
        analyte: 'hemoglobin',
        date: '2026-03-03',
      },
    ]);
  });

  test('an issue about a result carries its analyte and date (a card citing an older value says so)', () => {
    const result = run([obs('777-3', 12, 'cells', 4, { id: 'u' }), obs('718-7', undefined, undefined, 5, { id: 'v' })]);
    expect(result.issues.map((i) => [i.code, i.analyte, i.date])).toEqual([
      ['unit-unreadable', 'platelets', '2026-03-05'],
      ['value-missing', 'hemoglobin', '2026-03-06'],
    ]);
  });
});

describe('one id given twice with nothing to tell which is current (docs/clinical-logic.md §3)', () => {
  test.each<[string, Observation[], number[], string[]]>([
    [
      'two differing ANCs, no versionId or lastUpdated, both final: the first is used, and said',
      [anc(2, 12, { id: 'dup' }), anc(2, 0.32, { id: 'dup' })],
      [12],
      ['version-ambiguous'],
    ],
    [
      'the same ANC twice (one resource read twice): used once, nothing to say',
      [anc(2, 0.32, { id: 'same' }), anc(2, 0.32, { id: 'same' })],
      [0.32],
      [],
    ],
    [
      'two versions told apart by versionId: the later is used, nothing to say',
      [
        { ...anc(2, 12, { id: 'v' }), meta: { versionId: '1' } },
        { ...anc(2, 0.32, { id: 'v' }), meta: { versionId: '2' } },
      ],
      [0.32],
      [],
    ],
  ])('%s', (_rule, observations, used, codes) => {
    const result = run(observations);
    expect(result.values.map((v) => v.value)).toEqual(used);
    expect(result.issues.map((i) => i.code)).toEqual(codes);
  });

  test('the issue names the record and says which was used', () => {
    const result = run([anc(2, 12, { id: 'dup' }), anc(2, 0.32, { id: 'dup' })]);
    expect(result.issues[0]).toEqual({
      severity: 'warning',
      code: 'version-ambiguous',
      message:
        'Observation/dup is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated, amended or corrected status); the first given was used',
      resource: 'Observation/dup',
    });
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

  test('a value read without a reference range has no LLN; as JSON it is a plain value', () => {
    const [value] = run([anc(1, 0.4, { id: 'a1' })]).values;
    expect(value?.lln).toBeUndefined();
    expect(JSON.parse(JSON.stringify(value))).toEqual({
      analyte: 'anc',
      value: 0.4,
      unit: '10*9/L',
      ms: Date.parse(`${dateOf(1)}T06:00:00Z`), // the helper draws at 06:00Z
      date: dateOf(1),
      id: 'a1',
    });
  });

  test('the lab day is the calendar date in the hospital time zone', () => {
    const late = { ...anc(1, 0.4), effectiveDateTime: `${dateOf(1)}T23:30:00Z` };
    expect(run([late]).values[0]?.date).toBe(dateOf(1));
    expect(run([late], 'Europe/Berlin').values[0]?.date).toBe(dateOf(2));
  });
});

describe('which version of one Observation wins (docs/clinical-logic.md §3: versionId, then lastUpdated, then amended/corrected over final)', () => {
  const v = (versionId?: string, lastUpdated?: string, status: Observation['status'] = 'final'): Observation => ({
    resourceType: 'Observation',
    id: 'x',
    status,
    code: { text: 'ANC' },
    meta: { ...(versionId ? { versionId } : {}), ...(lastUpdated ? { lastUpdated } : {}) },
  });
  const JAN = '2025-01-01T00:00:00Z';
  const FEB = '2025-02-01T00:00:00Z';
  test.each<[string, Observation, Observation, boolean]>([
    ['versionId 2 over 1', v('2'), v('1'), true],
    ['versionId 1 not over 2', v('1'), v('2'), false],
    ['versionId decides before lastUpdated', v('1', FEB), v('2', JAN), false],
    ['numeric versionId compared as numbers (10 over 9)', v('10'), v('9'), true],
    ['a versionId that is no number: lastUpdated decides', v('x', FEB), v('1', JAN), true],
    ['same versionId: the later lastUpdated', v('3', FEB), v('3', JAN), true],
    ['nothing to compare: amended over final', v(undefined, undefined, 'amended'), v(), true],
    ['nothing to compare: corrected over final', v(undefined, undefined, 'corrected'), v(), true],
    ['final does not replace amended', v(), v(undefined, undefined, 'amended'), false],
    ['identical versions: the first seen stays', v('1', JAN), v('1', JAN), false],
    // lastUpdated is an instant: compared as a time, not as text (a helper's probe).
    [
      '12:00-05:00 (17:00Z) is after 16:30Z',
      v(undefined, '2025-01-01T12:00:00-05:00'),
      v(undefined, '2025-01-01T16:30:00Z'),
      true,
    ],
    [
      '16:30Z is not after 12:00-05:00 (17:00Z)',
      v(undefined, '2025-01-01T16:30:00Z'),
      v(undefined, '2025-01-01T12:00:00-05:00'),
      false,
    ],
    [
      '10:00:00.250Z is after 10:00:00Z',
      v(undefined, '2025-01-01T10:00:00.250Z'),
      v(undefined, '2025-01-01T10:00:00Z'),
      true,
    ],
    [
      '10:00:00Z and 10:00:00.000Z are one time: amended over final decides',
      v(undefined, '2025-01-01T10:00:00Z', 'amended'),
      v(undefined, '2025-01-01T10:00:00.000Z'),
      true,
    ],
    [
      '10:00:00.000Z and 10:00:00Z: final does not replace amended',
      v(undefined, '2025-01-01T10:00:00.000Z'),
      v(undefined, '2025-01-01T10:00:00Z', 'amended'),
      false,
    ],
  ])('%s', (_name, a, b, expected) => {
    expect(supersedes(a, b)).toBe(expected);
  });
});

describe('one version per id, whatever the ids (property; docs/clinical-logic.md §3)', () => {
  // The reference keeps one version per id with a plain Map: ids in order of first appearance, then
  // the Observations without an id. Which version wins is `supersedes` (its rule has its own table
  // above); what is checked here is that the filter finds every repeated id and only those.
  function reference(list: Observation[]): Observation[] {
    const wins = supersedes;
    const ids: string[] = [];
    const chosen = new Map<string, Observation>();
    for (const o of list) {
      if (!o.id) continue;
      const known = chosen.get(o.id);
      if (!known) ids.push(o.id);
      if (!known || wins(o, known)) chosen.set(o.id, o);
    }
    if (ids.length === list.filter((o) => o.id).length) return list;
    return [...ids.map((id) => chosen.get(id) as Observation), ...list.filter((o) => !o.id)];
  }
  const observation = (ids: fc.Arbitrary<string>) =>
    fc.record({
      id: fc.option(ids, { nil: undefined, freq: 10 }),
      status: fc.constantFrom('final', 'amended', 'corrected'),
      versionId: fc.option(fc.constantFrom('1', '2', '3', 'x'), { nil: undefined }),
      lastUpdated: fc.option(fc.constantFrom('2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z'), { nil: undefined }),
    });
  const toFhir = (o: { id?: string; status: string; versionId?: string; lastUpdated?: string }): Observation => ({
    resourceType: 'Observation',
    ...(o.id === undefined ? {} : { id: o.id }),
    status: o.status as Observation['status'],
    code: { text: 'ANC' },
    meta: {
      ...(o.versionId === undefined ? {} : { versionId: o.versionId }),
      ...(o.lastUpdated === undefined ? {} : { lastUpdated: o.lastUpdated }),
    },
  });
  test.each([
    ['few ids (many repeats)', fc.constantFrom('a', 'b', 'c', 'd')],
    ['many ids (rare repeats)', fc.integer({ min: 0, max: 5000 }).map((n) => `obs-${n}`)],
    ['any text', fc.string({ maxLength: 6 })],
  ])('%s: the same versions, in the same order, as the plain rule', (_name, ids) => {
    fc.assert(
      fc.property(fc.array(observation(ids), { maxLength: 400 }), (raw) => {
        const list = raw.map(toFhir);
        const got = latestVersions(list);
        const expected = reference(list);
        expect(got).toHaveLength(expected.length);
        got.forEach((o, i) => expect(o).toBe(expected[i]));
      }),
      { numRuns: 300 },
    );
  });

  test('normalizeObservations finds one repeat among 10,000 ids while reading: the later version is read, and issues are not doubled', () => {
    // 10,000 ANC results, one of them (o4711: 0.9) corrected to 0.2 at the end of the list, and an
    // unreadable unit given twice, identically: one value per id, one issue for the twice-given result.
    const list = Array.from({ length: 10_000 }, (_, i) => anc(1 + (i % 30), 0.9, { id: `o${i}` }));
    const odd = obs('751-8', 0.5, 'furlongs', 3, { id: 'odd' });
    const corrected: Observation = { ...anc(1 + (4711 % 30), 0.2, { id: 'o4711' }), status: 'corrected' };
    const result = run([...list, odd, odd, corrected]);
    expect(result.values).toHaveLength(10_000);
    expect(result.values.filter((v) => v.value === 0.2).map((v) => v.reference)).toEqual(['Observation/o4711']);
    expect(result.issues.map((i) => [i.code, i.resource])).toEqual([['unit-unreadable', 'Observation/odd']]);
  });

  test('10,000 distinct ids: the input itself comes back (no copy); one repeat among them is found', () => {
    const list = Array.from({ length: 10_000 }, (_, i) => toFhir({ id: `o${i}`, status: 'final' }));
    expect(latestVersions(list)).toBe(list);
    const repeated = [...list, toFhir({ id: 'o4711', status: 'amended', versionId: '2' })];
    const got = latestVersions(repeated);
    expect(got).toHaveLength(10_000);
    expect(got[4711]?.status).toBe('amended');
  });
});
