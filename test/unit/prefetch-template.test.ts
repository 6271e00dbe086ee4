/**
 * Prefetch templates: tokens, encoding of hostile values, staying under the FHIR base.
 */
import { describe, expect, test } from '@jest/globals';
import { resolvePrefetchTemplate } from '../../src/cds-hooks/prefetch.js';
import { isUnderBase, resolveUnderBase } from '../../src/fhir/url.js';
import { checkFhirServer } from '../../src/fhir/gateway.js';

describe('resolvePrefetchTemplate', () => {
  const context = { patientId: '123', userId: 'Practitioner/abc', encounterId: 'e1', count: 5, nested: { id: 'x' } };
  test.each([
    ['Patient/{{context.patientId}}', 'Patient/123'],
    ['Observation?patient={{context.patientId}}&code=751-8', 'Observation?patient=123&code=751-8'],
    ['Encounter/{{ context.encounterId }}', 'Encounter/e1'],
    ['Practitioner/{{userPractitionerId}}', 'Practitioner/abc'],
    ['Observation?_count={{context.count}}', 'Observation?_count=5'],
  ])('%s → %s', (template, url) => {
    expect(resolvePrefetchTemplate(template, context)).toEqual({ ok: true, url });
  });

  test.each([
    ['{{context.missing}}', 'context.missing'],
    ['{{context.nested.id}}', 'context.nested.id'],
    ['{{userPatientId}}', 'userPatientId'],
    ['{{somethingElse}}', 'somethingElse'],
  ])('%s cannot be resolved', (template, token) => {
    const result = resolvePrefetchTemplate(template, context);
    expect(result).toEqual({ ok: false, reason: `prefetch token {{${token}}} has no value in this request's context` });
  });

  test('substituted values are percent-encoded', () => {
    const result = resolvePrefetchTemplate('Observation?patient={{context.patientId}}', { patientId: '1&_include=*' });
    expect(result).toEqual({ ok: true, url: 'Observation?patient=1%26_include%3D*' });
    expect(resolvePrefetchTemplate('Patient/{{context.patientId}}', { patientId: '../../x' })).toEqual({
      ok: true,
      url: 'Patient/..%2F..%2Fx',
    });
  });
});

describe('resolveUnderBase / isUnderBase', () => {
  test.each([
    ['https://ehr.example.org/fhir', 'Patient/1', 'https://ehr.example.org/fhir/Patient/1'],
    ['https://ehr.example.org/fhir/', '/Patient/1', 'https://ehr.example.org/fhir/Patient/1'],
    ['https://ehr.example.org/fhir', 'Observation?patient=1', 'https://ehr.example.org/fhir/Observation?patient=1'],
  ])('%s + %s → %s', (base, rel, url) => {
    expect(resolveUnderBase(base, rel)?.href).toBe(url);
  });
  test.each([
    ['https://ehr.example.org/fhir', 'https://evil.example/Patient/1'],
    ['https://ehr.example.org/fhir', '../admin/users'],
  ])('%s + %s leaves the base and is refused', (base, rel) => {
    expect(resolveUnderBase(base, rel)).toBeUndefined();
  });
  test.each([
    'Patient/..',
    'Patient/.',
    'Patient/%2e%2E',
    'Patient/.%2e',
    'Patient/%2E',
    'Patient/../Patient/1',
    'Patient\\..',
    './Patient/1',
    'Observation/..?patient=1',
  ])('%s has a dot segment and is refused, even where it would stay under the base', (rel) => {
    expect(resolveUnderBase('https://ehr.example.org/fhir/R4', rel)).toBeUndefined();
  });
  test.each([
    ['Patient/a.b', 'https://ehr.example.org/fhir/Patient/a.b'],
    ['Patient/...', 'https://ehr.example.org/fhir/Patient/...'],
    ['Observation?patient=..', 'https://ehr.example.org/fhir/Observation?patient=..'],
  ])('%s: dots that are no dot segment are kept', (rel, url) => {
    expect(resolveUnderBase('https://ehr.example.org/fhir', rel)?.href).toBe(url);
  });
  test('a scheme-relative URL is read as a path under the base, never as another host', () => {
    expect(resolveUnderBase('https://ehr.example.org/fhir', '//evil.example/Patient/1')?.href).toBe(
      'https://ehr.example.org/fhir/evil.example/Patient/1',
    );
  });
  test('a path that only shares a prefix is not under the base', () => {
    expect(isUnderBase(new URL('https://ehr.example.org/fhir/'), new URL('https://ehr.example.org/fhir-admin/x'))).toBe(
      false,
    );
  });
});

describe('checkFhirServer', () => {
  const policy = { allowHttp: false, allowedOrigins: [] as string[] };
  test.each([
    ['https://ehr.example.org/fhir', policy, undefined],
    ['http://ehr.example.org/fhir', policy, 'fhirServer must use https'],
    ['http://localhost:8080/demo/fhir', { ...policy, allowHttp: true }, undefined],
    ['https://user:pw@ehr.example.org/fhir', policy, 'fhirServer must not carry credentials'],
    ['https://ehr.example.org/fhir?x=1', policy, 'fhirServer must be a base URL without query or fragment'],
    ['ftp://ehr.example.org/fhir', policy, 'fhirServer must be an http(s) URL'],
    [
      'https://other.example.org/fhir',
      { ...policy, allowedOrigins: ['https://ehr.example.org'] },
      'not in FHIR_ALLOWED_ORIGINS',
    ],
  ])('%s', (url, p, problem) => {
    const result = checkFhirServer(url, p);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(problem);
  });
});
