/**
 * EHA/EBMT ICAHT (Rejeski et al., Blood 2023;142:865, Table 1), T-ICAHT (Blood 2025) and the
 * neutrophil recovery phenotype; day counting with the docs/clinical-logic.md gap rule.
 */
import { describe, expect, test } from '@jest/globals';
import { belowWithBridging, classifyDays, countDaysBelow } from '../../src/clinical/day-counting.js';
import { earlyIcahtGrade, earlyTIcahtGrade, lateIcahtGrade } from '../../src/clinical/icaht.js';
import { DEFAULT_THRESHOLDS as T } from '../../src/clinical/thresholds.js';
import type { LabDay } from '../../src/clinical/types.js';
import { anc, assessOn, infusion, plateletTransfusion, plt, series } from '../helpers/fhir.js';

const EHA = 'EHA/EBMT 2023 Table 1';
const TICAHT = 'T-ICAHT, Blood 2025';
const days = (values: (number | null)[], from = 0): LabDay[] =>
  values.flatMap((v, i) =>
    v === null ? [] : [{ day: from + i, date: '', ms: 0, value: v, reference: `Observation/${from + i}` }],
  );

describe('early ICAHT grade from cumulative days (days 0-30)', () => {
  test.each([
    [0, 0, 0, EHA],
    [1, 0, 1, EHA],
    [6, 0, 1, EHA],
    [7, 0, 2, EHA],
    [13, 0, 2, EHA],
    [14, 0, 3, EHA],
    [30, 0, 3, EHA],
    [31, 0, 4, `${EHA}: never above 0.5 in days 0-30`],
    [6, 6, 1, `${EHA}: ANC ≤ 0.1 for 6 days does not raise the grade`],
    [7, 7, 3, `${EHA}: ANC ≤ 0.1 ≥ 7 days → grade 3`],
    [13, 13, 3, EHA],
    [14, 14, 4, `${EHA}: ANC ≤ 0.1 ≥ 14 days → grade 4`],
  ])('ANC ≤ 0.5 for %d days, ≤ 0.1 for %d days → grade %d (%s)', (d500, d100, grade) => {
    expect(earlyIcahtGrade(d500, d100, T.icaht.early.lastDay)).toBe(grade);
  });
});

describe('late ICAHT grade of a non-transient ANC after day +30', () => {
  test.each([
    [1.6, 0],
    [1.5, 1],
    [1.01, 1],
    [1.0, 2],
    [0.51, 2],
    [0.5, 3],
    [0.11, 3],
    [0.1, 4],
  ])('ANC %d → grade %d (EHA/EBMT 2023: ≤1.5, ≤1.0, ≤0.5, ≤0.1)', (value, grade) => {
    expect(lateIcahtGrade(value, T.icaht.late)).toBe(grade);
  });
});

describe('early T-ICAHT grade (days 0-30)', () => {
  test.each([
    [0, 0, 0],
    [1, 0, 1],
    [6, 0, 1],
    [7, 0, 2],
    [7, 1, 3],
    [13, 13, 3],
    [14, 14, 4],
  ])('PLT < 50 for %d days, < 20 for %d days → grade %d (' + TICAHT + ')', (d50, d20, grade) => {
    expect(earlyTIcahtGrade(d50, d20)).toBe(grade);
  });
});

describe('day counting (docs/clinical-logic.md §2)', () => {
  const below = (v: number): boolean => v <= 0.5;
  test.each<[string, (number | null)[], string]>([
    ['gap of 3 between two values below counts as below', [0.2, null, null, null, 0.3], 'bbbbb'],
    ['gap of 4 between two values below is unknown', [0.2, null, null, null, null, 0.3], 'buuuub'],
    ['gap between a value below and one above is unknown', [0.2, null, 0.9], 'bua'],
    ['no measurement after the last value is unknown', [0.2, null], 'bu'],
  ])('%s', (_name, values, expected) => {
    const states = classifyDays(days(values), 0, values.length - 1, below, T.maxGapDays);
    expect(states.map((s) => s[0]).join('')).toBe(expected);
  });

  test('non-stable recovery (< 3 days above between two runs below) counts toward the total (EHA/EBMT 2023)', () => {
    const states = classifyDays(days([0.2, 0.8, 0.9, 0.3, 0.7, 0.8, 0.9, 0.2]), 0, 7, below, 3);
    expect(belowWithBridging(states, 3, 'above').map(Number).join('')).toBe('11110001');
  });

  test('unknown days give a lower and an upper bound', () => {
    const count = countDaysBelow(days([0.2, null, null, null, null, 0.3, 0.9]), 0, 6, below, {
      maxGap: 3,
      stableDays: 3,
    });
    expect(count).toMatchObject({ lower: 2, upper: 6, gaps: [{ fromDay: 1, toDay: 4 }] });
  });
});

describe('ICAHT on patient series', () => {
  test('ANC ≤ 0.5 from day 2 to 9 → 8 days → grade 2 (' + EHA + ')', () => {
    const a = assessOn(30, [
      infusion(0),
      ...series(anc, 0, [1.2, 0.8, 0.4, 0.3, 0.2, 0.2, 0.3, 0.4, 0.5, 0.5, 0.9, 1.2, 1.5, ...Array(18).fill(2.0)]),
    ]);
    expect(a.icaht.early).toMatchObject({ grade: 2, daysAnc500: 8, daysAnc100: 0, complete: true, atLeast: false });
  });

  test('a 2-day recovery between two dips is counted (non-stable recovery)', () => {
    const values = [
      1.5,
      0.4,
      0.3,
      0.3,
      0.2,
      0.4,
      0.9,
      0.8,
      0.3,
      0.2,
      0.3,
      0.4,
      0.3,
      0.2,
      0.9,
      1.1,
      1.4,
      ...Array(14).fill(2),
    ];
    const a = assessOn(30, [infusion(0), ...series(anc, 0, values)]);
    expect(a.icaht.early.daysAnc500).toBe(13); // days 1–13
    expect(a.icaht.early.grade).toBe(2);
  });

  test('ANC ≤ 0.1 for 7 days → grade 3 even if ≤ 0.5 for only 8 days', () => {
    const a = assessOn(30, [
      infusion(0),
      ...series(anc, 0, [1, 0.4, 0.1, 0.05, 0.05, 0.02, 0.05, 0.08, 0.1, 1.2, 1.8, ...Array(20).fill(2)]),
    ]);
    expect(a.icaht.early).toMatchObject({ daysAnc500: 8, daysAnc100: 7, grade: 3 });
  });

  test('before day 30 the grade is "so far" (complete: false)', () => {
    const a = assessOn(9, [infusion(0), ...series(anc, 0, [1, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])]);
    expect(a.icaht.early).toMatchObject({ grade: 2, daysAnc500: 9, complete: false });
  });

  test('when labs stop while neutropenic, the grade is "at least" with the missing days reported', () => {
    const a = assessOn(35, [
      infusion(0),
      ...series(anc, 0, [1, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]),
    ]);
    expect(a.icaht.early).toMatchObject({
      grade: 2,
      daysAnc500: 11,
      atLeast: true,
      gradeUpperBound: 4,
      dataGaps: [{ fromDay: 12, toDay: 30 }],
    });
    expect(a.issues.some((i) => i.code === 'data-gap' && i.message.includes('at least grade 2'))).toBe(true);
  });

  test('late ICAHT needs two consecutive values: one ANC of 0.3 on day 40 is transient', () => {
    const transient = assessOn(60, [infusion(0), anc(35, 1.8), anc(40, 0.3), anc(45, 1.9)]);
    expect(transient.icaht.late.grade).toBe(0);
    const confirmed = assessOn(60, [infusion(0), anc(35, 1.8), anc(40, 0.3), anc(45, 0.4), anc(50, 1.9)]);
    expect(confirmed.icaht.late).toMatchObject({ grade: 3, nadir: { value: 0.4, day: 45 } });
  });

  test('T-ICAHT: PLT < 20 for 4 days → grade 3; a transfusion-supported rise does not end the run', () => {
    const values = [120, 80, 45, 30, 18, 12, 30, 15, 40, 60, 80, ...Array(20).fill(100)];
    const a = assessOn(30, [infusion(0), plateletTransfusion(5, 8), ...series(plt, 0, values)]);
    expect(a.icaht.thrombocytopenia.early).toMatchObject({ daysBelow20: 4, grade: 3 });
  });

  test('T-ICAHT late: two values < 50 between day 31 and 100 → grade 2', () => {
    const a = assessOn(100, [infusion(0), plt(35, 120), plt(60, 45), plt(67, 40), plt(80, 110)]);
    expect(a.icaht.thrombocytopenia.late.grade).toBe(2);
  });
});

describe('neutrophil recovery phenotype (Rejeski 2021; docs/clinical-logic.md §6)', () => {
  const base = Array(40).fill(2.0) as number[];
  const course = (dips: [number, number][]): number[] =>
    base.map((v, d) => (dips.some(([a, b]) => d >= a && d <= b) ? 0.2 : v));
  test.each<[string, [number, number][], number, string | null]>([
    ['quick: one dip, sustained recovery', [[3, 9]], 39, 'quick'],
    [
      'intermittent: recovery, then ANC ≤ 0.5 again after day 21',
      [
        [3, 9],
        [24, 27],
      ],
      39,
      'intermittent',
    ],
    [
      'a second dip before day 21 is not intermittent',
      [
        [3, 9],
        [15, 16],
      ],
      39,
      'quick',
    ],
    ['aplastic: ANC ≤ 0.5 for 14 days or more', [[3, 16]], 39, 'aplastic'],
    ['undetermined while the first dip (< 14 days) is under way', [[3, 39]], 10, null],
    ['no severe neutropenia', [], 39, 'no-severe-neutropenia'],
  ])('%s', (_name, dips, asOf, phenotype) => {
    const a = assessOn(asOf, [infusion(0), ...series(anc, 0, course(dips).slice(0, asOf + 1))]);
    expect(a.icaht.phenotype).toBe(phenotype);
  });
});
