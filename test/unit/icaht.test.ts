/**
 * EHA/EBMT ICAHT (Rejeski et al., Blood 2023;142:865, Table 1), T-ICAHT (Blood 2025) and the
 * neutrophil recovery phenotype; day counting with the docs/clinical-logic.md gap rule.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { belowWithBridging, classifyAnyOrder, classifyDays, countDaysBelow } from '../../src/clinical/day-counting.js';
import { earlyIcahtGrade, earlyTIcahtGrade, lateIcahtGrade } from '../../src/clinical/icaht.js';
import { phenotypeText } from '../../src/clinical/format.js';
import { DEFAULT_THRESHOLDS as T } from '../../src/clinical/thresholds.js';
import type { LabDay } from '../../src/clinical/types.js';
import {
  anc,
  assessOn,
  dateOf,
  infusion,
  patient,
  plateletTransfusion,
  plt,
  procedure,
  series,
} from '../helpers/fhir.js';

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
    [30, 0, 3, `${EHA}: by the count alone; grade 4 "no recovery" is decided on the course (table below)`],
    [31, 0, 3, `${EHA}: by the count alone`],
    [6, 6, 1, `${EHA}: ANC ≤ 0.1 for 6 days does not raise the grade`],
    [7, 7, 3, `${EHA}: ANC ≤ 0.1 ≥ 7 days → grade 3`],
    [13, 13, 3, EHA],
    [14, 14, 4, `${EHA}: ANC ≤ 0.1 ≥ 14 days → grade 4`],
  ])('ANC ≤ 0.5 for %d days, ≤ 0.1 for %d days → grade %d (%s)', (d500, d100, grade) => {
    expect(earlyIcahtGrade(d500, d100, T.icaht.durationDays)).toBe(grade);
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
    expect(lateIcahtGrade({ value }, T.counts.neutrophils)).toBe(grade);
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
    expect(earlyTIcahtGrade(d50, d20, T.icaht.durationDays)).toBe(grade);
  });
});

describe('day counting (docs/clinical-logic.md §2)', () => {
  const below = (d: LabDay): boolean => d.value <= 0.5;
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

  test('late ICAHT needs two values at or below a cut-off: one ANC of 0.3 on day 40 is transient', () => {
    const transient = assessOn(60, [infusion(0), anc(35, 1.8), anc(40, 0.3), anc(45, 1.9)]);
    expect(transient.icaht.late.grade).toBe(0);
    const confirmed = assessOn(60, [infusion(0), anc(35, 1.8), anc(40, 0.3), anc(45, 0.4), anc(50, 1.9)]);
    expect(confirmed.icaht.late).toMatchObject({
      grade: 3,
      measurements: 4,
      nadir: { value: 0.3, day: 40 },
      confirmedBy: [
        { value: 0.3, day: 40 },
        { value: 0.4, day: 45 },
      ],
    });
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
      'a second dip on days 15–17 is neither quick nor intermittent (Rejeski 2021 define the dip after day +21)',
      [
        [3, 9],
        [15, 17],
      ],
      39,
      'early-second-dip',
    ],
    [
      'a dip before day 21 and another after it: intermittent',
      [
        [3, 9],
        [15, 16],
        [25, 27],
      ],
      39,
      'intermittent',
    ],
    [
      'a second dip starting exactly on day 21 is not after day +21',
      [
        [3, 9],
        [21, 23],
      ],
      39,
      'early-second-dip',
    ],
    [
      'a second dip starting on day 22 is intermittent',
      [
        [3, 9],
        [22, 24],
      ],
      39,
      'intermittent',
    ],
    ['aplastic: ANC ≤ 0.5 for 14 days or more', [[3, 16]], 39, 'aplastic'],
    ['undetermined while the first dip (< 14 days) is under way', [[3, 39]], 10, null],
    ['no severe neutropenia', [], 39, 'no-severe-neutropenia'],
    ['one count above 0.5 after the dip is not yet a (quick) recovery', [[3, 6]], 7, null],
    ['three counts above 0.5 after the dip: quick', [[3, 6]], 9, 'quick'],
  ])('%s', (_name, dips, asOf, phenotype) => {
    const a = assessOn(asOf, [infusion(0), ...series(anc, 0, course(dips).slice(0, asOf + 1))]);
    expect(a.icaht.phenotype).toBe(phenotype);
  });
});

describe('days without an ANC are never a recovery: the phenotype they leave open is "unknown-gaps" (clinical spec §1)', () => {
  // ANC per day from day 0 (null: no count). By hand: read with the gap days as above, and again as below where
  // they border a count ≤ 0.5 (docs/clinical-logic.md §6); equal → that phenotype, different → unknown-gaps.
  const n = (count: number, v: number | null): (number | null)[] => Array<number | null>(count).fill(v);
  test.each<[string, (number | null)[], number, string | null]>([
    [
      '≤ 0.5 on days 1–8, no count on days 9–12, ≤ 0.5 on 13–20, then 1.2: early second dip, or 20 days aplastic',
      [2, ...n(8, 0.3), ...n(4, null), ...n(8, 0.3), ...n(5, 1.2)],
      25,
      'unknown-gaps',
    ],
    [
      '≤ 0.5 on days 1–8, no count on days 9–22, ≤ 0.5 on 23–30, then 1.2: intermittent, or 30 days aplastic',
      [2, ...n(8, 0.3), ...n(14, null), ...n(8, 0.3), ...n(5, 1.2)],
      35,
      'unknown-gaps',
    ],
    [
      'one count ≤ 0.5 on day 5, none until 1.0, 1.1, 1.2 on days 60–62: quick, or aplastic to day 59',
      [2, ...n(4, null), 0.3, ...n(54, null), 1.0, 1.1, 1.2],
      62,
      'unknown-gaps',
    ],
    [
      'a gap of 3 days between two counts ≤ 0.5 counts as below (spec §1): one run of 20 days, aplastic',
      [2, ...n(8, 0.3), ...n(3, null), ...n(9, 0.3), ...n(5, 1.2)],
      25,
      'aplastic',
    ],
    [
      'gaps between counts above 0.5 after a short dip leave a quick recovery quick',
      [2, ...n(5, 0.3), 1.5, 1.5, 1.5, ...n(10, null), 1.5, ...n(5, null), 1.5],
      25,
      'quick',
    ],
    ['no ANC since day 0: not measured, not "first dip ongoing"', [], 25, 'not-measured'],
  ])('%s', (_name, values, asOf, phenotype) => {
    const a = assessOn(asOf, [infusion(0), ...series(anc, 0, values)]);
    expect(a.icaht.phenotype).toBe(phenotype);
  });

  test('the summary says why it is not known', () => {
    expect(phenotypeText('unknown-gaps', T)).toBe(
      'not known: days without an ANC leave it open (they are not taken as a recovery)',
    );
    expect(phenotypeText('not-measured', T)).toBe('not known: no ANC measured since day 0');
    // Said of the counts measured, not of days without one (one count of 2.0 on day 1 and none since is this too).
    expect(phenotypeText('no-severe-neutropenia', T)).toBe('no severe neutropenia measured (no ANC ≤ 0.5 since day 0)');
  });
});

const LIANG = 'Liang et al. automated ICAHT grader (grade 4: dip from day 0–3 never ending)';
const EHA4 = `${EHA}: grade 4 "never above 0.5" read as no recovery by day +30`;
const days2 = (from: number, to: number, v: number): (number | null)[] =>
  Array.from({ length: to - from + 1 }, () => v);

describe('early ICAHT grade 4: no neutrophil recovery by day +30 (docs/clinical-logic.md §6)', () => {
  // ANC per day from day 0; assessed on `asOf`. Grade and the facts the card shows, computed by hand.
  test.each<[string, (number | null)[], number, { grade: number; complete: boolean; since: number | null }, string]>([
    [
      'above 0.5 on days 0–2, ≤ 0.5 from day 3 through day 35',
      [1.2, 0.9, 0.6, ...days2(3, 35, 0.3)],
      35,
      { grade: 4, complete: true, since: 3 },
      `${EHA4}; ${LIANG}`,
    ],
    [
      'onset on day 4 (after day +3), never recovered: graded by its 27 days',
      [1.2, 0.9, 0.6, 0.6, ...days2(4, 35, 0.3)],
      35,
      { grade: 3, complete: true, since: null },
      `${EHA} (14–30 days → 3); ${LIANG}`,
    ],
    [
      'onset on day 2, stable recovery on days 28–30: 26 days, grade 3',
      [1.2, 0.9, ...days2(2, 27, 0.3), 0.8, 0.9, 1.0, ...days2(31, 35, 1.2)],
      35,
      { grade: 3, complete: true, since: null },
      EHA,
    ],
    [
      'onset on day 2, a 2-day rise on days 20–21 (non-stable) then ≤ 0.5 to day 35: still no recovery',
      [1.2, 0.9, ...days2(2, 19, 0.3), 0.7, 0.7, ...days2(22, 35, 0.3)],
      35,
      { grade: 4, complete: true, since: 2 },
      `${EHA4}: a non-stable recovery (< 3 days) does not end the dip`,
    ],
    [
      'on day 20, neutropenic since day 2: grade 3 so far, grade 4 if no recovery by day +30',
      [1.2, 0.9, ...days2(2, 20, 0.3)],
      20,
      { grade: 3, complete: false, since: 2 },
      EHA4,
    ],
    [
      'exactly 0.5 counts as ≤ 0.5 (ICAHT comparator)',
      [1.2, 0.9, 0.6, ...days2(3, 31, 0.5)],
      31,
      { grade: 4, complete: true, since: 3 },
      `${EHA}: ANC ≤ 500/µL`,
    ],
    [
      'no count on days 0–3, ≤ 0.5 on days 4–12: 9 days, grade 2; "no recovery since day +0" is not stated (spec §1)',
      [null, null, null, null, ...days2(4, 12, 0.3)],
      12,
      { grade: 2, complete: false, since: null },
      `${EHA}; clinical spec §1 "never invent values"`,
    ],
  ])('%s → grade %o (%s)', (_name, values, asOf, expected) => {
    const a = assessOn(asOf, [infusion(0), ...series(anc, 0, values)]);
    expect(a.icaht.early.grade).toBe(expected.grade);
    expect(a.icaht.early.complete).toBe(expected.complete);
    expect(a.icaht.early.noRecovery?.sinceDay ?? null).toBe(expected.since);
  });

  test('a patient who dies on day +16 without recovery from day +1 is grade 4 (Liang et al., patient 8)', () => {
    const dead = { ...patient(), deceasedDateTime: `${dateOf(16)}T08:00:00Z` };
    const a = assessOn(20, [dead, infusion(0), ...series(anc, 0, [1.1, ...days2(1, 16, 0.2)])]);
    expect(a.icaht.censoring).toMatchObject({ reason: 'death', day: 16, lastCountedDay: 16 });
    expect(a.icaht.early).toMatchObject({ grade: 4, complete: true, noRecovery: { sinceDay: 1, throughDay: 16 } });
    expect(a.recommendations).toEqual([]); // no advice for a patient recorded as deceased
  });
});

describe('late ICAHT: the highest grade whose cut-off at least two measurements meet (EHA/EBMT 2023)', () => {
  test.each<[string, [number, number][], number | null, string]>([
    [
      'one ANC of 0.3 among normal counts is transient',
      [
        [35, 1.8],
        [40, 0.3],
        [45, 1.9],
      ],
      0,
      EHA,
    ],
    [
      'counts oscillating around 0.5 (0.45, 0.6, 0.4, 0.7): two values ≤ 0.5, not consecutive',
      [
        [35, 0.45],
        [40, 0.6],
        [45, 0.4],
        [50, 0.7],
      ],
      3,
      `${EHA}; the consecutive reading gave grade 2`,
    ],
    [
      '1.5 twice: grade 1 (≤ 1.5)',
      [
        [35, 1.5],
        [45, 1.5],
      ],
      1,
      EHA,
    ],
    [
      '1.0, 1.6, 1.0: grade 2 (≤ 1.0, not consecutive)',
      [
        [35, 1.0],
        [40, 1.6],
        [45, 1.0],
      ],
      2,
      EHA,
    ],
    [
      '0.1 twice: grade 4 (≤ 0.1)',
      [
        [35, 0.1],
        [45, 0.1],
      ],
      4,
      EHA,
    ],
    [
      '0.1 and 0.11: grade 3 (only one ≤ 0.1)',
      [
        [35, 0.1],
        [45, 0.11],
      ],
      3,
      EHA,
    ],
    ['a single measurement cannot confirm a grade', [[40, 0.2]], null, `${EHA}: non-transient`],
    [
      'day +30 belongs to early ICAHT: one late value left',
      [
        [30, 0.2],
        [31, 0.2],
      ],
      null,
      EHA,
    ],
  ])('%s → %s (%s)', (_name, points, grade) => {
    const a = assessOn(60, [infusion(0), ...points.map(([d, v]) => anc(d, v))]);
    expect(a.icaht.late.grade).toBe(grade);
  });
});

describe('late T-ICAHT over days 31–100, at least two measurements (T-ICAHT, Blood 2025, Table 1)', () => {
  const daily = (from: number, to: number, v: number): [number, number][] =>
    Array.from({ length: to - from + 1 }, (_, i) => [from + i, v]);
  test.each<[string, [number, number][], number | null]>([
    [
      '45 and 40: grade 2 (< 50)',
      [
        [40, 45],
        [60, 40],
      ],
      2,
    ],
    [
      '45 and 120: only one below 100 → grade 0',
      [
        [40, 45],
        [60, 120],
      ],
      0,
    ],
    [
      '99 and 60: grade 1 (< 100)',
      [
        [40, 99],
        [60, 60],
      ],
      1,
    ],
    [
      'exactly 100 and 100: grade 0 (< 100 is strict)',
      [
        [40, 100],
        [60, 100],
      ],
      0,
    ],
    [
      '19 twice, 20 days apart: grade 3 (< 20 for 1–13 days)',
      [
        [40, 19],
        [60, 19],
      ],
      3,
    ],
    ['below 20 daily for 14 days (days 40–53): grade 4', daily(40, 53, 12), 4],
    ['below 20 daily for 13 days: grade 3', daily(40, 52, 12), 3],
    [
      'values after day +100 are outside the window',
      [
        [101, 10],
        [110, 10],
      ],
      null,
    ],
  ])('%s', (_name, points, grade) => {
    const a = assessOn(120, [infusion(0), ...points.map(([d, v]) => plt(d, v))]);
    expect(a.icaht.thrombocytopenia.late.grade).toBe(grade);
  });
});

describe('censoring: counting stops at death, a later CAR-T or allogeneic HSCT (T-ICAHT paper, Table 1 legend)', () => {
  const CPT = 'http://www.ama-assn.org/go/cpt';
  test('allogeneic HSCT on day +20: counting stops on day +19, and the assessment says so', () => {
    const a = assessOn(40, [
      infusion(0),
      procedure(CPT, '38240', 20),
      ...series(anc, 0, [1.2, 0.9, ...days2(2, 40, 0.3)]),
    ]);
    expect(a.icaht.censoring).toMatchObject({ reason: 'allogeneic-hsct', day: 20, lastCountedDay: 19 });
    // Dip from day 2 never recovered up to the censoring day: grade 4 (no recovery), 18 days counted.
    expect(a.icaht.early).toMatchObject({ grade: 4, daysAnc500: 18, complete: true });
    expect(a.icaht.late.measurements).toBe(0);
    expect(a.issues.find((i) => i.code === 'censoring')?.message).toBe(
      `ICAHT counting stops at day +19: allogeneic stem cell transplantation on ${dateOf(20)}`,
    );
  });

  test('a later CAR-T infusion censors counting when day 0 is set to the first one', () => {
    const a = assessOn(
      40,
      [infusion(0), infusion(25), ...series(anc, 0, [1.2, ...days2(1, 10, 0.3), ...days2(11, 40, 1.5)])],
      { infusionDate: dateOf(0) },
    );
    expect(a.icaht.censoring).toMatchObject({ reason: 'car-t-reinfusion', day: 25, lastCountedDay: 24 });
    expect(a.icaht.early).toMatchObject({ grade: 2, daysAnc500: 10, complete: true });
  });

  test('deceased without a date: not censored, and said', () => {
    const a = assessOn(20, [{ ...patient(), deceasedBoolean: true }, infusion(0), anc(19, 0.3)]);
    expect(a.icaht.censoring).toBeNull();
    expect(a.issues.some((i) => i.code === 'censoring' && i.message.includes('without a date'))).toBe(true);
    expect(a.recommendations).toEqual([]); // no advice for a patient recorded as deceased
  });

  // Day 0 is 2026-03-01, so the assessment date (day +20) is 2026-03-21. FHIR dateTime allows a year or a month.
  test.each<[string, boolean]>([
    ['2026', true], // begins 2026-01-01, before the assessment date
    ['2026-03', true], // the month of the assessment date: a record holds no death still to come
    ['2026-02', true],
    ['2026-04', false], // begins after the assessment date (a retrospective run)
    ['2027', false],
  ])('deceased in %s, without a day: recorded as deceased = %s; never censored at a guessed day', (when, deceased) => {
    const a = assessOn(20, [{ ...patient(), deceasedDateTime: when }, infusion(0), anc(19, 0.3)]);
    expect(a.icaht.censoring).toBeNull();
    expect(a.issues.filter((i) => i.code === 'censoring' && i.severity === 'warning').map((i) => i.message)).toEqual(
      deceased
        ? [
            `the patient is recorded as deceased in ${when}, without a day: ICAHT counting could not be stopped at death`,
          ]
        : [],
    );
    expect(a.recommendations.length === 0).toBe(deceased); // ANC 0.3 on day +19 otherwise asks for G-CSF
  });

  test('allogeneic HSCT on day +10 and death on day +11: counting stops at the HSCT, and no advice is given', () => {
    const dead = { ...patient(), deceasedDateTime: `${dateOf(11)}T08:00:00Z` };
    const a = assessOn(12, [dead, infusion(0), procedure(CPT, '38240', 10), anc(11, 0.2)]);
    expect(a.icaht.censoring).toMatchObject({ reason: 'allogeneic-hsct', lastCountedDay: 9 });
    expect(a.recommendations).toEqual([]);
  });
});

describe('classifyDays over lab days in order agrees with the general reading (property)', () => {
  // The general reading (a map of measured days) is the reference; lab days in day order, one a
  // day, take a walk instead. Both must classify every day of any window alike.
  const labDay = (day: number, value: number): LabDay => ({ day, date: `d${day}`, ms: day, value, reference: 'o' });
  test('any days, values, window and gap', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: -10, max: 120 }), { maxLength: 60 }),
        fc.array(fc.constantFrom(0.05, 0.3, 0.5, 0.51, 2), { minLength: 60, maxLength: 60 }),
        fc.integer({ min: -15, max: 125 }),
        fc.integer({ min: -5, max: 60 }),
        fc.integer({ min: 0, max: 7 }),
        (dayNumbers, values, from, length, maxGap) => {
          const sorted = [...dayNumbers].sort((a, b) => a - b).map((d, i) => labDay(d, values[i] ?? 1));
          const below = (d: LabDay): boolean => d.value <= 0.5;
          expect(classifyDays(sorted, from, from + length, below, maxGap)).toEqual(
            classifyAnyOrder(sorted, from, from + length, below, maxGap),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
