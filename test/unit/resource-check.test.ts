/**
 * The screen's fast path (src/fhir/resource-check.ts) accepts a resource exactly when its zod
 * schema does: properties over valid resources of every type read, with elements replaced by
 * arbitrary JSON (wrong types, long strings, ids that are not FHIR ids, nulls, arrays).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { RESOURCE_CHECKS } from '../../src/fhir/resource-check.js';
import { RESOURCE_SCHEMAS, type ReadType } from '../../src/fhir/resource-schemas.js';

const quantity = { value: 0.4, comparator: '<', unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' };
const concept = { coding: [{ system: 'http://loinc.org', code: '751-8', display: 'ANC' }], text: 'ANC' };
const meta = { versionId: '2', lastUpdated: '2026-11-01T08:00:00Z' };
const period = { start: '2026-11-01', end: '2026-11-02' };
const SAMPLES: Record<ReadType, Record<string, unknown>> = {
  Observation: {
    resourceType: 'Observation',
    id: 'anc-1',
    meta,
    status: 'final',
    code: concept,
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-11-01T08:00:00Z',
    effectivePeriod: period,
    effectiveInstant: '2026-11-01T08:00:00Z',
    valueQuantity: quantity,
    valueInteger: 3,
    valueCodeableConcept: concept,
    dataAbsentReason: concept,
    referenceRange: [{ low: quantity, high: quantity }],
  },
  MedicationAdministration: {
    resourceType: 'MedicationAdministration',
    id: 'ma-1',
    status: 'completed',
    medicationCodeableConcept: concept,
    medicationReference: { reference: '#m1' },
    contained: [{ resourceType: 'Medication', id: 'm1', code: concept }, { resourceType: 'Substance' }],
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-11-01',
    effectivePeriod: period,
  },
  Procedure: {
    resourceType: 'Procedure',
    id: 'p-1',
    status: 'completed',
    code: concept,
    subject: { reference: 'Patient/p1' },
    performedDateTime: '2026-11-01',
    performedPeriod: period,
  },
  Condition: {
    resourceType: 'Condition',
    id: 'c-1',
    code: concept,
    subject: { reference: 'Patient/p1' },
    verificationStatus: concept,
    onsetDateTime: '2026-11-01',
    onsetPeriod: period,
    recordedDate: '2026-11-01',
    abatementDateTime: '2026-11-03',
    abatementPeriod: period,
  },
  Patient: {
    resourceType: 'Patient',
    id: 'p1',
    meta,
    gender: 'female',
    birthDate: '1970-01-01',
    deceasedBoolean: false,
    deceasedDateTime: '2026-11-01',
  },
  Medication: { resourceType: 'Medication', id: 'm1', code: concept },
  MedicationRequest: {
    resourceType: 'MedicationRequest',
    id: 'mr-1',
    status: 'draft',
    medicationCodeableConcept: concept,
    medicationReference: { reference: 'Medication/m1' },
    contained: [{ resourceType: 'Medication', code: concept }],
    subject: { reference: 'Patient/p1' },
    note: [{ text: 'x' }],
  },
  ServiceRequest: {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    status: 'draft',
    code: concept,
    orderDetail: [concept],
    note: [{ text: 'x' }],
    subject: { reference: 'Patient/p1' },
  },
};

type Path = (string | number)[];
function pathsOf(value: unknown, at: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [at];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [at, ...keys.flatMap((k) => pathsOf((value as Record<string | number, unknown>)[k], [...at, k]))];
}

function setAt(root: Record<string, unknown>, path: Path, value: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (typeof node === 'object' && node !== null)
    (node as Record<string | number, unknown>)[path[path.length - 1] as string] = value;
}

const junk = fc.oneof(
  fc.jsonValue(),
  fc.string({ minLength: 60, maxLength: 70 }),
  fc.constantFrom('', 'a'.repeat(65), 'has space', '<', '<=', '>=', '>', '~', 1.5, 2 ** 60, 'Medication', 'Substance'),
);

describe('the fast path agrees with the zod schema', () => {
  test.each(Object.keys(SAMPLES) as ReadType[])('%s: valid as given', (type) => {
    expect(RESOURCE_SCHEMAS[type].safeParse(SAMPLES[type]).success).toBe(true);
    expect(RESOURCE_CHECKS[type]?.(SAMPLES[type])).toBe(true);
  });

  test.each(Object.keys(SAMPLES) as ReadType[])('%s: with elements replaced by arbitrary JSON', (type) => {
    const paths = pathsOf(SAMPLES[type]).filter((p) => p.length > 0 && p[0] !== 'resourceType');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...paths), junk), { minLength: 1, maxLength: 3 }), (mutations) => {
        const resource = structuredClone(SAMPLES[type]);
        for (const [path, value] of mutations) setAt(resource, path, value);
        expect(RESOURCE_CHECKS[type]?.(resource)).toBe(RESOURCE_SCHEMAS[type].safeParse(resource).success);
      }),
      { numRuns: 400 },
    );
  });
});
