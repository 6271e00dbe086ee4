/**
 * What the cards advise (docs/clinical-logic.md): triggers at their thresholds, hospital
 * overrides, staleness, and the sources cited.
 */
import { describe, expect, test } from '@jest/globals';
import {
  anc,
  assessOn,
  crp,
  ferritin,
  fludarabine,
  gcsf,
  hb,
  igg,
  infusion,
  patient,
  plt,
  series,
} from '../helpers/fhir.js';

const kinds = (a: ReturnType<typeof assessOn>) => a.recommendations.map((r) => r.kind);

describe('triggers and thresholds (docs/clinical-logic.md §10)', () => {
  test.each([
    ['ANC 0.49 → G-CSF (Wang et al. 2021; EHA/EBMT)', anc(9, 0.49), 'g-csf', true],
    ['ANC 0.5 → none', anc(9, 0.5), 'g-csf', false],
    ['Hb 59 → red cell transfusion review (Wang et al. 2021)', hb(9, 59), 'red-cell-transfusion', true],
    ['Hb 60 → none', hb(9, 60), 'red-cell-transfusion', false],
    ['PLT 19 → platelet transfusion review (Wang et al. 2021)', plt(9, 19), 'platelet-transfusion', true],
    ['PLT 20 → none', plt(9, 20), 'platelet-transfusion', false],
    ['IgG 399 → IVIG review (Hill et al.)', igg(9, 399), 'ivig-review', true],
    ['IgG 400 → none', igg(9, 400), 'ivig-review', false],
  ])('%s', (_name, observation, kind, expected) => {
    expect(kinds(assessOn(10, [infusion(0), observation])).includes(kind as never)).toBe(expected);
  });

  test('each recommendation states the threshold in force, its source and its evidence', () => {
    const a = assessOn(10, [infusion(0), anc(9, 0.2)]);
    expect(a.recommendations[0]).toMatchObject({
      kind: 'g-csf',
      urgency: 'critical',
      threshold: { value: 0.5, unit: '10*9/L', comparator: '<', path: 'actions.gcsfAnc', overridden: false },
      source: { label: expect.stringContaining('EHA/EBMT'), url: 'https://doi.org/10.1182/blood.2023020578' },
      evidence: [expect.stringMatching(/^Observation\//)],
      values: [expect.objectContaining({ analyte: 'anc', value: 0.2, day: 9 })],
      stale: false,
    });
    expect(a.recommendations[0]?.reason).toContain('ANC 0.2 ×10⁹/L on day +9');
  });

  test('a hospital threshold replaces the default and is cited as local', () => {
    const a = assessOn(10, [infusion(0), hb(9, 65)], { thresholdsFile: { actions: { redCellHemoglobin: 70 } } });
    expect(a.recommendations[0]).toMatchObject({
      kind: 'red-cell-transfusion',
      urgency: 'warning',
      threshold: { value: 70, overridden: true },
      source: { label: expect.stringContaining('Hospital setting (default from') },
    });
  });

  test('a value below the severe threshold is critical, between it and a higher hospital threshold a warning', () => {
    const severe = assessOn(10, [infusion(0), plt(9, 8)], { thresholdsFile: { actions: { plateletCount: 10 } } });
    expect(severe.recommendations[0]).toMatchObject({ kind: 'platelet-transfusion', urgency: 'critical' });
    const none = assessOn(10, [infusion(0), plt(9, 15)], { thresholdsFile: { actions: { plateletCount: 10 } } });
    expect(kinds(none)).toEqual([]);
  });

  test('transfusion reviews ask for irradiated products within day −7..+90 (EHA/EBMT)', () => {
    expect(assessOn(10, [infusion(0), hb(9, 55)]).recommendations[0]?.notes.join(' ')).toContain('irradiated');
    expect(assessOn(120, [infusion(0), hb(119, 55)]).recommendations[0]?.notes.join(' ')).toContain('local policy');
  });

  test('a stale lab (older than 3 days) is not acted on as if current', () => {
    const a = assessOn(20, [infusion(0), anc(9, 0.2)]);
    expect(a.recommendations[0]).toMatchObject({ kind: 'g-csf', urgency: 'warning', stale: true });
    expect(a.recommendations[0]?.notes[0]).toContain('11 days old');
  });

  test('G-CSF already given is mentioned', () => {
    const a = assessOn(10, [infusion(0), gcsf(9), anc(10, 0.2)]);
    expect(a.recommendations[0]?.notes.join(' ')).toContain('G-CSF already given on day +9');
  });

  test('pediatric IVIG target is configurable', () => {
    const child = assessOn(10, [patient('female', '2018-01-01'), infusion(0), igg(9, 450)], {
      thresholdsFile: { immunoglobulins: { iggIvigPediatric: 500 } },
    });
    expect(child.recommendations[0]).toMatchObject({
      kind: 'ivig-review',
      threshold: { value: 500, path: 'immunoglobulins.iggIvigPediatric' },
    });
  });

  test('no recommendation without a CAR-T infusion', () => {
    expect(assessOn(10, [anc(9, 0.1), hb(9, 50), plt(9, 5), igg(9, 200)]).recommendations).toEqual([]);
  });
});

describe('prophylactic G-CSF: high CAR-HEMATOTOX, day 0-2 (EHA/EBMT 2023)', () => {
  const highRisk = [fludarabine(-5), plt(-6, 60), anc(-6, 2), hb(-6, 120), crp(-6, 0.5), ferritin(-6, 300)];
  test.each([
    [0, true],
    [2, true],
    [3, false],
  ])('day %d → %s', (day, expected) => {
    expect(kinds(assessOn(day, [infusion(0), ...highRisk, anc(day, 1.5)])).includes('g-csf-prophylaxis')).toBe(
      expected,
    );
  });

  test('not when G-CSF has started or ANC is already < 0.5', () => {
    expect(kinds(assessOn(2, [infusion(0), ...highRisk, gcsf(1), anc(2, 1.5)]))).not.toContain('g-csf-prophylaxis');
    expect(kinds(assessOn(2, [infusion(0), ...highRisk, anc(2, 0.3)]))).toEqual(['g-csf']);
  });

  test('not when the score is low', () => {
    expect(
      kinds(
        assessOn(1, [
          infusion(0),
          fludarabine(-5),
          plt(-6, 250),
          anc(-6, 2),
          hb(-6, 120),
          crp(-6, 0.5),
          ferritin(-6, 300),
          anc(1, 1.5),
        ]),
      ),
    ).toEqual([]);
  });
});

describe('cytopenia work-up: PHT or early ICAHT ≥ 3 (EHA/EBMT 2023)', () => {
  test('early ICAHT grade 3 (14 days ≤ 0.5) triggers the work-up, citing the neutropenia', () => {
    const a = assessOn(20, [infusion(0), ...series(anc, 0, [1, ...Array(15).fill(0.3), 0.8, 0.9, 1.0, 1.2, 1.4])]);
    const workup = a.recommendations.find((r) => r.kind === 'cytopenia-workup');
    expect(workup).toMatchObject({ urgency: 'warning', threshold: { value: 3, path: 'actions.workupIcahtGrade' } });
    expect(workup?.reason).toContain('early ICAHT grade 3');
    expect(workup?.notes.join(' ')).toContain('parvovirus B19');
  });

  test('PHT triggers the work-up', () => {
    const a = assessOn(30, [infusion(0), ...series(plt, 0, [90, ...Array(30).fill(12)])]);
    expect(a.prolongedHematologicToxicity).toBe(true);
    expect(a.recommendations.find((r) => r.kind === 'cytopenia-workup')?.reason).toContain('day 28');
  });
});
