/**
 * The input screen (src/fhir/resource-schemas.ts): a resource that does not have the shape the
 * engine reads is left out and reported (type, id, element, why); anything else passes. Worked
 * cases per element the engine reads, and properties over arbitrary JSON: the screen never throws,
 * and what it lets through never makes the engine throw.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { assess } from '../../src/clinical/assess.js';
import { nestedDeeperThan, screenResource, screenResources } from '../../src/fhir/resource-schemas.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { engineSettings } from '../../src/profiles.js';

const obs = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
  resourceType: 'Observation',
  id: 'anc-1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '751-8' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-11-01T08:00:00Z',
  valueQuantity: { value: 0.4, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' },
  ...patch,
});

describe('worked cases: what is left out, and what the issue says', () => {
  test.each([
    [
      'subject.reference a number',
      obs({ subject: { reference: 42 } }),
      'subject.reference: Invalid input: expected string, received number',
    ],
    [
      'unit an object',
      obs({ valueQuantity: { value: 1, unit: { text: 'g/L' } } }),
      'valueQuantity.unit: Invalid input: expected string, received object',
    ],
    [
      'value a string',
      obs({ valueQuantity: { value: '0.4' } }),
      'valueQuantity.value: Invalid input: expected number, received string',
    ],
    [
      'referenceRange an object',
      obs({ referenceRange: { low: { value: 1 } } }),
      'referenceRange: Invalid input: expected array, received object',
    ],
    [
      'coding not a list',
      obs({ code: { coding: { code: '751-8' } } }),
      'code.coding: Invalid input: expected array, received object',
    ],
    ['no status', obs({ status: undefined }), 'status: Invalid input: expected string, received undefined'],
    ['no code', obs({ code: undefined }), 'code: Invalid input: expected object, received undefined'],
    [
      'comparator not a FHIR comparator',
      obs({ valueQuantity: { value: 1, comparator: '~' } }),
      'valueQuantity.comparator: Invalid option: expected one of "<"|"<="|">="|">"',
    ],
    ['id not a FHIR id', obs({ id: 'a b' }), 'id: is not a FHIR id ([A-Za-z0-9-.]{1,64})'],
  ])('Observation with %s → left out', (_name, resource, message) => {
    const result = screenResource(resource);
    // The codings found in what was left out (a CAR-T infusion left out is still known to be one):
    // the LOINC code of obs(), unless the row broke or removed it; never the UCUM unit of a value.
    const coded = (resource['code'] as { coding?: unknown } | undefined)?.coding;
    const codings = Array.isArray(coded) ? [{ system: 'http://loinc.org', code: '751-8' }] : undefined;
    expect(result).toEqual({
      ok: false,
      issue: {
        severity: 'warning',
        code: 'resource-invalid',
        message: `${message}; resource left out`,
        resource: expect.stringMatching(/^Observation/) as unknown,
        ...(codings ? { codings } : {}),
      },
    });
  });

  test('the codings of a left-out resource are found wherever its shape put them, within a bound', () => {
    const broken = {
      resourceType: 'MedicationAdministration',
      id: 'ma-1',
      status: 'completed',
      effectiveDateTime: 20261113,
      medicationCodeableConcept: { coding: { system: 'urn:local', code: 'KYMRIAH' } },
      extension: [{ url: 'x', valueCoding: { system: 'http://snomed.info/sct', code: '1' } }],
    };
    const result = screenResource(broken);
    expect(result.ok ? undefined : result.issue.codings).toEqual([
      { system: 'urn:local', code: 'KYMRIAH' },
      { system: 'http://snomed.info/sct', code: '1' },
    ]);
    const many = { ...broken, extension: Array.from({ length: 50 }, (_, i) => ({ system: 's', code: String(i) })) };
    const kept = screenResource(many);
    expect(kept.ok ? undefined : kept.issue.codings).toHaveLength(20);
  });

  test.each([
    ['a conformant Observation', obs()],
    [
      'an Observation with elements the engine does not read, of any type',
      obs({ interpretation: 42, note: 'free text', component: { odd: true } }),
    ],
    [
      'a Practitioner (not read by the engine: only a type is needed)',
      { resourceType: 'Practitioner', id: 'x', name: 7 },
    ],
    [
      'a MedicationAdministration with a contained Medication',
      {
        resourceType: 'MedicationAdministration',
        status: 'completed',
        contained: [{ resourceType: 'Medication', id: 'm', code: { text: 'tocilizumab' } }],
        medicationReference: { reference: '#m' },
      },
    ],
  ])('%s passes', (_name, resource) => {
    expect(screenResource(resource)).toEqual({ ok: true, resource });
  });

  test('a contained Medication with a malformed code leaves the administration out', () => {
    const result = screenResource({
      resourceType: 'MedicationAdministration',
      id: 'ma-1',
      status: 'completed',
      contained: [{ resourceType: 'Medication', id: 'm', code: { coding: 'x' } }],
    });
    expect(result.ok).toBe(false);
  });

  test.each([null, 42, 'Observation', [], {}])('%p is not a resource', (value) => {
    expect(screenResource(value)).toMatchObject({
      ok: false,
      issue: { code: 'resource-invalid', resource: 'resource' },
    });
  });
});

describe('properties', () => {
  const clinical = loadClinicalContext({ thresholdsFile: undefined, localCodesFile: undefined, timeZone: 'UTC' });

  test('a resource left out carries at most 20 codings, each a short system and code, whatever its shape', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const result = screenResource({ resourceType: 'Observation', status: 7, value });
        expect(result.ok).toBe(false);
        const codings = result.ok ? [] : (result.issue.codings ?? []);
        expect(codings.length).toBeLessThanOrEqual(20);
        for (const c of codings) {
          expect(typeof c.system === 'string' && c.system.length <= 256).toBe(true);
          expect(typeof c.code === 'string' && c.code.length <= 256).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('the screen never throws, on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const { resources, issues } = screenResources([value]);
        expect(resources.length + issues.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  // Any field of a realistic resource of each type the engine reads replaced by any JSON value
  // (or by a value of a neighbouring field): what the screen lets through must not make the engine throw.
  const infusion = {
    resourceType: 'Procedure',
    id: 'inf',
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '1269325002' }] },
    performedDateTime: '2026-10-25',
  };
  const bases: Record<string, unknown>[] = [
    obs(),
    obs({
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
      valueQuantity: { value: 71, unit: 'g/L' },
      referenceRange: [{ low: { value: 120, unit: 'g/L' } }],
    }),
    infusion,
    {
      resourceType: 'MedicationAdministration',
      id: 'ma',
      status: 'completed',
      subject: { reference: 'Patient/p1' },
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '68442' }] },
      effectiveDateTime: '2026-10-30',
    },
    {
      resourceType: 'Condition',
      id: 'c',
      subject: { reference: 'Patient/p1' },
      code: { text: 'CRS' },
      onsetDateTime: '2026-10-27',
      verificationStatus: { coding: [{ code: 'confirmed' }] },
    },
    { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' },
    {
      resourceType: 'Medication',
      id: 'm1',
      code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '612865' }] },
    },
  ];
  const fields = [
    'status',
    'code',
    'subject',
    'effectiveDateTime',
    'effectivePeriod',
    'valueQuantity',
    'valueInteger',
    'valueCodeableConcept',
    'referenceRange',
    'meta',
    'id',
    'dataAbsentReason',
    'performedDateTime',
    'performedPeriod',
    'medicationReference',
    'medicationCodeableConcept',
    'contained',
    'onsetDateTime',
    'abatementPeriod',
    'verificationStatus',
    'gender',
    'birthDate',
    'deceasedBoolean',
  ];
  test('whatever passes the screen, the engine assesses without throwing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.constantFrom(...fields), fc.jsonValue({ maxDepth: 3 })), { maxLength: 4 }),
        (base, patches) => {
          const resource = { ...base, ...Object.fromEntries(patches) };
          const screened = screenResources([
            resource,
            obs(),
            infusion,
            { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' },
          ]);
          const assessment = assess(screened.resources, {
            ...engineSettings(clinical),
            asOf: '2026-11-22',
            patientId: 'p1',
            inputIssues: screened.issues,
          });
          expect(assessment.issues.filter((i) => i.code === 'resource-invalid').length).toBe(screened.issues.length);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('nestedDeeperThan: depth of objects and arrays, counted without recursion', () => {
  /** Reference: recursive depth (a primitive is level 0, an empty object or array level 1). */
  const depthOf = (v: unknown): number =>
    v === null || typeof v !== 'object'
      ? 0
      : 1 + Math.max(0, ...(Array.isArray(v) ? v : Object.values(v)).map(depthOf));
  const nest = (levels: number): unknown => {
    let v: unknown = {};
    for (let i = 1; i < levels; i++) v = i % 2 ? [v] : { a: v };
    return v;
  };

  test.each([
    ['a primitive', 'x', 0, false],
    ['an empty object at max 1', {}, 1, false],
    ['an object holding an array, max 1', { a: [] }, 1, true],
    ['64 levels at max 64', nest(64), 64, false],
    ['65 levels at max 64', nest(65), 64, true],
    ['100,000 levels (no stack overflow)', nest(100_000), 64, true],
  ])('%s', (_name, value, max, expected) => {
    expect(nestedDeeperThan(value, max)).toBe(expected);
  });

  test('agrees with the recursive depth on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 14 }), (value, max) => {
        expect(nestedDeeperThan(value, max)).toBe(depthOf(value) > max);
      }),
    );
  });
});
