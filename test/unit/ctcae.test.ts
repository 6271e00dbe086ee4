/**
 * CTCAE v5.0 grades (docs/clinical-logic.md, NCI CTCAE v5.0). Each row: value, LLN, grade.
 */
import { describe, expect, test } from '@jest/globals';
import { boundaries, ctcaeGrade, defaultLln } from '../../src/clinical/ctcae.js';
import { DEFAULT_THRESHOLDS as T } from '../../src/clinical/thresholds.js';
import { anc, assessOn, hb, infusion, patient } from '../helpers/fhir.js';

const SRC = 'CTCAE v5.0 / docs/clinical-logic.md §4';

describe.each([
  [
    'neutrophils',
    1.8,
    [
      [1.8, 0],
      [1.79, 1],
      [1.5, 1],
      [1.49, 2],
      [1.0, 2],
      [0.99, 3],
      [0.5, 3],
      [0.49, 4],
      [0, 4],
    ],
  ],
  [
    'platelets',
    150,
    [
      [150, 0],
      [149, 1],
      [75, 1],
      [74.9, 2],
      [50, 2],
      [49.9, 3],
      [25, 3],
      [24.9, 4],
    ],
  ],
  [
    'hemoglobin',
    110,
    [
      [110, 0],
      [109, 1],
      [100, 1],
      [99, 2],
      [80, 2],
      [79, 3],
      [40, 3],
    ],
  ],
  [
    'wbc',
    4.0,
    [
      [4.0, 0],
      [3.9, 1],
      [3.0, 1],
      [2.9, 2],
      [2.0, 2],
      [1.9, 3],
      [1.0, 3],
      [0.9, 4],
    ],
  ],
  [
    'lymphocytes',
    1.0,
    [
      [1.0, 0],
      [0.9, 1],
      [0.8, 1],
      [0.79, 2],
      [0.5, 2],
      [0.49, 3],
      [0.2, 3],
      [0.19, 4],
    ],
  ],
] as const)('%s (LLN %d)', (term, lln, rows) => {
  test.each(rows.map(([v, g]) => [v, g, SRC] as const))('value %d → grade %d (%s)', (value, grade) => {
    expect(ctcaeGrade({ value }, lln, boundaries(term, T))).toBe(grade);
  });
});

describe('lower limit of normal', () => {
  test.each([
    ['male', 120],
    ['female', 110],
    ['unknown', 110],
  ] as const)('default Hb LLN for %s is %d g/L (docs/clinical-logic.md §4)', (sex, lln) => {
    expect(defaultLln('hemoglobin', T, sex)).toBe(lln);
  });

  test('the lab reference range wins over the default: Hb 115 is grade 1 for a man, 0 for a woman', () => {
    const man = assessOn(2, [patient('male'), infusion(0), hb(1, 115)]);
    const woman = assessOn(2, [patient('female'), infusion(0), hb(1, 115)]);
    const ownRange = assessOn(2, [patient('male'), infusion(0), hb(1, 115, { low: 110 })]);
    expect([man.ctcae.hemoglobin.latest, woman.ctcae.hemoglobin.latest, ownRange.ctcae.hemoglobin.latest]).toEqual([
      1, 0, 0,
    ]);
  });

  test('anemia has no lab grade 4 (defined clinically)', () => {
    expect(assessOn(2, [infusion(0), hb(1, 30)]).ctcae.hemoglobin.worst).toBe(3);
  });
});

describe('latest and worst after infusion', () => {
  test('worst over day 0..asOf, latest on the last lab day; pre-infusion values do not count', () => {
    const a = assessOn(10, [infusion(0), anc(-3, 0.1), anc(2, 0.8), anc(5, 0.2), anc(9, 1.6)]);
    expect(a.ctcae.neutrophils).toMatchObject({
      latest: 1,
      worst: 4,
      latestValue: { value: 1.6, day: 9 },
      worstValue: { value: 0.2, day: 5 },
    });
  });

  test('without an infusion, grades are over all values and carry no day', () => {
    const a = assessOn(10, [anc(3, 0.3)]);
    expect(a.infusionDate).toBeNull();
    expect(a.ctcae.neutrophils).toMatchObject({ latest: 4, worst: 4, latestValue: { day: null } });
  });
});
