/**
 * How the gateway names a FHIR request (its logs, errors and metric labels): the resource type
 * and read or search, from the URL's structure, never an identifier.
 */
import { describe as group, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { describe, isSearch, targetOf } from '../../src/fhir/gateway.js';

/** FHIR R4 id: [A-Za-z0-9\-.]{1,64}. */
const fhirId = fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/);

group('targetOf: the type is the first segment, whatever the id looks like', () => {
  test.each([
    // Before: the last segment shaped like a type name was taken for the type ("JohnSmith search").
    ['Patient/JohnSmith', { type: 'Patient', kind: 'read' }],
    ['Patient/Observation', { type: 'Patient', kind: 'read' }],
    ['Medication/Aspirin', { type: 'Medication', kind: 'read' }],
    ['Patient/JohnSmith/_history/Two', { type: 'Patient', kind: 'read' }],
    ['Patient/p1', { type: 'Patient', kind: 'read' }],
    ['/Patient/p1', { type: 'Patient', kind: 'read' }],
    ['Observation', { type: 'Observation', kind: 'search' }],
    ['Observation?patient=JohnSmith&code=751-8', { type: 'Observation', kind: 'search' }],
    ['Observation?subject=Patient/JohnSmith', { type: 'Observation', kind: 'search' }],
    ['Observation/_search', { type: 'Observation', kind: 'search' }],
    ['Patient/JohnSmith/Observation?code=751-8', { type: 'Observation', kind: 'search' }],
  ])('%s → %o', (url, target) => {
    expect(targetOf(url)).toEqual(target);
  });

  test.each([
    '',
    'Patient/JohnSmith/$everything',
    '123/Patient',
    'Patient/a/b/c/d/e',
    'https://ehr.example.org/fhir/Patient/JohnSmith',
  ])('%s names no type (a FHIR request)', (url) => {
    expect(targetOf(url)).toBeUndefined();
    expect(describe(url)).toBe('a FHIR request');
  });

  test('Patient/{id}, for any FHIR id: a Patient read, named without the id', () => {
    fc.assert(
      fc.property(fhirId, (id) => {
        const url = `Patient/${encodeURIComponent(id)}`;
        expect(targetOf(url)).toEqual({ type: 'Patient', kind: 'read' });
        expect(isSearch(url)).toBe(false);
        expect(describe(url)).toBe('Patient read');
      }),
      { numRuns: 2000 },
    );
  });

  test('a search whose query names any FHIR id: a search of its type, named without the id', () => {
    fc.assert(
      fc.property(fhirId, fc.constantFrom('patient', 'subject', '_id'), (id, parameter) => {
        const url = `Observation?${parameter}=${encodeURIComponent(id)}&_count=1000`;
        expect(targetOf(url)).toEqual({ type: 'Observation', kind: 'search' });
        expect(describe(url)).toBe('Observation search');
      }),
      { numRuns: 1000 },
    );
  });
});
