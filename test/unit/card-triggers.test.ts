/**
 * The summary line of an action card names what triggered it, and a grade is shown as the counts allow
 * it ("≥", "so far"), as the rule says (docs/clinical-logic.md §6, §10). Expected texts by hand.
 */
import { describe, expect, test } from '@jest/globals';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { anc, assessOn, gcsf, infusion, plt, series } from '../helpers/fhir.js';

const clinical = loadClinicalContext({ timeZone: 'UTC' });
const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
const cards = (a: ReturnType<typeof assessOn>) => patientViewCards(a, clinical.thresholds, ctx, clinical.terminology);

describe('the work-up card says what triggered it (EHA/EBMT 2023: PHT, early ICAHT ≥ 3, late ICAHT ≥ 3)', () => {
  test('late ICAHT grade 3 (ANC ≤ 0.5 twice after day +30), no early ANC: the summary names late ICAHT, not early', () => {
    const a = assessOn(60, [infusion(0), gcsf(59), anc(45, 0.4), anc(60, 0.3)]);
    const workup = cards(a).find((c) => c.summary.endsWith('work up the cytopenia'));
    expect(workup?.summary).toBe(
      'Late ICAHT grade 3 (ANC 0.3 ×10⁹/L on day +60, 0.4 ×10⁹/L on day +45): work up the cytopenia',
    );
  });

  test('PHT through platelets while the ANC near day +28 is not severe: the summary cites the platelets', () => {
    // ANC 0.3 on day 5, 0.6 on 27, 0.7 on 28, 0.4 on 33 and 40 (neutrophil PHT not known); PLT 10 from day 20 (ST on
    // day 28: PHT, Wang 2021). The summary named "ANC 0.7 ×10⁹/L on day +28" as the PHT value.
    const a = assessOn(40, [
      infusion(0),
      anc(5, 0.3),
      anc(27, 0.6),
      anc(28, 0.7),
      anc(33, 0.4),
      anc(40, 0.4),
      ...series(plt, 20, Array<number>(21).fill(10)),
    ]);
    expect(a.prolongedHematologicToxicity).toBe(true);
    const workup = cards(a).find((c) => c.summary.endsWith('work up the cytopenia'));
    expect(workup?.summary).toBe(
      'Severe cytopenia on day +28 (PHT): Platelets 10 ×10⁹/L on day +28; work up the cytopenia',
    );
  });

  test('early ICAHT grade 3 (14 days ≤ 0.5): the summary names early ICAHT', () => {
    const a = assessOn(20, [infusion(0), ...series(anc, 0, [2, ...Array<number>(14).fill(0.3), 1.5, 1.6, 1.7])]);
    const workup = cards(a).find((c) => c.summary.endsWith('work up the cytopenia'));
    expect(workup?.summary).toBe('Early ICAHT grade 3 so far (ANC ≤ 0.5 on 14 days): work up the cytopenia');
  });
});

describe('early grades as the counts allow them', () => {
  test('early T-ICAHT on day +20 is "so far"', () => {
    // Platelets < 50 on days 1–8 (8 days: grade 2, T-ICAHT paper), day +20: the window runs to day +30.
    const a = assessOn(20, [
      infusion(0),
      ...series(plt, 0, [120, ...Array<number>(8).fill(40), ...Array<number>(12).fill(90)]),
    ]);
    const summary = cards(a).find((c) => c.summary.startsWith('CAR-T day'));
    expect(summary?.detail).toContain('**Thrombocytopenia (T-ICAHT):** early grade 2 so far (platelets < 50 on 8 days');
  });

  test('after day +30, an early ICAHT grade that missing days leave open is "≥ N" in the late summary', () => {
    // ANC ≤ 0.5 on days 1–3 and 9–14, no count on days 4–8 (5 days: more than 3, so not counted below, spec §1):
    // 9 days counted → grade 2 (7–13 days); counting the gap, 14 → grade 3. So "≥ 2" (EHA/EBMT 2023 Table 1).
    const values = [
      2,
      0.3,
      0.3,
      0.3,
      null,
      null,
      null,
      null,
      null,
      ...Array<number>(6).fill(0.3),
      ...Array<number>(20).fill(1.5),
    ];
    const a = assessOn(40, [infusion(0), ...series(anc, 0, values)]);
    expect(a.icaht.early).toMatchObject({ grade: 2, atLeast: true, complete: true });
    const summary = cards(a).find((c) => c.summary.startsWith('CAR-T day'));
    expect(summary?.detail).toContain('**EHA/EBMT ICAHT:** early grade ≥ 2; late grade');
  });
});

describe('the CAR-HEMATOTOX texts say which baseline they used, once', () => {
  test('high score without a recorded lymphodepletion: the prophylaxis card gives the B-ALL caveat once, and "at baseline"', () => {
    // Platelets 60 on day −1 (< 75: 2 points, Rejeski 2021): high risk on day +1 with the other components missing.
    const a = assessOn(1, [infusion(0), plt(-1, 60)]);
    const card = cards(a).find((c) => c.summary.includes('prophylactic G-CSF'));
    const caveat = a.hematotox.caveat;
    expect(card?.detail?.split(caveat).length).toBe(2);
    expect(card?.detail).toContain('Not measured at baseline: ANC, Hemoglobin, CRP, Ferritin.');
    expect(card?.detail).toContain('| Before day 0 | Value | Date | Points |');
  });

  test('the summary says "before day 0" when no lymphodepletion is recorded', () => {
    const a = assessOn(1, [infusion(0), plt(-1, 200)]);
    const summary = cards(a).find((c) => c.summary.startsWith('CAR-T day'));
    expect(summary?.detail).toContain('before day 0 (no lymphodepletion recorded).');
  });
});

describe('PHT that cannot be judged says where to look, not a reason that may be false', () => {
  test('ANC 0.8 on day 26, ≤ 0.5 on days 29–33: values are near day 28, yet PHT is not known', () => {
    const a = assessOn(33, [infusion(0), anc(26, 0.8), ...series(anc, 29, [0.3, 0.3, 0.3, 0.3, 0.3])]);
    expect(a.prolongedHematologicToxicity).toBeNull();
    const summary = cards(a).find((c) => c.summary.startsWith('CAR-T day'));
    expect(summary?.summary).toContain('PHT not known from the values around day 28');
    expect(summary?.detail).toContain('Neutrophil severe from day 29, with no value from day 28 until then');
  });
});
