/**
 * Results reported as a bound (valueQuantity.comparator, docs/clinical-logic.md §3): a cut-off test
 * the bound decides is answered exactly, one it leaves open uses the number as given. Every row's
 * expected value is worked out by hand from the interval the bound gives and the rule's comparator.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { above, atOrAbove, atOrBelow, below, quotient, type Measured } from '../../src/clinical/bounds.js';
import { adviseOn, orderCards } from '../../src/cards/orders.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { assessmentCsvHeader, assessmentCsvRow } from '../../src/cli/csv.js';
import { cd4cd8Text, changeText, fmtMeasured } from '../../src/clinical/format.js';
import { DEFAULT_HOSPITAL_THRESHOLDS } from '../../src/clinical/thresholds.js';
import { nadirOf } from '../../src/clinical/severe-cytopenia.js';
import { loadClinicalContext } from '../../src/profiles.js';
import {
  anc,
  assessOn,
  crp,
  DAY0,
  ferritin,
  fludarabine,
  hb,
  igg,
  infusion,
  obs,
  patient,
  plt,
  series,
} from '../helpers/fhir.js';
import { filgrastimOrder } from '../helpers/orders.js';

type Cmp = '<' | '<=' | '>' | '>=';
const m = (value: number, comparator?: Cmp): Measured => (comparator ? { value, comparator } : { value });

describe('the four tests on a reported bound (the true value lies in the interval the bound gives)', () => {
  test.each<[string, Measured, number, boolean, string, (x: Measured, t: number) => boolean]>([
    ['below', m(0.5, '<'), 0.5, true, '"<0.5": every value it allows is < 0.5', below],
    ['below', m(0.5, '<='), 0.5, false, '"≤0.5" may be 0.5: open, the number is used (0.5 < 0.5 is false)', below],
    ['below', m(0.5), 0.5, false, '0.5 < 0.5 is false', below],
    ['below', m(0.5, '>'), 0.5, false, '">0.5" is above 0.5', below],
    ['below', m(0.4, '>'), 0.5, true, '">0.4" may be 0.45 or 3: open, the number is used', below],
    ['at or below', m(0.1, '>'), 0.1, false, '">0.1": every value it allows is > 0.1', atOrBelow],
    ['at or below', m(0.1, '>='), 0.1, true, '"≥0.1" may be 0.1: open, the number is used', atOrBelow],
    ['at or below', m(0.1, '<'), 0.1, true, '"<0.1" is below 0.1', atOrBelow],
    ['at or below', m(0.2, '<'), 0.1, false, '"<0.2" may be 0.05 or 0.15: open, the number is used', atOrBelow],
    ['above', m(0.5, '>'), 0.5, true, '">0.5": every value it allows is > 0.5', above],
    ['above', m(0.5, '>='), 0.5, false, '"≥0.5" may be 0.5: open, the number is used', above],
    ['above', m(0.5, '<'), 0.5, false, '"<0.5" is below 0.5', above],
    [
      'above',
      m(0.6, '<'),
      0.5,
      false,
      '"<0.6" may be 0.55 or 0.2: open, and an upper bound never shows "above"',
      above,
    ],
    ['above', m(0.4, '>'), 0.5, false, '">0.4" may be 0.45 or 3: open, the number is used', above],
    ['at or above', m(0.5, '<'), 0.5, false, '"<0.5": no value it allows is ≥ 0.5', atOrAbove],
    [
      'at or above',
      m(0.5, '<='),
      0.5,
      false,
      '"≤0.5" may be 0.5: open, and an upper bound never shows "at or above"',
      atOrAbove,
    ],
    ['at or above', m(0.5, '>='), 0.5, true, '"≥0.5" is at or above 0.5', atOrAbove],
    ['at or above', m(0.5), 0.5, true, '0.5 ≥ 0.5', atOrAbove],
  ])('%s: %p against %p → %p (%s)', (_test, value, threshold, expected, _why, fn) => {
    expect(fn(value, threshold)).toBe(expected);
  });
});

describe('rules on neutrophils (ANC ×10⁹/L) at the bound', () => {
  test('ANC "<0.5" is severe neutropenia: an episode starts on its day (Wang et al. 2021: ANC < 0.5)', () => {
    const a = assessOn(5, [infusion(0), anc(2, 1.2), anc(3, 0.5, { comparator: '<' })]);
    expect(a.severeCytopenias.filter((e) => e.lineage === 'neutrophil')).toMatchObject([
      { onsetDay: 3, nadir: 0.5, ongoing: true },
    ]);
  });

  test('ANC ">0.5" on three days is recovery on the first of them (Wang et al. 2021: ANC > 0.5)', () => {
    const a = assessOn(8, [
      infusion(0),
      anc(2, 0.2),
      anc(3, 0.5, { comparator: '>' }),
      anc(4, 0.5, { comparator: '>' }),
      anc(5, 0.5, { comparator: '>' }),
    ]);
    expect(a.severeCytopenias.find((e) => e.lineage === 'neutrophil')).toMatchObject({
      onsetDay: 2,
      recoveryDay: 3,
      ongoing: false,
    });
  });

  test('ANC "<1.0" on three days after a severe value is no recovery: an upper bound never shows "> 0.5" (§3)', () => {
    const a = assessOn(8, [
      infusion(0),
      anc(2, 0.2),
      anc(3, 1.0, { comparator: '<' }),
      anc(4, 1.0, { comparator: '<' }),
      anc(5, 1.0, { comparator: '<' }),
    ]);
    // "<1.0" is not below 0.5 by its number either: neither severe nor recovered, as 0.5 exactly.
    expect(a.severeCytopenias.find((e) => e.lineage === 'neutrophil')).toMatchObject({
      onsetDay: 2,
      nadirDay: 2,
      recoveryDay: null,
      ongoing: true,
    });
  });

  test('the G-CSF recommendation cites ANC "<0.5" as reported (EHA/EBMT 2023: ANC < 0.5 → G-CSF)', () => {
    const a = assessOn(5, [infusion(0), anc(5, 0.5, { comparator: '<' })]);
    const gcsf = a.recommendations.find((r) => r.kind === 'g-csf');
    expect(gcsf?.reason).toBe(
      `ANC <0.5 ×10⁹/L on day +5 (2026-03-06) is below 0.5 ×10⁹/L (severe neutropenia) and no G-CSF is recorded in the last 2 days.`,
    );
    expect(gcsf?.urgency).toBe('critical');
  });

  test('early ICAHT: ">0.1" is a day ≤ 0.5 by its number (open) but never a day ≤ 0.1 (EHA/EBMT 2023 Table 1)', () => {
    // Days 0–9 reported as ">0.1", then 2.0 from day 10: 10 days ≤ 0.5 (grade 2: 7–13 days, none ≤ 0.1).
    const resources = [infusion(0), ...series(anc, 0, Array<number>(10).fill(0.1)), ...series(anc, 10, [2, 2, 2])];
    const bounded = resources.map((r) =>
      r.resourceType === 'Observation' && r.valueQuantity?.value === 0.1
        ? { ...r, valueQuantity: { ...r.valueQuantity, comparator: '>' as const } }
        : r,
    );
    expect(assessOn(12, bounded).icaht.early).toMatchObject({ grade: 2, daysAnc500: 10, daysAnc100: 0 });
    // The same days reported as 0.1 exactly: 10 days ≤ 0.1 as well → grade 3 (≥ 7 days ≤ 0.1).
    expect(assessOn(12, resources).icaht.early).toMatchObject({ grade: 3, daysAnc500: 10, daysAnc100: 10 });
  });

  test('late ICAHT: two results ">0.1" after day +30 confirm grade 3 (≤ 0.5), not 4 (≤ 0.1) (EHA/EBMT 2023)', () => {
    const a = assessOn(60, [infusion(0), anc(40, 0.1, { comparator: '>' }), anc(50, 0.1, { comparator: '>' })]);
    expect(a.icaht.late).toMatchObject({ grade: 3, measurements: 2 });
    expect(a.icaht.late.confirmedBy?.map((p) => p.comparator)).toEqual(['>', '>']);
  });

  test('CTCAE: ANC "<0.5" is grade 4 (< 0.5), and "<1.0" grade 3 (< 1.0)', () => {
    expect(assessOn(5, [infusion(0), anc(5, 0.5, { comparator: '<' })]).ctcae.neutrophils.latest).toBe(4);
    expect(assessOn(5, [infusion(0), anc(5, 1.0, { comparator: '<' })]).ctcae.neutrophils.latest).toBe(3);
  });

  test('of "<0.5" and 0.5 on one day, the day keeps "<0.5" (the lower true value)', () => {
    const a = assessOn(5, [infusion(0), anc(3, 0.5, { hour: 6 }), anc(3, 0.5, { hour: 18, comparator: '<' })]);
    expect(a.severeCytopenias.filter((e) => e.lineage === 'neutrophil')).toMatchObject([{ onsetDay: 3 }]);
  });
});

describe('rules on platelets, hemoglobin and IgG at the bound', () => {
  test('platelets "<20": severe thrombocytopenia and a critical platelet transfusion review (Wang et al. 2021: < 20)', () => {
    const a = assessOn(5, [infusion(0), plt(5, 20, { comparator: '<' })]);
    expect(a.severeCytopenias.map((e) => e.lineage)).toEqual(['platelet']);
    expect(a.recommendations.find((r) => r.kind === 'platelet-transfusion')).toMatchObject({ urgency: 'critical' });
    expect(a.ctcae.platelets.latest).toBe(4); // < 25
  });

  test('early T-ICAHT: platelets "<50" on 14 days is grade 2 (T-ICAHT Table 1: ≥ 14 days < 50)', () => {
    const days = series(plt, 0, Array<number>(14).fill(50)).map((r) => ({
      ...r,
      valueQuantity: { ...r.valueQuantity, comparator: '<' as const },
    }));
    const a = assessOn(16, [infusion(0), ...days, ...series(plt, 14, [120, 130, 140])]);
    expect(a.icaht.thrombocytopenia.early).toMatchObject({ grade: 2, daysBelow50: 14, daysBelow20: 0 });
  });

  test('hemoglobin "<60" g/L is severe anemia (Wang et al. 2021: < 60 g/L)', () => {
    const a = assessOn(5, [infusion(0), hb(5, 60, { comparator: '<' })]);
    expect(a.severeCytopenias.map((e) => e.lineage)).toEqual(['hemoglobin']);
  });

  test('IgG "<400" mg/dL in a child is below the IVIG threshold (400 mg/dL, Hill et al.)', () => {
    const a = assessOn(30, [patient('female', '2016-01-01'), infusion(0), igg(28, 400, { comparator: '<' })]);
    expect(a.immunoglobulins.IgG.belowIvigThreshold).toBe(true);
    expect(a.recommendations.map((r) => r.kind)).toContain('ivig-review');
  });
});

describe('CAR-HEMATOTOX points from baseline values reported as bounds (Rejeski et al. 2021)', () => {
  const baseline = (...labs: ReturnType<typeof anc>[]) => assessOn(1, [fludarabine(-5), infusion(0), ...labs]);
  test.each<[string, ReturnType<typeof anc>, string, number]>([
    ['ANC "<1.2" → 1 (ANC < 1.2)', anc(-6, 1.2, { comparator: '<' }), 'anc', 1],
    ['Hb "<90" g/L → 1 (Hb < 90)', hb(-6, 90, { comparator: '<' }), 'hemoglobin', 1],
    ['CRP ">3.0" mg/dL → 1 (CRP > 3.0)', crp(-6, 3, { comparator: '>' }), 'crp', 1],
    ['ferritin ">2000" ng/mL → 2 (ferritin > 2000)', ferritin(-6, 2000, { comparator: '>' }), 'ferritin', 2],
    ['platelets ">175" → 0 (platelets > 175)', plt(-6, 175, { comparator: '>' }), 'platelets', 0],
    ['platelets "<75" → 2 (platelets < 75)', plt(-6, 75, { comparator: '<' }), 'platelets', 2],
    [
      'platelets "<200" → 0: open (50 or 190), scored by its number (§3)',
      plt(-6, 200, { comparator: '<' }),
      'platelets',
      0,
    ],
    [
      'ferritin "<700" → 1: open (100 or 690), scored by its number',
      ferritin(-6, 700, { comparator: '<' }),
      'ferritin',
      1,
    ],
    [
      'ferritin ">650" → 1 (650–2000 band, or above: by its number)',
      ferritin(-6, 650, { comparator: '>' }),
      'ferritin',
      1,
    ],
  ])('%s', (_row, lab, component, points) => {
    const c = baseline(lab).hematotox.components[component as 'anc'];
    expect(c).toMatchObject({ points, comparator: lab.valueQuantity?.comparator });
  });
});

test('B-cell aplasia: CD19 "<1" % of lymphocytes is aplasia (CD19+ < 1%, immune-reconstitution thesis)', () => {
  const a = assessOn(30, [infusion(0), obs('8117-4', 1, '%', 14, { comparator: '<' })]);
  expect(a.bCellAplasia).toMatchObject({
    present: true,
    onsetDay: 14,
    latest: { day: 14, percent: 1, percentComparator: '<' },
  });
});

describe('what a clinician reads', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };

  test('the G-CSF card shows the ANC as reported, "<0.5"', () => {
    const a = assessOn(5, [infusion(0), anc(5, 0.5, { comparator: '<' })], { thresholds: clinical.thresholds });
    const card = patientViewCards(a, clinical.thresholds, ctx).find((c) => c.summary.startsWith('ANC'));
    expect(card).toMatchObject({
      indicator: 'critical',
      summary: 'ANC <0.5 ×10⁹/L on day +5, no G-CSF recorded: consider filgrastim 5 µg/kg/day',
    });
  });

  test('a G-CSF order with ANC "<0.5" is not called "without indication" (ANC < 0.5 is the indication)', () => {
    const cardsFor = (comparator?: Cmp, value = 0.5) => {
      const a = assessOn(5, [infusion(0), anc(5, value, comparator ? { comparator } : {})], {
        thresholds: clinical.thresholds,
      });
      const order = filgrastimOrder('p1');
      const advice = adviseOn(order, order.medicationCodeableConcept, clinical.terminology);
      return orderCards(a, advice ? [advice] : [], clinical.terminology, clinical.thresholds, ctx).map(
        (c) => c.summary,
      );
    };
    expect(cardsFor('<')).toEqual([]);
    // "<0.6" may be 0.2: an upper bound never shows the ANC at or above 0.5.
    expect(cardsFor('<', 0.6)).toEqual([]);
    // Exactly 0.5 is not below 0.5: the order has no indication by ANC, as before.
    expect(cardsFor()).toEqual(['G-CSF ordered with ANC 0.5 ×10⁹/L on day +5 (not below 0.5)']);
  });
});

test('the fixture day 0 is the one the expected dates above assume', () => {
  expect(DAY0).toBe('2026-03-01');
});

test("a chart's peak marker keeps the comparator of the value it shows, not that of the day's lowest", () => {
  const a = assessOn(
    5,
    [
      infusion(0),
      ferritin(3, 5, { hour: 6, comparator: '<' }),
      ferritin(3, 300, { hour: 18 }),
      ferritin(4, 1500, { hour: 6 }),
      ferritin(4, 2000, { hour: 18, comparator: '>' }),
    ],
    { includeSeries: true },
  );
  expect(a.series?.ferritin?.map((d) => [d.day, d.value, d.comparator])).toEqual([
    [3, 300, undefined],
    [4, 2000, '>'],
  ]);
});

test('an episode whose nadir was reported "<0.1" carries the bound, and the work-up table shows it', () => {
  const a = assessOn(8, [infusion(0), anc(2, 0.3), anc(3, 0.1, { comparator: '<' }), anc(4, 0.1), anc(5, 0.2)]);
  const [episode] = a.severeCytopenias;
  // "<0.1" on day 3 is lower than 0.1 on day 4 (compareMeasured): the nadir is day 3's.
  expect(episode).toMatchObject({ lineage: 'neutrophil', nadir: 0.1, nadirComparator: '<', nadirDay: 3 });
  expect(episode && fmtMeasured(nadirOf(episode))).toBe('<0.1');
});

test("IgG's chart keeps each day's lowest value, as the IVIG review reads it; peak markers keep their highest", () => {
  const a = assessOn(
    31,
    [
      patient('female', '2016-01-01'),
      infusion(0),
      igg(30, 450, { hour: 6 }),
      igg(30, 300, { hour: 18, comparator: '<' }),
      crp(30, 2, { hour: 6 }),
      crp(30, 9, { hour: 18 }),
    ],
    { includeSeries: true },
  );
  expect(a.series?.igg?.map((d) => [d.day, d.value, d.comparator])).toEqual([[30, 300, '<']]);
  expect(a.series?.crp?.map((d) => [d.day, d.value, d.comparator])).toEqual([[30, 9, undefined]]);
  expect(a.recommendations.map((r) => r.kind)).toContain('ivig-review');
});

test('a CD4/CD8 ratio reported "<1" is inverted (ratio < 1, immune-reconstitution thesis) and shown as "<1"', () => {
  const a = assessOn(30, [infusion(0), obs('54218-3', 1, '{ratio}', 14, { comparator: '<' })]);
  expect(a.cd4cd8).toMatchObject({ inverted: true, onsetDay: 14, latestRatio: 1, latestRatioComparator: '<' });
  expect(cd4cd8Text(a.cd4cd8, DEFAULT_HOSPITAL_THRESHOLDS.values)).toMatch(/^CD4\/CD8 <1 \(inverted since day \+14\)/);
});

test('a CRS peak: ferritin ">2000" is higher than 2000 on another day, and keeps its comparator', () => {
  const a = assessOn(10, [infusion(0), ferritin(3, 2000, { hour: 6 }), ferritin(4, 2000, { comparator: '>' })]);
  expect(a.crs.peaks.ferritin).toMatchObject({ value: 2000, comparator: '>', day: 4 });
});

test('no filgrastim dose in µg from a weight reported as a bound (">150 kg"): the draft order stays per kg', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const weight = obs('29463-7', 150, 'kg', 4, { comparator: '>' });
  const a = assessOn(5, [infusion(0), weight, anc(5, 0.2)], { thresholds: clinical.thresholds });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const card = patientViewCards(a, clinical.thresholds, ctx).find((c) => c.summary.startsWith('ANC'));
  const order = JSON.stringify(card?.suggestions?.[0]?.actions?.[0]?.resource ?? {});
  expect(order).toContain('5 µg/kg');
  expect(order).not.toContain('750');
});

describe('the four tests never contradict the interval a bound gives (property, FHIR R4 QuantityComparator)', () => {
  type Test = (x: Measured, t: number) => boolean;
  /** [low, high, low open, high open]: the true values a reported value allows. */
  const interval = (v: number, c?: Cmp): [number, number, boolean, boolean] =>
    c === '<'
      ? [-Infinity, v, true, true]
      : c === '<='
        ? [-Infinity, v, true, false]
        : c === '>'
          ? [v, Infinity, true, true]
          : c === '>='
            ? [v, Infinity, false, true]
            : [v, v, false, false];
  // For each test: [true for every value the interval allows, false for every one], worked from its comparator.
  const decided: [string, Test, (i: [number, number, boolean, boolean], t: number) => [boolean, boolean]][] = [
    ['below (<)', below, ([lo, hi, , ho], t) => [hi < t || (hi === t && ho), lo >= t]],
    ['at or below (≤)', atOrBelow, ([lo, hi, lo0], t) => [hi <= t, lo > t || (lo === t && lo0)]],
    ['above (>)', above, ([lo, hi, lo0], t) => [lo > t || (lo === t && lo0), hi <= t]],
    ['at or above (≥)', atOrAbove, ([lo, hi, , ho], t) => [lo >= t, hi < t || (hi === t && ho)]],
  ];
  const comparator = fc.constantFrom<Cmp | undefined>(undefined, '<', '<=', '>', '>=');
  // Small integers make equal numbers (the edge every bug here sat on) frequent.
  const number = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 6, noNaN: true }));

  test.each(decided)('%s: true where every allowed value passes, false where none does', (_name, fn, expected) => {
    fc.assert(
      fc.property(number, comparator, number, (v, c, t) => {
        const [allTrue, allFalse] = expected(interval(v, c), t);
        const got = fn(m(v, c), t);
        if (allTrue) expect(got).toBe(true);
        if (allFalse) expect(got).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  test('a plain number is tested as the number: <, ≤, >, ≥', () => {
    fc.assert(
      fc.property(number, number, (v, t) => {
        expect([below(m(v), t), atOrBelow(m(v), t), above(m(v), t), atOrAbove(m(v), t)]).toEqual([
          v < t,
          v <= t,
          v > t,
          v >= t,
        ]);
      }),
    );
  });
});

describe('quantities derived from reported bounds: a CD4/CD8 ratio, an immunoglobulin change', () => {
  // CD4 (LOINC 24467-3) and CD8 (14135-8) counts in cells/µL, read as ×10⁹/L.
  const cd4 = (day: number, v: number, c?: Cmp) => obs('24467-3', v, '/uL', day, c ? { comparator: c } : {});
  const cd8 = (day: number, v: number, c?: Cmp) => obs('14135-8', v, '/uL', day, c ? { comparator: c } : {});
  const t = DEFAULT_HOSPITAL_THRESHOLDS.values;

  test.each<[string, Measured, Measured, Measured | undefined]>([
    ['"<4" ÷ 2: the true quotient is below 2', m(4, '<'), m(2), m(2, '<')],
    ['4 ÷ ">2": a larger divisor, a smaller quotient', m(4), m(2, '>'), m(2, '<')],
    ['4 ÷ "<2": a smaller divisor, a larger quotient', m(4), m(2, '<'), m(2, '>')],
    ['">4" ÷ "<2": both push it up', m(4, '>'), m(2, '<'), m(2, '>')],
    ['"≤4" ÷ "≥2": at most 2, 2 included', m(4, '<='), m(2, '>='), m(2, '<=')],
    ['"≤4" ÷ ">2": strictly below 2, since the divisor is strictly above 2', m(4, '<='), m(2, '>'), m(2, '<')],
    ['"≥4" ÷ 2', m(4, '>='), m(2), m(2, '>=')],
    ['"<4" ÷ "<2": anything (0.1 ÷ 1.9 or 3.9 ÷ 0.1): not known', m(4, '<'), m(2, '<'), undefined],
    ['">4" ÷ "≥2": not known', m(4, '>'), m(2, '>='), undefined],
    ['0 ÷ "<2" is 0, not ">0"', m(0), m(2, '<'), m(0)],
    ['"≥0" ÷ "<2" is "≥0": it may be exactly 0', m(0, '>='), m(2, '<'), m(0, '>=')],
    ['4 ÷ 2 is 2', m(4), m(2), m(2)],
  ])('%s', (_why, a, b, expected) => {
    expect(quotient(a, b)).toEqual(expected);
  });

  test('quotient never contradicts the intervals of its operands (property, FHIR R4 QuantityComparator)', () => {
    const comparator = fc.constantFrom<Cmp | undefined>(undefined, '<', '<=', '>', '>=');
    const positive = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.01, max: 1000, noNaN: true }));
    // A true value the report allows: the number itself where the bound includes it, else a step inside.
    const truth = (v: number, c: Cmp | undefined, f: number, include: boolean): number =>
      c === undefined || ((c === '<=' || c === '>=') && include)
        ? v
        : c === '<' || c === '<='
          ? v * (1 - f)
          : v * (1 + 10 * f);
    fc.assert(
      fc.property(
        positive,
        comparator,
        positive,
        comparator,
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.boolean(),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.boolean(),
        (a, ca, b, cb, fa, ia, fb, ib) => {
          const q = quotient(m(a, ca), m(b, cb));
          if (!q) return;
          const r = truth(a, ca, fa, ia) / truth(b, cb, fb, ib);
          if (q.comparator === '<') expect(r).toBeLessThan(q.value);
          else if (q.comparator === '<=') expect(r).toBeLessThanOrEqual(q.value);
          else if (q.comparator === '>') expect(r).toBeGreaterThan(q.value);
          else if (q.comparator === '>=') expect(r).toBeGreaterThanOrEqual(q.value);
          else expect(r).toBe(q.value);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('CD4 "<50" and CD8 400 /µL: the ratio is below 0.125, inverted (< 1, immune-reconstitution thesis), shown "<0.13"', () => {
    const a = assessOn(30, [infusion(0), cd4(14, 50, '<'), cd8(14, 400)]);
    expect(a.cd4cd8).toEqual({
      inverted: true,
      onsetDay: 14,
      latestRatio: 0.13, // 0.125 rounded up: an upper bound is never rounded below its number
      latestRatioComparator: '<',
      cd4Low: true, // "<0.05" ×10⁹/L is below 0.2 (Rejeski et al. 2023)
    });
    expect(cd4cd8Text(a.cd4cd8, t)).toBe(
      'CD4/CD8 <0.13 (inverted since day +14); CD4 < 0.2 ×10⁹/L: antiviral prophylaxis stays indicated',
    );
  });

  test('CD4 300 and CD8 "<200" /µL: the ratio is above 1.5, not inverted, shown ">1.5"', () => {
    const a = assessOn(30, [infusion(0), cd4(14, 300), cd8(14, 200, '<')]);
    expect(a.cd4cd8).toEqual({
      inverted: false,
      onsetDay: null,
      latestRatio: 1.5,
      latestRatioComparator: '>',
      cd4Low: false,
    });
    expect(cd4cd8Text(a.cd4cd8, t)).toBe('CD4/CD8 >1.5');
  });

  test('CD4 300 and CD8 "<375" /µL: above 0.8, inverted by its number only, and the text says the true ratio may be 1 or more', () => {
    const a = assessOn(30, [infusion(0), cd4(14, 300), cd8(14, 375, '<')]);
    expect(a.cd4cd8).toMatchObject({ inverted: true, latestRatio: 0.8, latestRatioComparator: '>' });
    expect(cd4cd8Text(a.cd4cd8, t)).toBe(
      'CD4/CD8 >0.8 (inverted since day +14 by its number; the true ratio may be 1 or more)',
    );
  });

  test('CD4 "<50" and CD8 "<100" /µL: no ratio is known that day; the earlier one stands and the unknown day is said', () => {
    // Before: 0.05 ÷ 0.1 = 0.5 was taken as an inverted ratio; the true one may be 0.1 or 5.
    const a = assessOn(30, [infusion(0), cd4(7, 600), cd8(7, 300), cd4(14, 50, '<'), cd8(14, 100, '<')]);
    expect(a.cd4cd8).toEqual({ inverted: false, onsetDay: null, latestRatio: 2, ratioUnknownDay: 14, cd4Low: true });
    expect(cd4cd8Text(a.cd4cd8, t)).toBe(
      'CD4/CD8 2, not known on day +14 (CD4 and CD8 both reported only as a limit); CD4 < 0.2 ×10⁹/L: antiviral prophylaxis stays indicated',
    );
  });

  test('only such a day: the ratio is not known, and the text says so rather than "not measured"', () => {
    const a = assessOn(30, [infusion(0), cd4(14, 50, '<'), cd8(14, 100, '<')]);
    expect(a.cd4cd8).toEqual({ inverted: null, onsetDay: null, latestRatio: null, ratioUnknownDay: 14, cd4Low: true });
    expect(cd4cd8Text(a.cd4cd8, t)).toBe(
      'CD4/CD8 not known on day +14 (CD4 and CD8 both reported only as a limit); CD4 < 0.2 ×10⁹/L: antiviral prophylaxis stays indicated',
    );
  });

  test.each<[string, number, Cmp | undefined, number, Cmp | undefined, number | null, Cmp | undefined, boolean | null]>(
    [
      // [why, baseline, its comparator, latest, its comparator, changePct, its comparator, decline (≥ 10 % fall, our choice §8)]
      ['IgG 800 then "<400": a fall of more than 50 %', 800, undefined, 400, '<', -50, '<', true],
      [
        '700 then "<400": below -42.857 %, shown as "<-42.8" (rounded up, never across)',
        700,
        undefined,
        400,
        '<',
        -42.8,
        '<',
        true,
      ],
      [
        '700 then 400 (a number): -42.857 % to the nearest, as before',
        700,
        undefined,
        400,
        undefined,
        -42.9,
        undefined,
        true,
      ],
      ['800 then ">760": above -5 %, no decline', 800, undefined, 760, '>', -5, '>', false],
      [
        'IgA "<50" at baseline and "<50" after: not known (was "0 %", no decline)',
        50,
        '<',
        50,
        '<',
        null,
        undefined,
        null,
      ],
      ['">1600" then ">1600": not known', 1600, '>', 1600, '>', null, undefined, null],
    ],
  )('%s', (_why, base, cb, latest, cl, changePct, changeComparator, decline) => {
    const a = assessOn(60, [
      infusion(0),
      igg(-6, base, cb ? { comparator: cb } : {}),
      igg(50, latest, cl ? { comparator: cl } : {}),
    ]);
    const g = a.immunoglobulins.IgG;
    expect({ changePct: g.changePct, changeComparator: g.changeComparator, decline: g.decline }).toEqual({
      changePct,
      changeComparator,
      decline,
    });
  });

  test('the summary card after day +100 gives the change as a bound: "<-50% vs baseline"', () => {
    const clinical = loadClinicalContext({ timeZone: 'UTC' });
    const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
    const a = assessOn(120, [infusion(0), igg(-6, 800), igg(110, 400, { comparator: '<' })], {
      thresholds: clinical.thresholds,
    });
    const summary = patientViewCards(a, clinical.thresholds, ctx).find((c) => c.summary.startsWith('CAR-T day +120'));
    // Day 0 is 2026-03-01, so day +110 is 2026-06-19.
    expect(summary?.detail).toContain('**Immune reconstitution:** IgG <400 mg/dL (2026-06-19), <-50% vs baseline; ');
  });

  test('the change as a clinician reads it, in the card and the SMART app', () => {
    expect(changeText({ changePct: -50, changeComparator: '<' })).toBe('<-50%');
    expect(changeText({ changePct: 12.5 })).toBe('+12.5%');
    expect(changeText({ changePct: null })).toBe('–');
  });

  test.each<[Measured, string]>([
    [m(0.124, '<'), '<0.124'], // two digits would read "<0.12", which the report does not say
    [m(0.126, '<'), '<0.13'], // rounding up keeps an upper bound true
    [m(2.346, '>'), '>2.346'], // "2.35" would claim more than the report
    [m(2.344, '>'), '>2.34'],
    [m(0.124), '0.12'], // a number is rounded to the nearest, as before
    [m(0.5, '<'), '<0.5'],
    [m(0.12345612, '<'), '<0.1235'], // rounded up, at the first precision that keeps it true
    [m(0.9999999, '>'), '>0.9999999'], // ">1" would claim more than the report
  ])('a bound is never rounded across its number: %j reads %s', (value, shown) => {
    expect(fmtMeasured(value)).toBe(shown);
  });
});

describe('the CLI CSV writes a bound as the laboratory wrote it, never as a plain number', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const header = assessmentCsvHeader().split(',');
  const cells = (a: ReturnType<typeof assessOn>): Record<string, string> => {
    const row = assessmentCsvRow(a, clinical).split(',');
    return Object.fromEntries(header.map((name, i) => [name, row[i] ?? '']));
  };
  const columns = [
    'severeNeutropeniaNadir [10^9/L]',
    'iggBaseline [mg/dL]',
    'iggLatest [mg/dL]',
    'iggChange [%]',
  ] as const;

  // Each row: the results, then the four cells worked out by hand. IgG change = (latest ÷ baseline − 1) × 100,
  // with the bound that follows from the latest's: 400 ÷ 800 − 1 = −50 %, "<400" gives "<-50".
  test.each<[string, Parameters<typeof assessOn>[1], [string, string, string, string]]>([
    [
      'ANC "<0.1" at the nadir, IgG "<400" after 800',
      [infusion(0), anc(5, 0.3), anc(7, 0.1, { comparator: '<' }), igg(-6, 800), igg(110, 400, { comparator: '<' })],
      ['<0.1', '800', '<400', '<-50'],
    ],
    [
      'plain numbers stay numbers',
      [infusion(0), anc(5, 0.3), anc(7, 0.1), igg(-6, 800), igg(110, 400)],
      ['0.1', '800', '400', '-50'],
    ],
    [
      'both IgG results "<200": the change is not known, an empty cell',
      [infusion(0), igg(-6, 200, { comparator: '<' }), igg(110, 200, { comparator: '<' })],
      ['', '<200', '<200', ''],
    ],
  ])('%s', (_case, resources, expected) => {
    const row = cells(assessOn(120, resources, { thresholds: clinical.thresholds }));
    expect(columns.map((c) => row[c])).toEqual(expected);
  });
});
