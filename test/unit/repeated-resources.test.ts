/**
 * A resource given more than once (search pages that overlap, a resource in two prefetch keys, a
 * Bundle that repeats it): kept once, the later version (docs/clinical-logic.md §3: meta.versionId,
 * then meta.lastUpdated as an instant; of two the metadata cannot order, the first given). Before,
 * only Observations were: a G-CSF dose given twice read "(2 doses)", a transfusion twice was
 * counted twice, and a later version of the Patient recording death was passed over. Also here: an
 * administration or procedure dated by a period that has only its end.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource, MedicationAdministration, Patient } from 'fhir/r4.js';
import {
  anc,
  assessOn,
  dateOf,
  gcsf,
  infusion,
  infusionProcedure,
  patient,
  plateletTransfusion,
  RX,
} from '../helpers/fhir.js';

const version = <R extends FhirResource>(r: R, versionId: string, change: Partial<R> = {}): R => ({
  ...r,
  ...change,
  meta: { versionId },
});

describe('administrations, procedures and the Patient given twice are kept once, the later version', () => {
  const dose = gcsf(3);
  const gcsfEvents = (resources: FhirResource[]) =>
    (assessOn(5, [infusion(0), anc(5, 0.2), ...resources], { includeSeries: true }).events ?? [])
      .filter((e) => e.kind === 'g-csf')
      .map((e) => [e.day, e.reference]);

  test.each<[string, FhirResource[], [number | null, string][]]>([
    ['the same dose twice (two pages)', [dose, { ...dose }], [[3, `MedicationAdministration/${dose.id ?? ''}`]]],
    [
      'version 2 says entered-in-error: not given',
      [version(dose, '1'), version<MedicationAdministration>(dose, '2', { status: 'entered-in-error' })],
      [],
    ],
    [
      'the same, version 2 given first',
      [version<MedicationAdministration>(dose, '2', { status: 'entered-in-error' }), version(dose, '1')],
      [],
    ],
    [
      'two versions nothing orders (no meta): the first given stays',
      [dose, { ...dose, status: 'not-done' }],
      [[3, `MedicationAdministration/${dose.id ?? ''}`]],
    ],
  ])('%s', (_case, resources, expected) => {
    expect(gcsfEvents(resources)).toEqual(expected);
  });

  test('a platelet transfusion given twice is one transfusion', () => {
    const transfusion = plateletTransfusion(4);
    const a = assessOn(5, [infusion(0), transfusion, { ...transfusion }], { includeSeries: true });
    expect((a.events ?? []).filter((e) => e.kind === 'platelet-transfusion')).toHaveLength(1);
  });

  test('the CAR-T administration given twice is one infusion with one reference', () => {
    const product = infusion(0);
    const a = assessOn(5, [product, { ...product }]);
    expect(a.infusions.map((i) => [i.date, i.references])).toEqual([
      [dateOf(0), [`MedicationAdministration/${product.id ?? ''}`]],
    ]);
  });

  test('the Patient given twice: version 2 records death on day +11, so no advice on day +12', () => {
    const alive = version<Patient>(patient(), '1');
    const dead = version<Patient>(patient(), '2', { deceasedDateTime: `${dateOf(11)}T08:00:00Z` });
    for (const order of [
      [alive, dead],
      [dead, alive],
    ]) {
      const a = assessOn(12, [...order, infusion(0), anc(12, 0.2)]);
      expect([a.recommendations, a.icaht.censoring?.reason]).toEqual([[], 'death']);
    }
    // Control: alive alone, the ANC of 0.2 asks for G-CSF.
    expect(assessOn(12, [alive, infusion(0), anc(12, 0.2)]).recommendations.map((r) => r.kind)).toContain('g-csf');
  });
});

describe('two versions the metadata cannot order and that differ: the first stays, and it is said (version-ambiguous)', () => {
  const ambiguous = (reference: string) => ({
    severity: 'warning',
    code: 'version-ambiguous',
    message: `${reference} is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated); the first given was used`,
    resource: reference,
  });
  const versionIssues = (resources: FhirResource[], day = 60) =>
    assessOn(day, resources).issues.filter((i) => i.code === 'version-ambiguous');

  test('the CAR-T infusion procedure given twice with two dates and no meta: day 0 is the first given, and said', () => {
    const first = { ...infusionProcedure(0), id: 'inf' };
    const second = { ...first, performedDateTime: `${dateOf(14)}T11:00:00Z` };
    for (const [order, day0] of [
      [[first, second], dateOf(0)],
      [[second, first], dateOf(14)],
    ] as const) {
      const a = assessOn(60, [...order]);
      expect(a.infusionDate).toBe(day0);
      expect(a.issues.filter((i) => i.code === 'version-ambiguous')).toEqual([ambiguous('Procedure/inf')]);
    }
  });

  test.each<[string, FhirResource[], number]>([
    [
      'the same procedure twice (two pages): nothing to say',
      [
        { ...infusionProcedure(0), id: 'p' },
        { ...infusionProcedure(0), id: 'p' },
      ],
      0,
    ],
    [
      'a G-CSF dose twice, the second not-done, no meta',
      [
        { ...gcsf(3), id: 'g' },
        { ...gcsf(3), id: 'g', status: 'not-done' },
      ],
      1,
    ],
    [
      'two versions ordered by versionId: the later is used, nothing to say',
      [
        version({ ...gcsf(3), id: 'g' }, '1'),
        version<MedicationAdministration>({ ...gcsf(3), id: 'g' }, '2', { status: 'not-done' }),
      ],
      0,
    ],
  ])('%s', (_case, resources, reported) => {
    expect(versionIssues([infusion(0), ...resources])).toHaveLength(reported);
  });

  test('the Patient given twice, differing (a death recorded in one), no meta: the first given stays, and said', () => {
    const alive = patient();
    const dead: Patient = { ...patient(), deceasedDateTime: `${dateOf(11)}T08:00:00Z` };
    const a = assessOn(12, [alive, dead, infusion(0)]);
    expect(a.issues.filter((i) => i.code === 'version-ambiguous')).toEqual([ambiguous(`Patient/${alive.id ?? ''}`)]);
  });

  test('a Medication given twice, differing, no meta: the first given is what the administration gave, and said', () => {
    const cart: FhirResource = {
      resourceType: 'Medication',
      id: 'm1',
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
    };
    const other: FhirResource = {
      resourceType: 'Medication',
      id: 'm1',
      code: { coding: [{ system: RX, code: '161' }] },
    };
    const given: MedicationAdministration = (({ medicationCodeableConcept: _drop, ...ma }) => ({
      ...ma,
      medicationReference: { reference: 'Medication/m1' },
    }))(infusion(0));
    for (const [order, day0] of [
      [[cart, other], dateOf(0)],
      [[other, cart], null],
    ] as const) {
      const a = assessOn(9, [given, ...order]);
      expect(a.infusionDate).toBe(day0);
      expect(a.issues.filter((i) => i.code === 'version-ambiguous')).toEqual([ambiguous('Medication/m1')]);
    }
  });
});

describe('an administration or a procedure recorded with a period that has only its end is dated by the end', () => {
  test.each<[string, FhirResource]>([
    [
      'the CAR-T product, effectivePeriod.end only',
      (({ effectiveDateTime: _drop, ...ma }) => ({ ...ma, effectivePeriod: { end: `${dateOf(0)}T11:00:00Z` } }))(
        infusion(0),
      ),
    ],
    [
      'the CAR-T infusion procedure, performedPeriod.end only',
      (({ performedDateTime: _drop, ...p }) => ({ ...p, performedPeriod: { end: `${dateOf(0)}T11:00:00Z` } }))(
        infusionProcedure(0),
      ),
    ],
  ])('%s sets day 0 (it gave none before)', (_case, given) => {
    const a = assessOn(5, [given]);
    expect([a.infusionDate, a.dayPostInfusion]).toEqual([dateOf(0), 5]);
  });
});
