/**
 * Severe cytopenia, recovery and prolonged hematologic toxicity (Wang et al. 2021, CIBMTR;
 * docs/clinical-logic.md §5).
 */
import { describe, expect, test } from '@jest/globals';
import {
  anc,
  assessOn,
  fludarabine,
  gcsf,
  hb,
  infusion,
  plateletTransfusion,
  plt,
  redCellTransfusion,
  series,
  unspecifiedTransfusion,
} from '../helpers/fhir.js';

const S002 = 'Wang et al. 2021 (CIBMTR definitions)';
const neutro = (a: ReturnType<typeof assessOn>) => a.severeCytopenias.filter((e) => e.lineage === 'neutrophil');

describe('thresholds: SN < 0.5, ST < 20, SA < 60 (strictly below)', () => {
  test.each([
    ['neutrophil', anc, 0.5, false],
    ['neutrophil', anc, 0.49, true],
    ['platelet', plt, 20, false],
    ['platelet', plt, 19, true],
    ['hemoglobin', hb, 60, false],
    ['hemoglobin', hb, 59, true],
  ] as const)('%s value %d → severe: %s (' + S002 + ')', (lineage, make, value, severe) => {
    const a = assessOn(5, [infusion(0), make(3, value)]);
    expect(a.severeCytopenias.some((e) => e.lineage === lineage)).toBe(severe);
  });
});

describe('recovery is strictly above the threshold: a count exactly at it is neither severe nor recovered', () => {
  // Onset day 2, then three lab days at the value under test. Recovery day by hand: day 3 when the
  // three values are above the threshold, none (ongoing) when they sit exactly on it.
  test.each([
    ['neutrophil', anc, 0.4, 0.5, null, `${S002}: "ANC > 0.5"`],
    ['neutrophil', anc, 0.4, 0.51, 3, S002],
    ['platelet', plt, 15, 20, null, `${S002}: "> 20" (the T-ICAHT paper's ≥ 20 is not used, docs §5)`],
    ['platelet', plt, 15, 21, 3, S002],
    ['hemoglobin', hb, 55, 60, null, `${S002}: "Hb > 60 g/L"`],
    ['hemoglobin', hb, 55, 61, 3, S002],
  ] as const)(
    '%s: %d then three days of %d → recovery day %s (%s)',
    (lineage, make, low, after, recoveryDay, _source) => {
      const a = assessOn(8, [infusion(0), make(2, low), make(3, after), make(4, after), make(5, after)]);
      const episode = a.severeCytopenias.find((e) => e.lineage === lineage);
      expect(episode).toMatchObject({ onsetDay: 2, recoveryDay, ongoing: recoveryDay === null });
    },
  );
});

describe('neutrophil recovery: ANC > 0.5 on 3 consecutive lab days, G-CSF irrelevant (' + S002 + ')', () => {
  test('onset, nadir, recovery on the first of three days above, duration', () => {
    const a = assessOn(20, [infusion(0), ...series(anc, 0, [1.2, 0.9, 0.4, 0.2, 0.05, 0.1, 0.3, 0.6, 0.8, 1.0, 1.5])]);
    expect(neutro(a)).toEqual([
      expect.objectContaining({
        newOnset: true,
        presentAtBaseline: false,
        onsetDay: 2,
        nadir: 0.05,
        nadirDay: 4,
        recoveryDay: 7,
        durationDays: 5,
        ongoing: false,
      }),
    ]);
  });

  test('two days above are not a recovery; the episode goes on', () => {
    const a = assessOn(20, [infusion(0), ...series(anc, 0, [1.2, 0.4, 0.2, 0.7, 0.8, 0.3, 0.2, 0.9, 1.0, 1.1])]);
    expect(neutro(a)).toEqual([expect.objectContaining({ onsetDay: 1, recoveryDay: 7, nadir: 0.2 })]);
  });

  test('G-CSF does not change neutrophil recovery', () => {
    const values = [1.2, 0.4, 0.2, 0.7, 0.8, 0.9];
    const strip = (a: ReturnType<typeof assessOn>) => neutro(a).map(({ evidence: _e, ...rest }) => rest);
    const without = assessOn(10, [infusion(0), ...series(anc, 0, values)]);
    const withGcsf = assessOn(10, [infusion(0), gcsf(2), gcsf(3), ...series(anc, 0, values)]);
    expect(strip(withGcsf)).toEqual(strip(without));
    expect(neutro(withGcsf)[0]?.recoveryDay).toBe(3);
  });

  test('values on different days: three consecutive lab days need not be calendar-consecutive', () => {
    const a = assessOn(40, [infusion(0), anc(3, 0.2), anc(10, 0.8), anc(14, 1.0), anc(17, 1.2)]);
    expect(neutro(a)[0]).toMatchObject({ recoveryDay: 10 });
  });

  test('recovery not yet confirmed (fewer than three values above): ongoing', () => {
    const a = assessOn(6, [infusion(0), ...series(anc, 0, [1.2, 0.4, 0.2, 0.3, 0.7, 0.8])]);
    expect(neutro(a)[0]).toMatchObject({ ongoing: true, recoveryDay: null, durationDays: 6 });
  });
});

describe('platelet and red cell recovery need 7 transfusion-free days (' + S002 + '; CIBMTR, T-ICAHT)', () => {
  test('platelets raised by a transfusion are not a recovery: the first value 8 days after it can be', () => {
    const values = [90, 50, 25, 15, 10, 40, 35, 30, 15, 12, 18, 25, 30, 35, 40];
    const a = assessOn(14, [infusion(0), plateletTransfusion(4, 8), ...series(plt, 0, values)]);
    const st = a.severeCytopenias.filter((e) => e.lineage === 'platelet');
    // Transfusion on day 4: days 5-11 are transfusion-supported (day 11 has one in the 7 days before).
    expect(st).toEqual([expect.objectContaining({ onsetDay: 3, recoveryDay: 12, nadir: 10 })]);
  });

  test('without the transfusion, the same counts recover on day 5', () => {
    const values = [90, 50, 25, 15, 10, 40, 35, 30, 15, 12, 18, 25, 30, 35];
    const a = assessOn(13, [infusion(0), ...series(plt, 0, values)]);
    expect(a.severeCytopenias.filter((e) => e.lineage === 'platelet')[0]).toMatchObject({ recoveryDay: 5 });
  });

  test('hemoglobin: a red cell transfusion blocks recovery for 7 days; a transfusion of unknown product blocks both', () => {
    const values = [90, 70, 58, 55, 75, 72, 70, 68, 66, 65, 64, 63, 62, 62];
    const withRbc = assessOn(13, [infusion(0), redCellTransfusion(3, 12), ...series(hb, 0, values)]);
    expect(withRbc.severeCytopenias.find((e) => e.lineage === 'hemoglobin')).toMatchObject({
      onsetDay: 2,
      recoveryDay: 11,
    });
    const withUnknown = assessOn(13, [infusion(0), unspecifiedTransfusion(3), ...series(hb, 0, values)]);
    expect(withUnknown.severeCytopenias.find((e) => e.lineage === 'hemoglobin')).toMatchObject({ recoveryDay: 11 });
    expect(withUnknown.issues.some((i) => i.code === 'transfusion-product-unknown')).toBe(true);
  });
});

describe('new-onset vs present before infusion (Wang et al. 2021)', () => {
  test('severe before day 0 (after lymphodepletion) is not new-onset; baseline before LD is not severe', () => {
    const a = assessOn(10, [
      fludarabine(-5),
      infusion(0),
      anc(-6, 1.8),
      anc(-2, 0.3),
      anc(0, 0.2),
      anc(3, 0.1),
      anc(6, 0.8),
      anc(7, 0.9),
      anc(8, 1.0),
    ]);
    expect(neutro(a)[0]).toMatchObject({ onsetDay: -2, newOnset: false, presentAtBaseline: false });
  });

  test('present at baseline: severe already before lymphodepletion', () => {
    const a = assessOn(10, [
      fludarabine(-5),
      infusion(0),
      anc(-6, 0.3),
      anc(-2, 0.2),
      anc(3, 0.1),
      anc(6, 0.8),
      anc(7, 0.9),
      anc(8, 1.0),
    ]);
    expect(neutro(a)[0]).toMatchObject({ onsetDay: -2, newOnset: false, presentAtBaseline: true });
  });

  test('day 0: drawn before the infusion is not new-onset, after it is', () => {
    const before = assessOn(5, [infusion(0, 14), anc(0, 0.3, { hour: 6 }), anc(1, 0.3)]);
    const after = assessOn(5, [infusion(0, 9), anc(0, 0.3, { hour: 20 }), anc(1, 0.3)]);
    expect([neutro(before)[0]?.newOnset, neutro(after)[0]?.newOnset]).toEqual([false, true]);
  });
});

describe('prolonged hematologic toxicity: SN, SA or ST on day 28 (' + S002 + ')', () => {
  test.each<[string, (number | null)[], boolean | null]>([
    [
      'ANC recovered on day 12: no PHT',
      [1, 0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.8, 0.9, 1.0, ...Array(16).fill(1.5)],
      false,
    ],
    ['ANC below 0.5 through day 30: PHT', [1, ...Array(30).fill(0.3)], true],
    ['ANC recovers on day 29 (values below on 28): PHT', [1, ...Array(28).fill(0.3), 0.7, 0.8, 0.9], true],
  ])('%s', (_name, values, expected) => {
    const a = assessOn(31, [
      infusion(0),
      ...series(anc, 0, values),
      ...series(plt, 0, Array(32).fill(120)),
      ...series(hb, 0, Array(32).fill(100)),
    ]);
    expect(a.prolongedHematologicToxicity).toBe(expected);
  });

  // ANC by day (null: no count), platelets 120 and Hb 100 g/L every day (neither severe). By hand from "present on
  // day 28" (Wang 2021) and "days without a value are gaps: never invent values" (clinical spec §1).
  const n = (count: number, v: number | null): (number | null)[] => Array<number | null>(count).fill(v);
  test.each<[string, (number | null)[], boolean | null]>([
    [
      'one ANC ≤ 0.5 on day 5, no count until 1.0, 1.1, 1.2 on days 60–62: not known (was "yes")',
      [1, ...n(4, null), 0.3, ...n(54, null), 1.0, 1.1, 1.2],
      null,
    ],
    [
      'ANC 0.8 on day 26, ≤ 0.5 on days 29–33: not known, the values around day 28 disagree (was "no")',
      [...n(26, null), 0.8, null, null, ...n(5, 0.3)],
      null,
    ],
    [
      'ANC ≤ 0.5 on day 20 and on day 35, no count between: not known (no severe value within 3 days of day 28)',
      [1, ...n(19, null), 0.3, ...n(14, null), 0.3],
      null,
    ],
    ['ANC 0.8 on days 26 and 28, ≤ 0.5 on days 29–33: no PHT', [...n(26, null), 0.8, null, 0.8, ...n(5, 0.3)], false],
    [
      'ANC ≤ 0.5 on day 26, no count until 1.0, 1.1, 1.2 on days 35–37: PHT (a severe value within 3 days of day 28)',
      [...n(26, null), 0.3, ...n(8, null), 1.0, 1.1, 1.2],
      true,
    ],
  ])('%s', (_name, values, expected) => {
    const asOf = values.length - 1;
    const a = assessOn(asOf, [
      infusion(0),
      ...series(anc, 0, values),
      ...series(plt, 0, n(asOf + 1, 120)),
      ...series(hb, 0, n(asOf + 1, 100)),
    ]);
    expect(a.prolongedHematologicToxicity).toBe(expected);
  });

  test('null before day 28', () => {
    expect(assessOn(20, [infusion(0), anc(5, 0.2)]).prolongedHematologicToxicity).toBeNull();
  });

  test('null when no value near day 28 can tell, with a data-gap issue', () => {
    const a = assessOn(40, [infusion(0), anc(5, 0.2), anc(10, 0.9), anc(11, 1.0), anc(12, 1.1)]);
    expect(a.prolongedHematologicToxicity).toBeNull();
    expect(a.issues.filter((i) => i.code === 'data-gap').length).toBeGreaterThan(0);
  });

  test('one lineage severe on day 28 decides it even when another is unknown', () => {
    const a = assessOn(30, [infusion(0), ...series(plt, 20, Array(11).fill(10))]);
    expect(a.prolongedHematologicToxicity).toBe(true);
  });
});

describe('persistence at day 90 and 1 year (immune-reconstitution thesis)', () => {
  test('CTCAE grade of the value nearest the landmark', () => {
    const a = assessOn(370, [infusion(0), anc(95, 1.2), plt(92, 60), hb(100, 105), anc(360, 1.6), plt(370, 140)]);
    expect(a.persistentCytopenia.day90).toMatchObject({
      neutrophils: { grade: 2, day: 95 },
      platelets: { grade: 2, day: 92 },
      hemoglobin: { grade: 1, day: 100 },
    });
    expect(a.persistentCytopenia.year1).toMatchObject({
      neutrophils: { grade: 1, day: 360 },
      platelets: { grade: 1, day: 370 },
      hemoglobin: null,
    });
  });
});
