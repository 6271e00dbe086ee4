/**
 * What the cards advise (docs/clinical-logic.md): triggers at their thresholds, hospital
 * overrides, staleness, and the sources cited.
 */
import { describe, expect, test } from '@jest/globals';
import type { MedicationAdministration } from 'fhir/r4.js';
import { adviseOn, orderCards } from '../../src/cards/orders.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { filgrastimOrder } from '../helpers/orders.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { SOURCES } from '../../src/clinical/thresholds.js';
import { cardKind } from '../../src/shared/card-kind.js';
import {
  anc,
  obs,
  assessOn,
  cd19pct,
  crp,
  dateOf,
  ferritin,
  fludarabine,
  gcsf,
  hb,
  igg,
  infusion,
  ivig,
  patient,
  pegfilgrastim,
  plateletTransfusion,
  plt,
  procedure,
  redCellTransfusion,
  series,
  unspecifiedTransfusion,
} from '../helpers/fhir.js';

const kinds = (a: ReturnType<typeof assessOn>) => a.recommendations.map((r) => r.kind);

describe('the latest value is its lab day\'s worst, not the last draw (clinical spec §1 "lab day"; docs/clinical-logic.md §2)', () => {
  // Rows: draws of one calendar day in time order → the value the assessment calls latest, and whether
  // G-CSF is advised (ANC < 0.5 ×10⁹/L on day +9 with no G-CSF given: docs/clinical-logic.md §10).
  test.each<[string, { v: number; hour: number }[], number, boolean]>([
    [
      'ANC 0.2 at 06:00, 4.2 at 20:00: the day is at 0.2, G-CSF advised',
      [
        { v: 0.2, hour: 6 },
        { v: 4.2, hour: 20 },
      ],
      0.2,
      true,
    ],
    [
      'ANC 4.2 at 06:00, 0.2 at 20:00: the same day, the same answer',
      [
        { v: 4.2, hour: 6 },
        { v: 0.2, hour: 20 },
      ],
      0.2,
      true,
    ],
    [
      'ANC 1.1 at 06:00, 0.9 at 12:00, 1.4 at 20:00: 0.9, no G-CSF (not below 0.5)',
      [
        { v: 1.1, hour: 6 },
        { v: 0.9, hour: 12 },
        { v: 1.4, hour: 20 },
      ],
      0.9,
      false,
    ],
  ])('%s', (_rule, draws, latest, gcsf) => {
    const a = assessOn(9, [
      infusion(0),
      anc(8, 0.6),
      ...draws.map((d, i) => anc(9, d.v, { id: `d${i}`, hour: d.hour })),
    ]);
    expect(a.latest.anc).toMatchObject({ value: latest, day: 9 });
    expect(a.ctcae.neutrophils.latestValue).toMatchObject({ value: latest, day: 9 });
    expect(kinds(a).includes('g-csf')).toBe(gcsf);
  });

  test('the day before still counts only as the day before: a later day with one high draw is that high draw', () => {
    const a = assessOn(9, [infusion(0), anc(8, 0.2), anc(9, 4.2, { id: 'today' })]);
    expect(a.latest.anc).toMatchObject({ value: 4.2, day: 9, reference: 'Observation/today' });
  });

  test("a peak marker's lab day is its highest: CRP 180 at 06:00 and 40 at 20:00 is a day at 180", () => {
    const a = assessOn(3, [
      infusion(0),
      crp(3, 180, { id: 'crp-high', hour: 6 }),
      crp(3, 40, { id: 'crp-low', hour: 20 }),
    ]);
    expect(a.latest.crp).toMatchObject({ value: 180, reference: 'Observation/crp-high' });
  });
});

describe('a card says what it could not use about the value it cites (docs/clinical-logic.md §3, §10)', () => {
  test('a newer ANC with an unreadable unit: the G-CSF card cites the older one and says so', () => {
    const newer = { ...anc(9, 0.2, { id: 'newer' }), valueQuantity: { value: 0.2, unit: 'cells' } };
    const a = assessOn(10, [infusion(0), anc(8, 0.3), newer]);
    const gcsfCard = a.recommendations.find((r) => r.kind === 'g-csf');
    expect(gcsfCard?.values).toEqual([expect.objectContaining({ value: 0.3, day: 8 })]);
    expect(gcsfCard?.notes.at(-1)).toBe(
      'A newer result could not be used: Neutrophils [#/volume] in Blood by Automated count on 2026-03-10: unit "cells" cannot be read as a count per volume (e.g. 10*9/L, 10*3/uL, /uL); value 0.2 not used. The value above is the latest that could be read.',
    );
  });

  test.each([
    ['the G-CSF card (no G-CSF given)', [] as ReturnType<typeof gcsf>[], 'g-csf'],
    ['the card on G-CSF (neutropenia-on-gcsf)', [gcsf(9)], 'neutropenia-on-gcsf'],
  ])(
    'an ANC dated 2026-02-30 (no such day): %s says a result with no date may be newer, and names it',
    (_c, given, kind) => {
      const undated = { ...anc(9, 0.2, { id: 'undated' }), effectiveDateTime: '2026-02-30T08:00:00Z' };
      const a = assessOn(10, [infusion(0), anc(8, 0.3), undated, ...given]);
      const card = a.recommendations.find((r) => r.kind === kind);
      expect(card?.values).toEqual([expect.objectContaining({ value: 0.3, day: 8 })]);
      expect(card?.notes).toContain(
        '1 result with no date to the day could not be used and may be newer (Observation/undated). The value above is the latest that could be read.',
      );
    },
  );

  test('two newer results not used: the first is quoted, the other counted', () => {
    const a = assessOn(
      10,
      [infusion(0), anc(7, 0.3), anc(8, -1), anc(9, 0.2, { id: 'x' })].map((o, i) =>
        i === 3 ? { ...o, valueQuantity: { value: 0.2, unit: 'cells' } } : o,
      ),
    );
    expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.at(-1)).toMatch(
      /^A newer result could not be used: .* on 2026-03-09: value -1 is below zero; not used \(and 1 more\)\. The value above is the latest that could be read\.$/,
    );
  });

  test('an ANC reported as ">0.1": the card uses 0.1 and says the true value may be higher', () => {
    const bound = anc(9, 0.1, { id: 'bound' });
    const a = assessOn(10, [infusion(0), { ...bound, valueQuantity: { ...bound.valueQuantity, comparator: '>' } }]);
    expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.at(-1)).toBe(
      'Neutrophils [#/volume] in Blood by Automated count on 2026-03-10 was reported as >0.1 10*9/L: used as 0.1, the true value may be higher; check it before acting.',
    );
  });

  test('an ANC given twice, differing, with no version: the card citing it says so', () => {
    const a = assessOn(10, [infusion(0), anc(9, 0.2, { id: 'dup' }), anc(9, 3.1, { id: 'dup' })]);
    expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.at(-1)).toBe(
      'Observation/dup is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated, amended or corrected status); the first given was used; check it before acting.',
    );
  });

  test.each<[string, string, string, string]>([
    [
      'G-CSF card, 2 MedicationAdministrations unreadable',
      'MedicationAdministration/ma-',
      'g-csf',
      '2 MedicationAdministration records could not be read: a G-CSF dose among them would not be counted here. Check the chart before ordering.',
    ],
    [
      'platelet card, 2 Procedures unreadable',
      'Procedure/tx-',
      'platelet-transfusion',
      '2 Procedure records could not be read: a platelet transfusion among them would not be counted here. Check the chart before ordering.',
    ],
  ])(
    '%s: the card asking for it says it may already be given (docs/clinical-logic.md §10: a card asks for something not yet done)',
    (_name, prefix, kind, note) => {
      const inputIssues = [1, 2].map((n) => ({
        severity: 'warning' as const,
        code: 'resource-invalid' as const,
        message: 'effectiveDateTime: Invalid input: expected string, received number; resource left out',
        resource: `${prefix}${n}`,
      }));
      const a = assessOn(10, [infusion(0), anc(9, 0.2), plt(9, 12)], { inputIssues });
      expect(a.recommendations.find((r) => r.kind === kind)?.notes.at(-1)).toBe(note);
    },
  );

  test('no unreadable record of the treatment’s type: no such note', () => {
    const inputIssues = [
      {
        severity: 'warning' as const,
        code: 'resource-invalid' as const,
        message: 'x; resource left out',
        resource: 'Condition/c1',
      },
    ];
    const a = assessOn(10, [infusion(0), anc(9, 0.2)], { inputIssues });
    expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.join(' ')).not.toContain('could not be read');
  });

  test('an older result not used is not mentioned (the card cites the newest)', () => {
    const older = { ...anc(7, 0.2, { id: 'older' }), valueQuantity: { value: 0.2, unit: 'cells' } };
    const a = assessOn(10, [infusion(0), older, anc(9, 0.3)]);
    expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.join(' ')).not.toContain('could not be used');
  });
});

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
      threshold: { value: 0.5, unit: '10*9/L', comparator: '<', path: 'counts.neutrophils.severe', overridden: false },
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

  test('on G-CSF with ANC still < 0.5, the card no longer asks for G-CSF: it says when the work-up is due', () => {
    const a = assessOn(10, [infusion(0), gcsf(8), gcsf(9), gcsf(10), ...series(anc, 6, [0.9, 0.6, 0.4, 0.3, 0.2])]);
    // ANC ≤ 0.5 on days 8, 9, 10 → 3 days; grade 3 needs 14: due on day 10 + (14 − 3) = day +21.
    expect(a.recommendations).toMatchObject([
      {
        kind: 'neutropenia-on-gcsf',
        urgency: 'info',
        reason:
          'ANC 0.2 ×10⁹/L on day +10 (2026-03-11) is still below 0.5 ×10⁹/L on G-CSF since day +8 (3 doses). ' +
          'If ANC stays ≤ 0.5 to day +21 (14 days, early ICAHT grade 3), work up the cytopenia.',
      },
    ]);
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

describe('pegfilgrastim acts for a cycle: one dose counts as G-CSF for 14 days [actions.longActingGcsfDays]', () => {
  const PI = 'Neulasta prescribing information: one dose per chemotherapy cycle, not within 14 days before the next';
  const DAILY = 'docs/clinical-logic.md §10: a filgrastim dose counts for 2 days [actions.gcsfRecentDays]';
  /** ANC 1.0 every day from day +1, 0.3 on the assessment day: a new severe neutropenia (early ICAHT grade 1). */
  const ancDropOn = (day: number): Parameters<typeof assessOn>[1] => series(anc, 1, [...Array(day - 1).fill(1), 0.3]);
  // Expected cards by hand: "on G-CSF" while some dose acts on the assessment day (dose day + 14 for
  // pegfilgrastim, + 2 for filgrastim) → info; otherwise the critical G-CSF card.
  test.each<[string, string, number, Parameters<typeof assessOn>[1], object | undefined, [string, string][]]>([
    [
      'pegfilgrastim day +2, ANC 0.3 on day +9',
      PI,
      9,
      [pegfilgrastim(2)],
      undefined,
      [['neutropenia-on-gcsf', 'info']],
    ],
    [
      'pegfilgrastim day +2, day +16 (14 days on: still acting)',
      PI,
      16,
      [pegfilgrastim(2)],
      undefined,
      [['neutropenia-on-gcsf', 'info']],
    ],
    ['pegfilgrastim day +2, day +17 (15 days on)', PI, 17, [pegfilgrastim(2)], undefined, [['g-csf', 'critical']]],
    ['filgrastim day +2, day +4 (2 days on)', DAILY, 4, [gcsf(2)], undefined, [['neutropenia-on-gcsf', 'info']]],
    ['filgrastim day +2, day +5 (3 days on)', DAILY, 5, [gcsf(2)], undefined, [['g-csf', 'critical']]],
    [
      'hospital setting 10 days: pegfilgrastim day +2, day +12',
      PI,
      12,
      [pegfilgrastim(2)],
      { actions: { longActingGcsfDays: 10 } },
      [['neutropenia-on-gcsf', 'info']],
    ],
    [
      'hospital setting 10 days: pegfilgrastim day +2, day +13',
      PI,
      13,
      [pegfilgrastim(2)],
      { actions: { longActingGcsfDays: 10 } },
      [['g-csf', 'critical']],
    ],
  ])('%s (source: %s)', (_, _source, day, doses, thresholdsFile, expected) => {
    const a = assessOn(day, [infusion(0), ...doses, ...ancDropOn(day)], thresholdsFile ? { thresholdsFile } : {});
    expect(a.recommendations.map((r) => [r.kind, r.urgency])).toEqual(expected);
  });

  test('the card says which dose was long-acting and how long it counts', () => {
    // Filgrastim on day +15 joins the pegfilgrastim of day +2 (acting to day +16): one course since day +2.
    const a = assessOn(17, [infusion(0), pegfilgrastim(2), gcsf(15), ...ancDropOn(17)]);
    const card = a.recommendations.find((r) => r.kind === 'neutropenia-on-gcsf');
    expect(card?.reason).toContain(
      `ANC 0.3 ×10⁹/L on day +17 (${dateOf(17)}) is still below 0.5 ×10⁹/L on G-CSF since day +2 ` +
        '(2 doses; long-acting G-CSF on day +2, counted 14 days per dose). ',
    );
    expect(card?.recentTreatmentDays).toEqual([2, 15]);
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

  // EHA/EBMT 2023, Table 3: "Prophylactic G-CSF: on day +2 in patients with a high-risk profile"; therapeutic
  // G-CSF "in case of prolonged neutropenia". A count below 0.5 on day 0 or +1 asks for no G-CSF yet
  // [actions.gcsfTreatmentFromDay = 2]; day 0 is the infusion at 10:00, the helper's counts are drawn at 06:00.
  test.each<[string, number, boolean, number, string[]]>([
    [
      'day 0, ANC 0.3 drawn before the infusion, high risk: prophylaxis from day +2 only',
      0,
      true,
      0,
      ['g-csf-prophylaxis'],
    ],
    ['day 0, ANC 0.3, low risk: no G-CSF card', 0, false, 0, []],
    ['day +1, ANC 0.3, high risk: prophylaxis from day +2, not "start G-CSF now"', 1, true, 1, ['g-csf-prophylaxis']],
    ['day +1, ANC 0.3, low risk: no G-CSF card yet', 1, false, 1, []],
    [
      'day +2, ANC 0.3 of day +1, high risk: prophylaxis (the latest count is of day +1)',
      2,
      true,
      1,
      ['g-csf-prophylaxis'],
    ],
    ['day +2, ANC 0.3 of day +2, high risk: G-CSF for severe neutropenia', 2, true, 2, ['g-csf']],
    ['day +2, ANC 0.3 of day +2, low risk: G-CSF for severe neutropenia', 2, false, 2, ['g-csf']],
  ])('%s', (_name, day, high, ancDay, expected) => {
    const baseline = high
      ? highRisk
      : [fludarabine(-5), plt(-6, 250), anc(-6, 2), hb(-6, 120), crp(-6, 0.5), ferritin(-6, 300)];
    expect(kinds(assessOn(day, [infusion(0), ...baseline, anc(ancDay, 0.3)]))).toEqual(expected);
  });

  test('a hospital that gives G-CSF from day 0 [actions.gcsfTreatmentFromDay: 0]: ANC 0.3 on day +1 asks for it', () => {
    const a = assessOn(1, [infusion(0), ...highRisk, anc(1, 0.3)], {
      thresholdsFile: { actions: { gcsfTreatmentFromDay: 0 } },
    });
    expect(kinds(a)).toEqual(['g-csf']);
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
    expect(a.recommendations.find((r) => r.kind === 'cytopenia-workup')?.reason).toContain('day +28');
  });
});

describe('the indicator ladder and "ask only for what is not done" (docs/clinical-logic.md §10)', () => {
  const LADDER = 'docs/clinical-logic.md §10 indicator ladder';
  // Expected kinds and indicators by hand from the rule: critical = a current severe value whose
  // first-line action is not under way; warning = due but not an emergency, or a stale value; info = facts.
  test.each<[string, Parameters<typeof assessOn>[1], number, [string, string][]]>([
    ['ANC 0.3 today, no G-CSF → critical G-CSF', [infusion(0), anc(9, 0.3)], 9, [['g-csf', 'critical']]],
    ['ANC 0.3 five days old → warning', [infusion(0), anc(4, 0.3)], 9, [['g-csf', 'warning']]],
    [
      'ANC 0.3 today, G-CSF yesterday → info (next step is the work-up)',
      [infusion(0), gcsf(8), anc(9, 0.3)],
      9,
      [['neutropenia-on-gcsf', 'info']],
    ],
    [
      'ANC ≤ 0.5 for 14 days on G-CSF → one warning card: the work-up, no G-CSF card',
      [
        infusion(0),
        ...[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(gcsf),
        ...series(anc, 0, [1, 1, ...Array(14).fill(0.3)]),
      ],
      15,
      [['cytopenia-workup', 'warning']],
    ],
    ['Hb 55 today → critical red cell review', [infusion(0), hb(9, 55)], 9, [['red-cell-transfusion', 'critical']]],
    ['Hb 55 today, red cells given the same day → no card', [infusion(0), hb(9, 55), redCellTransfusion(9)], 9, []],
    [
      'PLT 12, platelets given the day before the count → critical',
      [infusion(0), plateletTransfusion(8), plt(9, 12)],
      9,
      [['platelet-transfusion', 'critical']],
    ],
    [
      'PLT 12, transfusion of unknown product after it → no card',
      [infusion(0), plt(9, 12), unspecifiedTransfusion(9)],
      9,
      [],
    ],
    ['IgG 350 → warning IVIG review', [infusion(0), igg(100, 350)], 100, [['ivig-review', 'warning']]],
  ])('%s', (_name, resources, day, expected) => {
    const a = assessOn(day, resources);
    expect(a.recommendations.map((r) => [r.kind, r.urgency])).toEqual(expected);
    expect(LADDER).toBeTruthy();
  });
});

describe('a treatment answers only the count drawn before it (docs/clinical-logic.md §10: "a later count below the trigger brings it back")', () => {
  // Each row: a count below its trigger (PLT < 20, Hb < 60 g/L: Wang et al. 2021; IgG < 400 mg/dL: Hill
  // et al.) and a treatment of its kind; the card is asked for unless the treatment came at or after
  // the draw. Labs are drawn at 06:00 unless said, transfusions at 11:00, IVIG at 10:00 (UTC).
  const dateOnly = <T extends { effectiveDateTime?: string; performedDateTime?: string }>(r: T, day: number): T =>
    'performedDateTime' in r ? { ...r, performedDateTime: dateOf(day) } : { ...r, effectiveDateTime: dateOf(day) };
  test.each<[string, Parameters<typeof assessOn>[1], number, [string, string][]]>([
    [
      'platelets given at 07:00, PLT 15 drawn at 09:00 the same day → critical platelet review',
      [infusion(0), plateletTransfusion(9, 7), plt(9, 15, { hour: 9 })],
      9,
      [['platelet-transfusion', 'critical']],
    ],
    [
      'PLT 15 at 06:00, platelets given at 11:00 the same day → no card',
      [infusion(0), plt(9, 15), plateletTransfusion(9)],
      9,
      [],
    ],
    [
      'PLT 15 at 09:00, platelets recorded that day without a time → no card (order unknown: taken as answered)',
      [infusion(0), plt(9, 15, { hour: 9 }), dateOnly(plateletTransfusion(9), 9)],
      9,
      [],
    ],
    [
      'PLT 15 dated without a time, platelets at 07:00 that day → no card (compared by date)',
      [infusion(0), dateOnly(plt(9, 15), 9), plateletTransfusion(9, 7)],
      9,
      [],
    ],
    [
      'red cells given at 05:00, Hb 55 drawn at 06:00 the same day → critical red cell review',
      [infusion(0), redCellTransfusion(9, 5), hb(9, 55)],
      9,
      [['red-cell-transfusion', 'critical']],
    ],
    [
      'PLT 15 at 06:00, platelets at 07:00, PLT 18 at 20:00 the same day → critical (the later count is still below)',
      [infusion(0), plt(9, 15), plateletTransfusion(9, 7), plt(9, 18, { id: 'later', hour: 20 })],
      9,
      [['platelet-transfusion', 'critical']],
    ],
    [
      'PLT 15 at 06:00, platelets at 07:00, PLT 45 at 20:00 the same day → no card (the later count is above)',
      [infusion(0), plt(9, 15), plateletTransfusion(9, 7), plt(9, 45, { id: 'later', hour: 20 })],
      9,
      [],
    ],
    [
      'Asia/Tokyo: platelets at 07:00+09:00, PLT 15 drawn at 09:00+09:00 (00:00 UTC) → critical (a time, not a date only)',
      [
        infusion(0),
        { ...plateletTransfusion(9), performedDateTime: `${dateOf(9)}T07:00:00+09:00` },
        { ...plt(9, 15), effectiveDateTime: `${dateOf(9)}T09:00:00+09:00` },
      ],
      9,
      [['platelet-transfusion', 'critical']],
    ],
    [
      'New York: PLT 50 at 21:00−05:00 on day +9, PLT 8 dated day +10 without a time → critical on the 8 (it is the latest)',
      [
        infusion(0),
        { ...plt(9, 50), effectiveDateTime: `${dateOf(9)}T21:00:00-05:00` },
        { ...plt(10, 8, { id: 'date-only' }), effectiveDateTime: dateOf(10) },
      ],
      10,
      [['platelet-transfusion', 'critical']],
    ],
    [
      'IgG 350 on day +140, IVIG on day +142 → no card (as of day +150)',
      [infusion(0), igg(140, 350), ivig(142)],
      150,
      [],
    ],
    ['IgG 350 at 06:00, IVIG at 10:00 the same day → no card', [infusion(0), igg(140, 350), ivig(140)], 150, []],
    [
      'IVIG on day +100, IgG 350 on day +140 → warning IVIG review (the IgG came after it)',
      [infusion(0), ivig(100), igg(140, 350)],
      150,
      [['ivig-review', 'warning']],
    ],
  ])('%s', (_name, resources, day, expected) => {
    const a = assessOn(day, resources);
    expect(a.recommendations.map((r) => [r.kind, r.urgency])).toEqual(expected);
  });
});

describe('on G-CSF with ANC < 0.5: when the work-up falls due (EHA/EBMT 2023)', () => {
  test.each<[string, Parameters<typeof assessOn>[1], number, string | undefined, string]>([
    [
      'day +10, 3 days ≤ 0.5: due on day +21 (grade 3 needs 14 days)',
      [infusion(0), gcsf(9), ...series(anc, 8, [0.4, 0.3, 0.2])],
      10,
      undefined,
      'If ANC stays ≤ 0.5 to day +21 (14 days, early ICAHT grade 3), work up the cytopenia.',
    ],
    [
      'day +25, 2 days ≤ 0.5: 14 days would end after day +30 → the no-recovery rule',
      [infusion(0), gcsf(24), ...series(anc, 20, [1.5, 1.2, 1.0, 0.9, 0.4, 0.3])],
      25,
      undefined,
      'If there is no neutrophil recovery by day +30 (early ICAHT grade 4), work up the cytopenia.',
    ],
    [
      'day +60, one late ANC 0.3: a second count would confirm late ICAHT grade 3',
      [infusion(0), gcsf(59), anc(45, 1.8), anc(60, 0.3)],
      60,
      undefined,
      'If another ANC ≤ 0.5 confirms it (late ICAHT grade 3), work up the cytopenia.',
    ],
    [
      'a hospital that works up from grade 2: due after 7 days',
      [infusion(0), gcsf(9), ...series(anc, 8, [0.4, 0.3, 0.2])],
      10,
      'workup2',
      'If ANC stays ≤ 0.5 to day +14 (7 days, early ICAHT grade 2), work up the cytopenia.',
    ],
  ])('%s', (_name, resources, day, file, expected) => {
    const a = assessOn(day, resources, file ? { thresholdsFile: { actions: { workupIcahtGrade: 2 } } } : {});
    const card = a.recommendations.find((r) => r.kind === 'neutropenia-on-gcsf');
    expect(card?.reason).toContain(expected);
  });

  test('day +60 on G-CSF, ANC ≤ 0.5 twice after day +30: late ICAHT grade 3 → the work-up card instead', () => {
    const a = assessOn(60, [infusion(0), gcsf(59), anc(45, 0.4), anc(60, 0.3)]);
    expect(a.recommendations.map((r) => [r.kind, r.urgency])).toEqual([['cytopenia-workup', 'warning']]);
    expect(a.recommendations[0]?.reason).toBe(
      'late ICAHT grade 3: ANC 0.3 on day +60, 0.4 on day +45; despite G-CSF since day +59: work up the cytopenia.',
    );
  });
});

describe('irradiated blood products: from 7 days before leukapheresis to day +90 (EHA/EBMT 2023)', () => {
  const CPT = 'http://www.ama-assn.org/go/cpt';
  test.each<[string, Parameters<typeof assessOn>[1], number, unknown, string, unknown]>([
    [
      'leukapheresis recorded on day −30: window from day −37',
      [infusion(0), procedure(CPT, '38225', -30), hb(9, 55)],
      9,
      { basis: 'leukapheresis', fromDay: -37, leukapheresisDate: dateOf(-30), untilDay: 90, required: true },
      `Use irradiated cellular blood products from ${dateOf(-37)} (day -37) to ${dateOf(90)} (day +90). ` +
        `The window starts 7 days before leukapheresis on ${dateOf(-30)} (EHA/EBMT 2023).`,
      undefined,
    ],
    [
      'no leukapheresis recorded: from day −7 of the infusion, and the card says so',
      [infusion(0), hb(9, 55)],
      9,
      { basis: 'infusion', fromDay: -7, leukapheresisDate: null, required: true },
      `Use irradiated cellular blood products from ${dateOf(-7)} (day -7) to ${dateOf(90)} (day +90). ` +
        'Leukapheresis date not recorded: the window starts 7 days before the infusion; EHA/EBMT 2023 start it 7 days before leukapheresis.',
      undefined,
    ],
    [
      'day +91: outside the window',
      [infusion(0), hb(91, 55)],
      91,
      { required: false },
      'Outside the irradiation window',
      undefined,
    ],
    [
      'a centre that irradiates for life (untilDay: null)',
      [infusion(0), hb(300, 55)],
      300,
      { until: null, untilDay: null, required: true },
      'for life (hospital setting)',
      { irradiation: { untilDay: null } },
    ],
  ])('%s', (_name, resources, day, window, noteText, file) => {
    const a = assessOn(day, resources, file ? { thresholdsFile: file } : {});
    expect(a.irradiation).toMatchObject(window as object);
    expect(a.recommendations[0]?.notes.join(' ')).toContain(noteText);
  });
});

describe('before an infusion is recorded, a recorded CAR-T leukapheresis opens the irradiation window (EHA/EBMT 2023, Table 3)', () => {
  // The window runs from 7 days before leukapheresis to day +90 of the infusion; with no infusion recorded yet,
  // day +90 falls no earlier than 90 days after the leukapheresis (the infusion follows it).
  const CPT = 'http://www.ama-assn.org/go/cpt';
  test.each<[string, Parameters<typeof assessOn>[1], number, unknown]>([
    [
      'leukapheresis (CPT 38225) on day −10 of "today", no infusion: required, from leukapheresis −7 to at least +90',
      [procedure(CPT, '38225', -10), fludarabine(-1)],
      0,
      {
        basis: 'leukapheresis',
        infusionRecorded: false,
        from: dateOf(-17),
        fromDay: null,
        until: dateOf(80),
        required: true,
      },
    ],
    [
      'the day of the leukapheresis itself (a leukapheresis still to come is not in the record: the 7 days before it cannot be known)',
      [procedure(CPT, '38225', 0)],
      0,
      { from: dateOf(-7), required: true },
    ],
    [
      '90 days after the leukapheresis, still no infusion: the last day it is known to be required',
      [procedure(CPT, '38225', -90)],
      0,
      { until: dateOf(0), required: true },
    ],
    [
      '91 days after, still no infusion: not known to be required any more',
      [procedure(CPT, '38225', -91)],
      0,
      { until: dateOf(-1), required: false },
    ],
    [
      'no leukapheresis and no infusion (fludarabine alone is not CAR-T-specific): no window',
      [fludarabine(-1)],
      0,
      null,
    ],
  ])('%s', (_name, resources, day, window) => {
    const a = assessOn(day, resources);
    expect(a.dayPostInfusion).toBeNull();
    if (window === null) expect(a.irradiation).toBeNull();
    else expect(a.irradiation).toMatchObject(window as object);
  });
});

describe('loss of B-cell aplasia within 6 months of tisagenlecleucel: its own warning card', () => {
  test('CD19+ 0.2% on day +28 and +60, then 3% and 4% on days +120 and +150 → review disease status', () => {
    const a = assessOn(150, [infusion(0), cd19pct(28, 0.2), cd19pct(60, 0.2), cd19pct(120, 3), cd19pct(150, 4)]);
    expect(a.recommendations).toMatchObject([
      {
        kind: 'b-cell-recovery',
        urgency: 'warning',
        reason:
          `B cells returned on day +120 after B-cell aplasia since day +28 (latest day +150, ${dateOf(150)}: CD19+ 4% of lymphocytes), ` +
          'within 6 months of tisagenlecleucel: review disease status (bone marrow MRD).',
      },
    ]);
  });

  test('after 6 months (day +200) the return of B cells gives no card', () => {
    const a = assessOn(230, [infusion(0), cd19pct(28, 0.2), cd19pct(200, 3), cd19pct(230, 4)]);
    expect(a.recommendations).toEqual([]);
  });
});

describe('results dated after today (docs/clinical-logic.md §3)', () => {
  test.each<[string, boolean, string[]]>([
    ['a CDS call (the assessment date is today): not used, and said', true, ['date-future']],
    ["the CLI's past --as-of: later results are expected, not used, nothing said", false, []],
  ])('%s', (_name, asOfIsToday, codes) => {
    const a = assessOn(10, [infusion(0), anc(9, 0.2), anc(12, 3.1), anc(400, 2.0)], { asOfIsToday });
    expect(a.latest.anc?.value).toBe(0.2);
    expect(a.issues.filter((i) => i.code === 'date-future').map((i) => i.code)).toEqual(codes);
    if (asOfIsToday) {
      expect(a.issues.find((i) => i.code === 'date-future')?.message).toBe(
        '2 results are dated after today (2026-03-11) and not used: ANC on 2026-03-13 is the earliest',
      );
      expect(a.recommendations.find((r) => r.kind === 'g-csf')?.notes.at(-1)).toBe(
        'A newer result could not be used: 2 results are dated after today (2026-03-11) and not used: ANC on 2026-03-13 is the earliest. The value above is the latest that could be read.',
      );
    }
  });
});

describe('the G-CSF cards say what was given, and when against the count (docs/clinical-logic.md §10)', () => {
  // Helpers: counts drawn at 06:00, G-CSF given at 10:00; a dose acts 2 days [actions.gcsfRecentDays].
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const summaryOf = (day: number, resources: Parameters<typeof assessOn>[1]) => {
    const a = assessOn(day, resources, { thresholds: clinical.thresholds });
    return { a, summaries: patientViewCards(a, clinical.thresholds, ctx).map((c) => `${c.indicator}: ${c.summary}`) };
  };

  test('G-CSF on days +3 to +6, none since, ANC 0.3 on day +10: "no G-CSF since day +6", not "no G-CSF recorded"', () => {
    const { a, summaries } = summaryOf(10, [infusion(0), gcsf(3), gcsf(4), gcsf(5), gcsf(6), anc(10, 0.3)]);
    expect(summaries).toContain(
      'critical: ANC 0.3 ×10⁹/L on day +10, no G-CSF since day +6: consider filgrastim 5 µg/kg/day',
    );
    expect(a.recommendations[0]).toMatchObject({ kind: 'g-csf', lastTreatmentDay: 6 });
    expect(a.recommendations[0]?.reason).toContain(
      'no G-CSF is recorded in the last 2 days (the last dose: day +6, 4 doses since day 0).',
    );
  });

  test('no G-CSF ever: "no G-CSF recorded", as before', () => {
    expect(summaryOf(10, [infusion(0), anc(10, 0.3)]).summaries).toContain(
      'critical: ANC 0.3 ×10⁹/L on day +10, no G-CSF recorded: consider filgrastim 5 µg/kg/day',
    );
  });

  test('ANC 0.3 at 06:00 on day +10, the first dose at 10:00: not "despite G-CSF", the count came first', () => {
    const { a, summaries } = summaryOf(10, [infusion(0), anc(10, 0.3), gcsf(10)]);
    expect(summaries).toContain(
      'info: ANC 0.3 ×10⁹/L on day +10, G-CSF started after this count: repeat the count, work-up if it persists',
    );
    expect(a.recommendations[0]?.reason).toContain(
      'is below 0.5 ×10⁹/L; G-CSF was started after it was drawn (day +10, 1 dose): repeat the count to see its effect.',
    );
  });

  test('ANC 0.3 on day +10, G-CSF since day +8: despite G-CSF', () => {
    expect(summaryOf(10, [infusion(0), gcsf(8), gcsf(9), gcsf(10), anc(10, 0.3)]).summaries).toContain(
      'info: ANC 0.3 ×10⁹/L on day +10 despite G-CSF since day +8: counts daily, work-up if it persists',
    );
  });
});

describe('a G-CSF order "without indication" says what the data show, not more (order-sign; docs/clinical-logic.md §10)', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const why = (day: number, resources: Parameters<typeof assessOn>[1]): string | undefined => {
    const a = assessOn(day, resources, { thresholds: clinical.thresholds });
    const order = filgrastimOrder('p1');
    const advice = adviseOn(order, order.medicationCodeableConcept, clinical.terminology);
    const [card] = orderCards(a, advice ? [advice] : [], clinical.terminology, clinical.thresholds, ctx);
    return card?.detail?.split('\n\n')[0];
  };

  test('day +10, one ANC of 0.8, no baseline: risk and early ICAHT not known (days 0–9 unmeasured), and said so', () => {
    expect(why(10, [infusion(0), anc(10, 0.8)])).toBe(
      '**Why:** G-CSF is ordered on day +10 while the latest ANC is 0.8 ×10⁹/L (2026-03-11), not below 0.5 ×10⁹/L, ' +
        'and the data show no high-risk indication: CAR-HEMATOTOX not known (no baseline value measured), early ICAHT grade not known yet (days without a count). ' +
        'An indication they do not show may still hold (baseline values not measured, days without an ANC).',
    );
  });

  test('day +40, low CAR-HEMATOTOX, daily ANC above 0.5 to day +30: the indication is known to be absent', () => {
    const daily = Array.from({ length: 31 }, (_, d) => anc(d, 2));
    const baseline = [fludarabine(-5), plt(-6, 250), anc(-6, 2), hb(-6, 120), crp(-6, 0.5), ferritin(-6, 300)];
    expect(why(40, [infusion(0), ...baseline, ...daily, anc(40, 1.8)])).toBe(
      '**Why:** G-CSF is ordered on day +40 while the latest ANC is 1.8 ×10⁹/L (2026-04-10), not below 0.5 ×10⁹/L, ' +
        'and the data show no high-risk indication: CAR-HEMATOTOX 0 (low risk), early ICAHT grade 0.',
    );
  });
});

describe('G-CSF and IVIG charted by name only are counted as given (docs/clinical-logic.md §1 "Orders as EHRs send them")', () => {
  /** A MedicationAdministration whose drug is text only (a hospital's own catalogue, or free text), at 10:00. */
  const given = (day: number, text: string): MedicationAdministration => ({
    ...gcsf(day),
    medicationCodeableConcept: { text },
  });
  // ANC 0.3 on day +10 (06:00). A daily G-CSF acts 2 days [actions.gcsfRecentDays], a long-acting one 14
  // [actions.longActingGcsfDays]: on G-CSF → the info card, not "consider filgrastim".
  test.each<[string, number, string, string]>([
    ['eflapegrastim by brand (Rolvedon, long-acting), day +2', 2, 'Rolvedon 13.2 mg', 'neutropenia-on-gcsf'],
    ['lipegfilgrastim by brand (Lonquex, long-acting), day +2', 2, 'Lonquex 6 mg', 'neutropenia-on-gcsf'],
    ['lipegfilgrastim by name, day +9', 9, 'lipegfilgrastim 6 mg', 'neutropenia-on-gcsf'],
    ['efbemalenograstim alfa (Ryzneuta), day +2', 2, 'Ryzneuta 20 mg', 'neutropenia-on-gcsf'],
    ['"G-CSF" written out, day +9 (daily)', 9, 'G-CSF 5 mcg/kg', 'neutropenia-on-gcsf'],
    ['"G-CSF" written out, day +2: a daily dose no longer acts on day +10', 2, 'G-CSF 5 mcg/kg', 'g-csf'],
    ['GM-CSF (sargramostim) is not G-CSF', 9, 'GM-CSF 250 mcg/m2', 'g-csf'],
  ])('%s → %s', (_name, day, text, kind) => {
    expect(kinds(assessOn(10, [infusion(0), given(day, text), anc(10, 0.3)]))).toEqual([kind]);
  });

  // IgG 300 mg/dL on day +150 (06:00), IVIG at 10:00 the next day: the review it asks for happened (Hill et al.).
  test.each<[string, string, string[]]>([
    ['the display of the service’s own IVIG code', 'Immune globulin, intravenous', []],
    ['a brand with its generic name', 'Privigen (immune globulin intravenous, human) 10% 30 g', []],
    ['the abbreviation', 'IVIG 0.4 g/kg', []],
    ['subcutaneous replacement', 'Hizentra 4 g', []],
    ['a hyperimmune globulin is not replacement', 'Hepatitis B immune globulin 500 IU', ['ivig-review']],
  ])('IVIG charted as %s → %j', (_name, text, expected) => {
    expect(kinds(assessOn(152, [infusion(0), igg(150, 300), given(151, text)]))).toEqual(expected);
  });
});

describe('the work-up card asks only for what is not yet done since the cytopenia began (docs/clinical-logic.md §10)', () => {
  // ANC 0.3 daily from day +1 (ongoing: the current cytopenia began on day +1); on day +16 early ICAHT has 16
  // days ≤ 0.5 (grade 3, EHA/EBMT 2023) → the work-up: marrow, viral PCR, ferritin for HLH/MAS.
  const SCT = 'http://snomed.info/sct';
  const neutropenic = Array.from({ length: 16 }, (_, i) => anc(i + 1, 0.3));
  const workup = (extra: Parameters<typeof assessOn>[1]) =>
    assessOn(16, [infusion(0), gcsf(14), gcsf(15), gcsf(16), ...neutropenic, ...extra]).recommendations.find(
      (r) => r.kind === 'cytopenia-workup',
    );
  test.each<[string, Parameters<typeof assessOn>[1], string[]]>([
    [
      'nothing recorded: all three asked for',
      [],
      [
        'Bone marrow aspirate and biopsy; viral PCR (CMV, EBV, parvovirus B19, HHV-6); ferritin for HLH/MAS.',
        'Consider an autologous CD34+ boost (if cells are stored) or a thrombopoietin agonist for persistent cytopenia.',
      ],
    ],
    [
      'marrow sampled (SNOMED 234326005) and ferritin drawn on day +15: only the viral PCR is asked for',
      [procedure(SCT, '234326005', 15), ferritin(15, 2300)],
      [
        'Already recorded since the cytopenia began (day +1): marrow sampling on day +15; ferritin 2300 ng/mL on day +15.',
        'Viral PCR (CMV, EBV, parvovirus B19, HHV-6).',
        'Consider an autologous CD34+ boost (if cells are stored) or a thrombopoietin agonist for persistent cytopenia.',
      ],
    ],
    [
      'a marrow and a ferritin from before the cytopenia (day −10, the pre-CAR-T work-up): not this work-up',
      [procedure(SCT, '234326005', -10), ferritin(-10, 400)],
      [
        'Bone marrow aspirate and biopsy; viral PCR (CMV, EBV, parvovirus B19, HHV-6); ferritin for HLH/MAS.',
        'Consider an autologous CD34+ boost (if cells are stored) or a thrombopoietin agonist for persistent cytopenia.',
      ],
    ],
  ])('%s', (_name, extra, notes) => {
    expect(workup(extra)?.notes).toEqual(notes);
  });
});

describe('each card cites the sources clinical spec §8 gives its rule, as a clinician reads them', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const cite = (src: { label: string; url?: string }): string => `${src.label} (${src.url ?? ''})`;
  const highRisk = [fludarabine(-5), plt(-6, 60), anc(-6, 2), hb(-6, 120), crp(-6, 0.5), ferritin(-6, 300)];
  // Rows: the situation → the card's sources, in the order of spec §8's source column.
  test.each<[string, number, Parameters<typeof assessOn>[1], string, (typeof SOURCES)[keyof typeof SOURCES][]]>([
    ['ANC 0.3, no G-CSF ("seed 002; EHA/EBMT 2023")', 10, [anc(10, 0.3)], 'g-csf', [SOURCES.ehaEbmt, SOURCES.seed002]],
    ['Hb 55 ("seed 002; EHA/EBMT")', 9, [hb(9, 55)], 'red-cell-transfusion', [SOURCES.seed002, SOURCES.ehaEbmt]],
    [
      'PLT 12 ("seed 002"; irradiation per EHA/EBMT)',
      9,
      [plt(9, 12)],
      'platelet-transfusion',
      [SOURCES.seed002, SOURCES.ehaEbmt],
    ],
    ['IgG 300 ("Hill et al.; seed 000")', 150, [igg(150, 300)], 'ivig-review', [SOURCES.ivig, SOURCES.seed000]],
    [
      'high CAR-HEMATOTOX on day +1 (EHA/EBMT 2023; the score: Rejeski 2021)',
      1,
      [...highRisk, anc(1, 1.5)],
      'g-csf-prophylaxis',
      [SOURCES.ehaEbmt, SOURCES.hematotox],
    ],
  ])('%s', (_name, day, resources, kind, sources) => {
    const a = assessOn(day, [infusion(0), ...resources], { thresholds: clinical.thresholds });
    const card = patientViewCards(a, clinical.thresholds, ctx).find((c) => cardKind(c) === kind);
    expect(card?.detail?.split('\n\n').at(-1)).toMatch(
      new RegExp(
        `\\*\\*Sources:\\*\\* ${sources.map((x) => cite(x).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('; ')}\\.$`,
      ),
    );
  });
});

describe('the work-up card says whether a severe cytopenia was there before the infusion (clinical spec §1; Wang 2021)', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const ancRow = (resources: Parameters<typeof assessOn>[1]): string | undefined =>
    patientViewCards(
      assessOn(28, [infusion(0), ...resources], { thresholds: clinical.thresholds }),
      clinical.thresholds,
      ctx,
    )
      .find((c) => cardKind(c) === 'cytopenia-workup')
      ?.detail?.split('\n')
      .find((l) => l.startsWith('| ANC'));
  test('ANC 0.3 daily from day −6 (fludarabine days −4 to −2) to day +28: onset day −4, present at baseline', () => {
    const counts = Array.from({ length: 35 }, (_, i) => anc(i - 6, 0.3));
    expect(ancRow([fludarabine(-4), fludarabine(-3), fludarabine(-2), ...counts])).toBe(
      '| ANC < 0.5 | day -4 (2026-02-25), present at baseline | 0.3 on day -4 (2026-02-25) | 0.3 ×10⁹/L (day +28) | 0.3 ×10⁹/L (day +28) | ongoing, 33 days |',
    );
  });
  test('ANC 2.0 to day +2, then 0.3 daily to day +28: onset day +3, new after the infusion', () => {
    const counts = Array.from({ length: 29 }, (_, d) => anc(d, d < 3 ? 2 : 0.3));
    expect(ancRow([anc(-6, 2), ...counts])).toBe(
      '| ANC < 0.5 | day +3 (2026-03-04), new after the infusion | 0.3 on day +3 (2026-03-04) | 0.3 ×10⁹/L (day +28) | 0.3 ×10⁹/L (day +28) | ongoing, 26 days |',
    );
  });
});

describe('cytopenia persisting past day +90 is reported on the summary (clinical spec §4; Wang 2021 definitions)', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const summary = (ancValue: number, platelets: number) => {
    // Weekly counts from day +14 to day +119 (the value nearest day +90 on or after it: day +91); Hb 120 g/L.
    const weekly = Array.from({ length: 16 }, (_, w) => 14 + 7 * w).flatMap((d) => [
      anc(d, ancValue),
      plt(d, platelets),
      hb(d, 120),
    ]);
    const a = assessOn(120, [infusion(0), ...weekly], { thresholds: clinical.thresholds });
    return patientViewCards(a, clinical.thresholds, ctx).find((c) => cardKind(c) === 'hematotoxicity-summary');
  };
  test('ANC 0.9 and PLT 40 on day +91 (neutropenia < 1.5, thrombocytopenia < 100): headline and detail say so', () => {
    const card = summary(0.9, 40);
    expect(card?.summary).toBe(
      'CAR-T day +120: cytopenia past day +90 (ANC, PLT); IgG not measured; B cells not measured; CD4 not measured',
    );
    expect(card?.detail).toContain(
      '**Cytopenia past day +90** (ANC < 1.5, PLT < 100, Hb below normal; Wang 2021): ANC 0.9 ×10⁹/L (CTCAE grade 3, day +91); PLT 40 ×10⁹/L (CTCAE grade 3, day +91).',
    );
  });
  test('ANC 1.6 and PLT 120 on day +91 (neither a cytopenia by those definitions): nothing said', () => {
    const card = summary(1.6, 120);
    expect(card?.summary).toBe('CAR-T day +120: IgG not measured; B cells not measured; CD4 not measured');
    expect(card?.detail).not.toContain('Cytopenia past day +90');
  });
});

test('day +31 with no platelet count since the infusion: early T-ICAHT "not gradable (no count in the early window)", not "not gradable yet"', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const a = assessOn(31, [infusion(0), anc(31, 2)], { thresholds: clinical.thresholds });
  const summary = patientViewCards(a, clinical.thresholds, ctx).find((c) => cardKind(c) === 'hematotoxicity-summary');
  expect(summary?.detail).toContain(
    '**Thrombocytopenia (T-ICAHT):** early not gradable (no count in the early window), late (days 31–100) not gradable yet.',
  );
});

test('day +200, the only IgG in a unit that cannot be read ("furlongs/fortnight"): "IgG not readable", and no word of blood counts not read', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  const a = assessOn(
    200,
    [
      infusion(0),
      anc(199, 2),
      plt(199, 180),
      hb(199, 125),
      obs('2465-3', 4, 'furlongs/fortnight', 190, { unitText: 'x' }),
    ],
    {
      thresholds: clinical.thresholds,
    },
  );
  const summary = patientViewCards(a, clinical.thresholds, ctx).find((c) => cardKind(c) === 'hematotoxicity-summary');
  expect(summary?.summary).toMatch(/^CAR-T day \+200: IgG not readable; /);
  expect(summary?.detail).toContain('IgG not readable (see the data notes)');
  expect(summary?.detail).not.toContain('No blood count since the infusion could be read');
});
