/**
 * CAR-HEMATOTOX (Rejeski et al., Blood 2021; docs/clinical-logic.md §7) and immune reconstitution
 * (immune-reconstitution thesis; docs/clinical-logic.md §8).
 */
import { describe, expect, test } from '@jest/globals';
import { cd4cd8Text } from '../../src/clinical/format.js';
import { hematotoxPoints } from '../../src/clinical/hematotox.js';
import { DEFAULT_THRESHOLDS as T } from '../../src/clinical/thresholds.js';
import {
  dateOf,
  anc,
  assessOn,
  cd19abs,
  cd19pct,
  crp,
  ferritin,
  fludarabine,
  hb,
  igg,
  infusion,
  infusionProcedure,
  ivig,
  obs,
  patient,
  plt,
} from '../helpers/fhir.js';

const HT = 'CAR-HEMATOTOX, Blood 2021 / docs/clinical-logic.md §7';

describe('CAR-HEMATOTOX points, boundaries included', () => {
  test.each([
    ['platelets', 176, 0],
    ['platelets', 175, 1],
    ['platelets', 75, 1],
    ['platelets', 74.9, 2],
    ['anc', 1.2, 0],
    ['anc', 1.19, 1],
    ['hemoglobin', 90, 0],
    ['hemoglobin', 89, 1],
    ['crp', 3.0, 0],
    ['crp', 3.01, 1],
    ['ferritin', 649, 0],
    ['ferritin', 650, 1],
    ['ferritin', 2000, 1],
    ['ferritin', 2001, 2],
  ] as const)('%s %d → %d point(s) (' + HT + ')', (component, value, points) => {
    expect(hematotoxPoints(component, { value }, T.hematotox)).toBe(points);
  });
});

describe('CAR-HEMATOTOX from baseline values before lymphodepletion', () => {
  const baseline = (o: { plt?: number; anc?: number; hb?: number; crp?: number; ferritin?: number }) => [
    fludarabine(-5),
    infusion(0),
    ...(o.plt !== undefined ? [plt(-6, o.plt)] : []),
    ...(o.anc !== undefined ? [anc(-6, o.anc)] : []),
    ...(o.hb !== undefined ? [hb(-6, o.hb)] : []),
    ...(o.crp !== undefined ? [crp(-6, o.crp)] : []),
    ...(o.ferritin !== undefined ? [ferritin(-6, o.ferritin)] : []),
  ];
  test('score 1 → low risk; score 2 → high risk (0-1 low, ≥ 2 high)', () => {
    expect(assessOn(1, baseline({ plt: 200, anc: 2, hb: 120, crp: 0.5, ferritin: 700 })).hematotox).toMatchObject({
      score: 1,
      risk: 'low',
      missing: [],
    });
    expect(assessOn(1, baseline({ plt: 150, anc: 2, hb: 120, crp: 0.5, ferritin: 700 })).hematotox).toMatchObject({
      score: 2,
      risk: 'high',
    });
  });

  test('values after lymphodepletion started are not baseline', () => {
    const a = assessOn(1, [
      ...baseline({ plt: 200, anc: 2, hb: 120, crp: 0.5, ferritin: 100 }),
      plt(-3, 20),
      ferritin(-2, 5000),
    ]);
    expect(a.hematotox).toMatchObject({
      score: 0,
      components: { platelets: { value: 200 }, ferritin: { value: 100 } },
    });
  });

  test('without a recorded lymphodepletion, baseline is before day 0: a value of day 0, even before the infusion, is not (clinical spec §1)', () => {
    // PLT 200 on day −1 (0 points), 60 on day 0 at 06:00, infusion at 10:00: the baseline is 200.
    const a = assessOn(1, [
      infusion(0),
      plt(-1, 200),
      plt(0, 60),
      anc(-1, 2),
      hb(-1, 120),
      crp(-1, 0.5),
      ferritin(-1, 100),
    ]);
    expect(a.hematotox).toMatchObject({ score: 0, risk: 'low', components: { platelets: { value: 200 } } });
    // With only day-0 values there is no baseline platelet count.
    const b = assessOn(1, [infusion(0), plt(0, 60)]);
    expect(b.hematotox.components.platelets).toBeUndefined();
  });

  test('a missing component: no score; high risk only if the known points already reach 2', () => {
    const low = assessOn(1, baseline({ plt: 200, anc: 2, hb: 120, crp: 0.5 })).hematotox;
    expect(low).toMatchObject({ score: null, partialScore: 0, risk: null, missing: ['ferritin'] });
    const high = assessOn(1, baseline({ plt: 60, anc: 2, hb: 120, crp: 0.5 })).hematotox;
    expect(high).toMatchObject({ score: null, partialScore: 2, risk: 'high', missing: ['ferritin'] });
  });

  test('the B-ALL caveat is always given', () => {
    expect(assessOn(1, baseline({})).hematotox.caveat).toContain('B-ALL');
  });
});

describe('immunoglobulins (immune-reconstitution thesis; Hill et al.)', () => {
  test('decline vs baseline and the IVIG threshold: 399 below, 400 not', () => {
    const below = assessOn(100, [infusion(0), igg(-6, 900), igg(90, 399)]);
    expect(below.immunoglobulins.IgG).toMatchObject({
      baseline: { value: 900 },
      latest: { value: 399, day: 90 },
      changePct: -55.7,
      decline: true,
      belowIvigThreshold: true,
    });
    const at = assessOn(100, [infusion(0), igg(-6, 900), igg(90, 400)]);
    expect(at.immunoglobulins.IgG.belowIvigThreshold).toBe(false);
  });

  test('a fall under 10% is not called a decline (assay noise)', () => {
    expect(assessOn(60, [infusion(0), igg(-6, 900), igg(50, 850)]).immunoglobulins.IgG).toMatchObject({
      changePct: -5.6,
      decline: false,
    });
  });

  test('IgG in g/L is read as mg/dL', () => {
    expect(assessOn(60, [infusion(0), obs('2465-3', 3.5, 'g/L', 50)]).immunoglobulins.IgG.latest?.value).toBe(350);
  });

  test('an IgG measured after IVIG is flagged', () => {
    const a = assessOn(100, [infusion(0), ivig(80), igg(90, 700)]);
    expect(a.issues.some((i) => i.code === 'ivig-recent')).toBe(true);
  });

  test('the latest IgG is that of the latest date, as the IVIG card cites it (a value with its own offset keeps its date)', () => {
    // IgG 600 at 21:00−05:00 on day +99 (02:00 UTC on day +100), IgG 300 dated day +100 without a time.
    const a = assessOn(100, [
      infusion(0),
      { ...igg(99, 600, { id: 'evening' }), effectiveDateTime: `${dateOf(99)}T21:00:00-05:00` },
      { ...igg(100, 300, { id: 'date-only' }), effectiveDateTime: dateOf(100) },
    ]);
    expect(a.immunoglobulins.IgG.latest).toMatchObject({ value: 300, day: 100 });
    expect(a.latest.igg).toMatchObject({ value: 300, day: 100 });
  });

  test('CD4 and body weight are likewise those of the latest date', () => {
    // CD4 300 /µL at 21:00−05:00 on day +9 (02:00 UTC on day +10), CD4 150 dated day +10 without a time: < 0.2 ×10⁹/L.
    // Weight 80 kg the same evening, 60 kg dated day +10.
    const a = assessOn(10, [
      infusion(0),
      { ...obs('24467-3', 300, '/uL', 9), effectiveDateTime: `${dateOf(9)}T21:00:00-05:00` },
      { ...obs('24467-3', 150, '/uL', 10), id: 'cd4-date-only', effectiveDateTime: dateOf(10) },
      { ...obs('29463-7', 80, 'kg', 9), id: 'w-evening', effectiveDateTime: `${dateOf(9)}T21:00:00-05:00` },
      { ...obs('29463-7', 60, 'kg', 10), id: 'w-date-only', effectiveDateTime: dateOf(10) },
    ]);
    expect(a.cd4cd8.cd4Low).toBe(true);
    expect(a.bodyWeight).toMatchObject({ value: 60, date: dateOf(10) });
  });

  // "An IgG measured within 28 days after IVIG is flagged" [immunoglobulins.ivigRecentDays] (docs §8). IgG at 06:00, IVIG 10:00.
  test.each<[string, Parameters<typeof assessOn>[1], boolean]>([
    ['IVIG on day +72, IgG on day +100: 28 days after → flagged', [ivig(72), igg(100, 700)], true],
    ['IVIG on day +71, IgG on day +100: 29 days after → not flagged', [ivig(71), igg(100, 700)], false],
    ['IVIG on day +10, IgG on day +100: 90 days after → not flagged', [ivig(10), igg(100, 700)], false],
    ['IgG at 06:00, IVIG at 10:00 the same day: drawn before it → not flagged', [igg(100, 700), ivig(100)], false],
    [
      'IgG and IVIG both at 10:00: the order is unknown → not flagged (the IVIG review counts it as answered)',
      [igg(100, 700, { hour: 10 }), ivig(100)],
      false,
    ],
  ])('%s', (_rule, resources, flagged) => {
    const a = assessOn(110, [infusion(0), ...resources]);
    expect(a.issues.some((i) => i.code === 'ivig-recent')).toBe(flagged);
  });
});

describe('B-cell aplasia: CD19 < 1% and/or < 100 cells/µL (immune-reconstitution thesis; docs/clinical-logic.md §8)', () => {
  test('onset on the first sample meeting the cut-offs', () => {
    const a = assessOn(30, [infusion(0), cd19pct(-6, 8), cd19pct(7, 0.4), cd19pct(14, 0.1), cd19pct(28, 0.2)]);
    expect(a.bCellAplasia).toMatchObject({ present: true, onsetDay: 7, lossDay: null });
  });

  test('both criteria where both are measured: 0.5% but 150 cells/µL is not aplasia', () => {
    const a = assessOn(30, [infusion(0), cd19pct(7, 0.5), cd19abs(7, 150)]);
    expect(a.bCellAplasia.present).toBe(false);
  });

  test('loss needs a second sample above the cut-off; within 6 months after tisagenlecleucel it predicts relapse', () => {
    const one = assessOn(130, [infusion(0), cd19pct(7, 0.1), cd19pct(120, 3)]);
    expect(one.bCellAplasia).toMatchObject({ present: true, lossUnconfirmed: true, lossDay: null });
    const two = assessOn(160, [infusion(0), cd19pct(7, 0.1), cd19pct(120, 3), cd19pct(150, 5)]);
    expect(two.bCellAplasia).toMatchObject({ present: false, lossDay: 120, lossPredictsRelapse: true });
  });

  // Clinical spec §6: "Loss of aplasia needs a second sample above the cut-off" (1 %, 100 cells/µL). Rows by hand:
  // samples after an onset of 0.1 % on day +7, tisagenlecleucel → loss day, and whether it predicts relapse.
  test.each<[string, Parameters<typeof assessOn>[1], number | null, boolean]>([
    ['1.0 % on days +60 and +90: at the cut-off, not above → no loss', [cd19pct(60, 1), cd19pct(90, 1)], null, false],
    ['1.1 % on days +60 and +90: above → loss on day +60', [cd19pct(60, 1.1), cd19pct(90, 1.1)], 60, true],
    [
      '1.0 % then 2 % and 3 %: the loss starts at the first sample above',
      [cd19pct(60, 1), cd19pct(90, 2), cd19pct(120, 3)],
      90,
      true,
    ],
    ['100 cells/µL twice: at the cut-off → no loss', [cd19abs(60, 100), cd19abs(90, 100)], null, false],
    ['101 cells/µL twice: above → loss on day +60', [cd19abs(60, 101), cd19abs(90, 101)], 60, true],
  ])('%s', (_rule, later, lossDay, relapse) => {
    const a = assessOn(150, [infusion(0), cd19pct(7, 0.1), ...later]);
    expect(a.bCellAplasia).toMatchObject({
      onsetDay: 7,
      lossDay,
      lossPredictsRelapse: relapse,
      present: lossDay === null,
    });
    expect(a.recommendations.some((r) => r.kind === 'b-cell-recovery')).toBe(relapse);
  });

  test('loss after a product other than tisagenlecleucel is reported without the relapse flag', () => {
    const a = assessOn(160, [infusionProcedure(0), cd19pct(7, 0.1), cd19pct(120, 3), cd19pct(150, 5)]);
    expect(a.bCellAplasia).toMatchObject({ lossDay: 120, lossPredictsRelapse: false });
  });
});

describe('CD4/CD8 (immune-reconstitution thesis: inversion within 14 days in 91%)', () => {
  test('inversion day from a measured ratio', () => {
    const a = assessOn(30, [
      infusion(0),
      obs('54218-3', 1.6, '{ratio}', -6),
      obs('54218-3', 1.2, '{ratio}', 7),
      obs('54218-3', 0.6, '{ratio}', 14),
    ]);
    expect(a.cd4cd8).toMatchObject({ inverted: true, onsetDay: 14, latestRatio: 0.6 });
  });

  test('ratio computed from CD4 and CD8 counts of the same day; CD4 < 0.2 ×10⁹/L flagged', () => {
    const a = assessOn(30, [infusion(0), obs('24467-3', 150, '/uL', 10), obs('14135-8', 300, '/uL', 10)]);
    expect(a.cd4cd8).toMatchObject({ inverted: true, onsetDay: 10, latestRatio: 0.5, cd4Low: true });
  });

  test('a CD4 count from before the infusion says nothing of prophylaxis after it', () => {
    const a = assessOn(30, [infusion(0), obs('24467-3', 150, '/uL', -10)]);
    expect(a.cd4cd8).toEqual({ inverted: null, onsetDay: null, latestRatio: null, cd4Low: null });
  });

  test('CD4 150 /µL without CD8: no ratio, and the text still says antiviral prophylaxis stays indicated (Rejeski et al. 2023)', () => {
    const a = assessOn(30, [infusion(0), obs('24467-3', 150, '/uL', 10)]);
    expect(a.cd4cd8).toEqual({ inverted: null, onsetDay: null, latestRatio: null, cd4Low: true });
    expect(cd4cd8Text(a.cd4cd8, T)).toBe(
      'CD4/CD8 not measured; CD4 < 0.2 ×10⁹/L: antiviral prophylaxis stays indicated',
    );
  });
});

describe('timeline (docs/clinical-logic.md §2)', () => {
  test('day 0 is the latest infusion; earlier ones are listed', () => {
    const a = assessOn(40, [infusion(-60), infusion(0)]);
    expect(a.infusionDate).toBe(a.infusions[1]?.date);
    expect(a.infusions.map((i) => i.day)).toEqual([-60, 0]);
    expect(a.issues.some((i) => i.code === 'infusion' && i.message.includes('day 0 is the latest'))).toBe(true);
  });

  test('a MedicationAdministration and a Procedure on the same day are one infusion', () => {
    const a = assessOn(5, [infusion(0), infusionProcedure(0)]);
    expect(a.infusions).toHaveLength(1);
    expect(a.infusions[0]?.references).toHaveLength(2);
    expect(a.infusions[0]?.product).toBe('tisagenlecleucel');
  });

  test('the request can name day 0', () => {
    const a = assessOn(40, [infusion(-60), infusion(0)], { infusionDate: '2025-12-31' });
    expect(a.infusionDate).toBe('2025-12-31');
  });

  test('an infusion after asOf is ignored', () => {
    const a = assessOn(-3, [infusion(0)]);
    expect(a.infusionDate).toBeNull();
    expect(a.recommendations).toEqual([]);
  });

  test('lymphodepletion sets the baseline cut-off', () => {
    const a = assessOn(5, [fludarabine(-5), infusion(0), patient()]);
    expect(a.lymphodepletionDate).toBe(a.hematotox.baselineBefore);
  });
});
