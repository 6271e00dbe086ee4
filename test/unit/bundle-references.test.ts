/**
 * References between the entries of a Bundle (POST /assessments, the CLI's Bundle file), resolved
 * as FHIR R4 says (Bundle, "Resolving references in Bundles"): a transaction Bundle, as Synthea and
 * most EHR exports write one, names its Patient and Medications by `urn:uuid:` fullUrls. Before,
 * every resource naming the patient that way was left out as "names no patient", so the Bundle
 * gave no assessment at all.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { assess } from '../../src/clinical/assess.js';
import { bundleResources } from '../../src/fhir/bundle.js';
import { engineSettings, loadClinicalContext } from '../../src/profiles.js';

const PATIENT_UUID = '8c3c0b7e-4a8e-4f7a-9d0e-1c2b3a4d5e6f';
const PATIENT_URN = `urn:uuid:${PATIENT_UUID}`;
const KYMRIAH_URN = 'urn:uuid:11111111-2222-4333-8444-555555555555';
const BASE = 'https://ehr.example.org/fhir';

type Entry = { fullUrl?: unknown; resource?: unknown };
const bundleOf = (entry: Entry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry }) as Bundle;

const patient = (id?: string): FhirResource => ({ resourceType: 'Patient', ...(id ? { id } : {}), gender: 'female' });
const kymriah = (id?: string): FhirResource => ({
  resourceType: 'Medication',
  ...(id ? { id } : {}),
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] }, // tisagenlecleucel
});
const given = (subject: string, medication: string): FhirResource => ({
  resourceType: 'MedicationAdministration',
  status: 'completed',
  medicationReference: { reference: medication },
  subject: { reference: subject },
  effectiveDateTime: '2026-11-10T10:00:00Z',
});
const neutrophils = (subject: string, date: string, value: number): FhirResource => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] }, // Neutrophils [#/volume] in Blood
  subject: { reference: subject },
  effectiveDateTime: `${date}T08:00:00Z`,
  valueQuantity: { value, unit: '10*3/uL', system: 'http://unitsofmeasure.org', code: '10*3/uL' },
});

/** The references the engine follows, as bundleResources leaves them: [type, subject, medication]. */
function followed(bundle: Bundle): [string, string | undefined, string | undefined][] {
  return bundleResources(bundle as never).resources.map((r) => {
    const x = r as { subject?: { reference?: string }; medicationReference?: { reference?: string } };
    return [r.resourceType, x.subject?.reference, x.medicationReference?.reference];
  });
}

describe('references between entries are resolved through their fullUrls (FHIR R4 Bundle)', () => {
  // Each row: the entries, then the references the engine is given, computed from the rule by hand.
  test.each<[string, Entry[], [string, string | undefined, string | undefined][]]>([
    [
      'urn:uuid: to entries with ids (Synthea): rewritten as Type/id',
      [
        { fullUrl: PATIENT_URN, resource: patient(PATIENT_UUID) },
        { fullUrl: KYMRIAH_URN, resource: kymriah('kym') },
        { fullUrl: 'urn:uuid:99999999-0000-4000-8000-000000000001', resource: given(PATIENT_URN, KYMRIAH_URN) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Medication', undefined, undefined],
        ['MedicationAdministration', `Patient/${PATIENT_UUID}`, 'Medication/kym'],
      ],
    ],
    [
      'urn:uuid: to entries without ids: they take the UUID as id',
      [
        { fullUrl: PATIENT_URN, resource: patient() },
        { fullUrl: KYMRIAH_URN, resource: kymriah() },
        { resource: given(PATIENT_URN, KYMRIAH_URN) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Medication', undefined, undefined],
        ['MedicationAdministration', `Patient/${PATIENT_UUID}`, 'Medication/11111111-2222-4333-8444-555555555555'],
      ],
    ],
    [
      'urn:oid: the OID is the id',
      [
        { fullUrl: 'urn:oid:1.2.840.113619.6.1', resource: patient() },
        { resource: neutrophils('urn:oid:1.2.840.113619.6.1', '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', 'Patient/1.2.840.113619.6.1', undefined],
      ],
    ],
    [
      'an absolute URL equal to a fullUrl that agrees with its resource: that resource’s Type/id',
      [
        { fullUrl: `${BASE}/Patient/23`, resource: patient('23') },
        { resource: neutrophils(`${BASE}/Patient/23`, '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', 'Patient/23', undefined],
      ],
    ],
    [
      'a RESTful fullUrl that disagrees with its resource (R4: "SHALL NOT disagree") names nothing',
      [
        { fullUrl: `${BASE}/Patient/zz`, resource: { ...given('Patient/p', 'Medication/m'), id: 'a' } },
        { resource: neutrophils(`${BASE}/Patient/zz`, '2026-11-20', 0.3) },
      ],
      [
        ['MedicationAdministration', 'Patient/p', 'Medication/m'],
        ['Observation', `${BASE}/Patient/zz`, undefined],
      ],
    ],
    [
      'a fullUrl two entries share (R4 bdl-7) names neither',
      [
        { fullUrl: PATIENT_URN, resource: patient() },
        { fullUrl: PATIENT_URN, resource: patient() },
        { resource: neutrophils(PATIENT_URN, '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Patient', undefined, undefined],
        ['Observation', PATIENT_URN, undefined],
      ],
    ],
    [
      'a urn:uuid: in capitals names the entry written in lower case (RFC 4122: case-insensitive)',
      [
        { fullUrl: PATIENT_URN, resource: patient() },
        { resource: neutrophils(PATIENT_URN.toUpperCase(), '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', `Patient/${PATIENT_UUID}`, undefined],
      ],
    ],
    [
      'relative references stay as they are',
      [
        { fullUrl: `${BASE}/Patient/23`, resource: patient('23') },
        { fullUrl: `${BASE}/Observation/5`, resource: neutrophils('Patient/23', '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', 'Patient/23', undefined],
      ],
    ],
    [
      'a urn:uuid: no entry has stays as it is (the engine says it names no patient)',
      [
        { fullUrl: PATIENT_URN, resource: patient(PATIENT_UUID) },
        { resource: neutrophils('urn:uuid:00000000-0000-4000-8000-00000000dead', '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', 'urn:uuid:00000000-0000-4000-8000-00000000dead', undefined],
      ],
    ],
    [
      'a fullUrl that gives no FHIR id, for a resource without one: left as it is',
      [
        { fullUrl: 'urn:example:patient one', resource: patient() },
        { resource: neutrophils('urn:example:patient one', '2026-11-20', 0.3) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', 'urn:example:patient one', undefined],
      ],
    ],
    [
      'a fullUrl that is not a string, an entry without a resource: passed over',
      [
        { fullUrl: 42, resource: patient() },
        { fullUrl: PATIENT_URN },
        { resource: neutrophils(PATIENT_URN, '2026-11-20', 1) },
      ],
      [
        ['Patient', undefined, undefined],
        ['Observation', PATIENT_URN, undefined],
      ],
    ],
  ])('%s', (_case, entry, expected) => {
    expect(followed(bundleOf(entry))).toEqual(expected);
  });

  test('a transaction Bundle by urn:uuid is assessed: day 0 from the product, the patient’s ANC', () => {
    const bundle = bundleOf([
      { fullUrl: PATIENT_URN, resource: patient() },
      { fullUrl: KYMRIAH_URN, resource: kymriah() },
      { fullUrl: 'urn:uuid:99999999-0000-4000-8000-000000000001', resource: given(PATIENT_URN, KYMRIAH_URN) },
      {
        fullUrl: 'urn:uuid:99999999-0000-4000-8000-000000000002',
        resource: neutrophils(PATIENT_URN, '2026-11-20', 0.3),
      },
      {
        fullUrl: 'urn:uuid:99999999-0000-4000-8000-000000000003',
        resource: neutrophils(PATIENT_URN, '2026-11-21', 0.2),
      },
    ]);
    const screened = bundleResources(bundle as never);
    const a = assess(screened.resources, {
      asOf: '2026-11-22',
      inputIssues: screened.issues,
      ...engineSettings(loadClinicalContext({ timeZone: 'UTC' })),
    });
    // Infused 2026-11-10 (the administration), so 2026-11-22 is day +12; ANC 0.2 ×10⁹/L on day +11 is CTCAE grade 4 (< 0.5).
    expect({
      patientId: a.patientId,
      sex: a.sex,
      infusionDate: a.infusionDate,
      day: a.dayPostInfusion,
      anc: [a.latest.anc?.value, a.latest.anc?.day],
      ancGrade: a.ctcae.neutrophils.latest,
      mismatches: a.issues.filter((i) => i.code === 'patient-mismatch' || i.code === 'medication-unknown'),
    }).toEqual({
      patientId: PATIENT_UUID,
      sex: 'female',
      infusionDate: '2026-11-10',
      day: 12,
      anc: [0.2, 11],
      ancGrade: 4,
      mismatches: [],
    });
  });
});

describe('an id a fullUrl gives is never one another resource of the type has: two results are not one', () => {
  const assessed = (entry: Entry[]) => {
    const screened = bundleResources(bundleOf(entry) as never);
    return assess(screened.resources, {
      asOf: '2026-11-22',
      inputIssues: screened.issues,
      ...engineSettings(loadClinicalContext({ timeZone: 'UTC' })),
    });
  };
  const p1 = { fullUrl: `${BASE}/Patient/p1`, resource: patient('p1') };
  const product = { fullUrl: `${BASE}/Medication/k`, resource: kymriah('k') };
  const infused = { resource: given('Patient/p1', 'Medication/k') }; // 2026-11-10: day 0

  test('two Observations without ids at …/Observation/1 of two laboratories: both are read', () => {
    // ANC 0.05 on day +10 is severe neutropenia (< 0.5, Wang et al. 2021), 1.5 on day +5 is not.
    const a = assessed([
      p1,
      product,
      infused,
      { fullUrl: 'https://lab-a.example/fhir/Observation/1', resource: neutrophils('Patient/p1', '2026-11-20', 0.05) },
      { fullUrl: 'https://lab-b.example/fhir/Observation/1', resource: neutrophils('Patient/p1', '2026-11-15', 1.5) },
    ]);
    expect([a.latest.anc?.value, a.severeCytopenias.map((e) => [e.lineage, e.onsetDay, e.nadir])]).toEqual([
      0.05,
      [['neutrophil', 10, 0.05]],
    ]);
    expect(a.issues.filter((i) => i.code === 'version-ambiguous')).toEqual([]);
  });

  test('an Observation without an id at …/Observation/1 beside Observation 1: both are read', () => {
    const a = assessed([
      p1,
      product,
      infused,
      { resource: { ...neutrophils('Patient/p1', '2026-11-20', 0.05), id: '1' } },
      { fullUrl: `${BASE}/Observation/1`, resource: neutrophils('Patient/p1', '2026-11-21', 1.5) },
    ]);
    expect([a.latest.anc?.value, a.severeCytopenias.map((e) => [e.onsetDay, e.nadir])]).toEqual([1.5, [[10, 0.05]]]);
    expect(a.issues.filter((i) => i.code === 'version-ambiguous')).toEqual([]);
  });

  test('a Medication without an id at …/Medication/k does not replace Medication k: day 0 stays', () => {
    const other = { resourceType: 'Medication', code: { text: 'ondansetron' } } as FhirResource;
    const a = assessed([
      p1,
      product,
      { fullUrl: 'https://pharmacy.example/fhir/Medication/k', resource: other },
      infused,
    ]);
    expect([a.infusionDate, a.dayPostInfusion]).toEqual(['2026-11-10', 12]);
  });
});

describe('property: resolving never throws, never changes the input, never merges two resources, only names an entry', () => {
  const urls = [
    PATIENT_URN,
    PATIENT_URN.toUpperCase(),
    KYMRIAH_URN,
    'urn:oid:1.2.3',
    `${BASE}/Patient/9`,
    `${BASE}/Medication/m`,
    `${BASE}/Observation/1`,
    'https://other.example/fhir/Observation/1',
    'urn:example:x y',
    'Patient/9',
    'Medication/m',
    '#m',
    '',
  ];
  const url = fc.constantFrom(...urls);
  const resource = fc.oneof(
    fc.record({
      resourceType: fc.constant('Patient'),
      id: fc.option(fc.constantFrom('9', PATIENT_UUID, 'p'), { nil: undefined }),
    }),
    fc.record({
      resourceType: fc.constant('Medication'),
      id: fc.option(fc.constantFrom('m', 'kym'), { nil: undefined }),
    }),
    fc.record({
      resourceType: fc.constant('MedicationAdministration'),
      status: fc.constant('completed'),
      effectiveDateTime: fc.constant('2026-11-10T10:00:00Z'),
      subject: fc.record({ reference: url }),
      medicationReference: fc.record({ reference: url }),
    }),
    fc.record({
      resourceType: fc.constant('Observation'),
      id: fc.option(fc.constantFrom('1', '2'), { nil: undefined }),
      status: fc.constant('final'),
      code: fc.constant({ coding: [{ system: 'http://loinc.org', code: '751-8' }] }),
      subject: fc.record({ reference: url }),
    }),
  );
  const entry = fc.record({ fullUrl: fc.option(url, { nil: undefined }), resource }, { requiredKeys: ['resource'] });

  // The rules, restated from FHIR R4 (Bundle.entry.fullUrl, bdl-7) and RFC 4122, not from the code.
  const same = (a: string, b: string): boolean =>
    a === b || (a.toLowerCase().startsWith('urn:uuid:') && a.toLowerCase() === b.toLowerCase());
  const restful = (u: string) => /^https?:\/\/.+\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(u);
  /** Whether entry j's fullUrl may name its resource (ids as they came out). */
  const names = (entries: Entry[], out: FhirResource[], j: number, ref: string): boolean => {
    const fullUrl = entries[j]?.fullUrl;
    if (typeof fullUrl !== 'string' || !same(fullUrl, ref)) return false;
    if (entries.filter((e) => typeof e.fullUrl === 'string' && same(e.fullUrl, fullUrl)).length !== 1) return false;
    const r = out[j] as FhirResource;
    const m = restful(fullUrl);
    return r.id !== undefined && (!m || (m[1] === r.resourceType && m[2] === r.id));
  };

  test('2,000 Bundles of up to 8 entries', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        const before = structuredClone(entries);
        const out = bundleResources(bundleOf(entries) as never).resources;
        expect(entries).toEqual(before);
        expect(out).toHaveLength(entries.length);
        out.forEach((r, i) => {
          const input = entries[i]?.resource as FhirResource;
          if (input.id === undefined && r.id !== undefined) {
            // A given id: no other resource of the type has it, in the input or given.
            const others = out.filter((o, j) => j !== i && o.resourceType === r.resourceType && o.id === r.id);
            expect(others).toEqual([]);
          } else expect(r.id).toBe(input.id);
          for (const field of ['subject', 'medicationReference'] as const) {
            const was = (input as unknown as Record<string, { reference: string } | undefined>)[field]?.reference;
            const now = (r as unknown as Record<string, { reference: string } | undefined>)[field]?.reference;
            if (was === undefined) continue;
            const target = out.findIndex((_, j) => names(entries, out, j, was));
            if (!/^[a-z]+:/i.test(was))
              expect(now).toBe(was); // relative: as it was
            else if (target < 0)
              expect(now).toBe(was); // names no entry it may: as it was
            else expect(now).toBe(`${out[target]?.resourceType ?? ''}/${out[target]?.id ?? ''}`);
          }
        });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('a Bundle that reports a failed search or export says the record may be incomplete', () => {
  const outcome = (severity: string): Entry => ({
    resource: {
      resourceType: 'OperationOutcome',
      issue: [{ severity, code: 'too-costly', diagnostics: 'Result truncated' }],
    },
  });
  test.each<[string, Entry[], string[]]>([
    [
      'an error OperationOutcome (a truncated search)',
      [outcome('error')],
      [
        'the Bundle holds an OperationOutcome reporting an error: the search or export that made it may have failed part-way, and the record may be incomplete',
      ],
    ],
    [
      'two, one fatal',
      [outcome('fatal'), outcome('error')],
      [
        'the Bundle holds 2 OperationOutcomes reporting an error: the search or export that made it may have failed part-way, and the record may be incomplete',
      ],
    ],
    ['a warning only ("some data may be restricted"): nothing', [outcome('warning')], []],
    ['information only: nothing', [outcome('information')], []],
  ])('%s', (_case, extra, messages) => {
    const screened = bundleResources(
      bundleOf([
        { resource: patient('p') },
        { resource: neutrophils('Patient/p', '2026-11-20', 0.3) },
        ...extra,
      ]) as never,
    );
    expect(screened.issues.filter((i) => i.code === 'data-unavailable').map((i) => i.message)).toEqual(messages);
  });
});

describe('an entry that holds no resource is said, not passed over (POST /assessments and the CLI read Bundles so)', () => {
  test.each<[string, unknown, string[]]>([
    ['null', null, ['Bundle entry[1] is null, not an entry; left out']],
    ['a number', 1, ['Bundle entry[1] is a number, not an entry; left out']],
    ['a string', 'x', ['Bundle entry[1] is a string, not an entry; left out']],
    ['an array', [], ['Bundle entry[1] is an array, not an entry; left out']],
    ['{}', {}, ['Bundle entry[1] has no resource; left out']],
    ['resource null', { resource: null }, ['Bundle entry[1] has no resource; left out']],
    [
      '"Resource" in the wrong case (an ANC the engine never sees)',
      { Resource: neutrophils('Patient/p', '2026-11-20', 0.3) },
      ['Bundle entry[1] has no resource; left out'],
    ],
    [
      'a transaction entry with only a request (a DELETE): no data, nothing to say',
      { request: { method: 'DELETE', url: 'Observation/x' } },
      [],
    ],
  ])('%s', (_case, entry, messages) => {
    const screened = bundleResources(
      bundleOf([
        { resource: patient('p') },
        entry as Entry,
        { resource: neutrophils('Patient/p', '2026-11-21', 0.2) },
      ]) as never,
    );
    expect(screened.issues.filter((i) => i.code === 'resource-invalid').map((i) => i.message)).toEqual(messages);
    expect(screened.resources.map((r) => r.resourceType)).toEqual(['Patient', 'Observation']);
  });
});

describe('property: any entry list is read without throwing, and each entry without a resource is named once', () => {
  test('2,000 lists of up to 8 entries of any JSON', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.jsonValue(), fc.record({ resource: fc.jsonValue() })), { maxLength: 8 }),
        (entries) => {
          const screened = bundleResources(bundleOf(entries as Entry[]) as never);
          const named = screened.issues.flatMap((i) => /^Bundle entry\[(\d+)\]/.exec(i.message)?.[1] ?? []).map(Number);
          const expected = entries.flatMap((e, i) => {
            const object = typeof e === 'object' && e !== null && !Array.isArray(e);
            const resource = object ? (e as Record<string, unknown>)['resource'] : undefined;
            if (object && resource === undefined && (e as Record<string, unknown>)['request']) return [];
            return !object || resource === undefined || resource === null ? [i] : [];
          });
          expect(named).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
