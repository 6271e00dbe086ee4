/**
 * The SMART app's `iss` allow-list: exact FHIR base URLs after normalisation; anything else refused.
 */
import { describe, expect, test } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';
import { EHR_LAUNCH_SCOPES, STANDALONE_LAUNCH_SCOPES, issuerAllowed, normalizeIssuer } from '../../src/smart-config.js';

const ALLOWED = ['https://ehr.example.org/fhir/r4'];

describe('issuerAllowed', () => {
  test.each([
    ['the allowed base', 'https://ehr.example.org/fhir/r4', true],
    ['with a trailing slash', 'https://ehr.example.org/fhir/r4/', true],
    ['with the default port', 'https://ehr.example.org:443/fhir/r4', true],
    ['another path on the same host', 'https://ehr.example.org/fhir', false],
    ['a longer path', 'https://ehr.example.org/fhir/r4/other', false],
    ['a look-alike host', 'https://ehr.example.org.evil.example/fhir/r4', false],
    ['userinfo trick', 'https://ehr.example.org@evil.example/fhir/r4', false],
    ['credentials in the URL', 'https://user:pw@ehr.example.org/fhir/r4', false],
    ['a query string', 'https://ehr.example.org/fhir/r4?x=1', false],
    ['plain http', 'http://ehr.example.org/fhir/r4', false],
    ['javascript:', 'javascript:alert(1)', false],
    ['not a URL', 'ehr.example.org/fhir/r4', false],
    ['empty', '', false],
    ['null', null, false],
  ])('%s → %s', (_name, iss, allowed) => {
    expect(issuerAllowed(iss, ALLOWED)).toBe(allowed);
  });

  test('normalisation keeps the case of the path and drops trailing slashes only', () => {
    expect(normalizeIssuer('https://EHR.example.org/FHIR//')).toBe('https://ehr.example.org/FHIR');
  });
});

describe('scopes', () => {
  test('EHR launch asks exactly for what the app reads (SMART v2 .rs / .r)', () => {
    expect(EHR_LAUNCH_SCOPES.split(' ')).toEqual([
      'launch',
      'patient/Observation.rs',
      'patient/MedicationAdministration.rs',
      'patient/Procedure.rs',
      'patient/Patient.r',
      'openid',
      'fhirUser',
    ]);
    expect(STANDALONE_LAUNCH_SCOPES.split(' ')[0]).toBe('launch/patient');
  });
});

describe('SMART_ALLOWED_ISS', () => {
  test('is normalised', () => {
    expect(
      loadConfig({ SMART_ALLOWED_ISS: 'https://ehr.example.org/fhir/, https://b.example/r4' }).smart.allowedIss,
    ).toEqual(['https://ehr.example.org/fhir', 'https://b.example/r4']);
  });

  test.each([
    ['not a URL', 'ehr/fhir', 'SMART_ALLOWED_ISS: "ehr/fhir" is not a FHIR base URL'],
    ['http without FHIR_ALLOW_HTTP', 'http://ehr.example.org/fhir', 'is not https'],
  ])('%s stops start-up naming the variable', (_name, value, message) => {
    expect(() => loadConfig({ SMART_ALLOWED_ISS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ SMART_ALLOWED_ISS: value })).toThrow(message);
  });

  test('http is accepted for a test EHR when FHIR_ALLOW_HTTP is on', () => {
    expect(
      loadConfig({ SMART_ALLOWED_ISS: 'http://127.0.0.1:9000/fhir', FHIR_ALLOW_HTTP: 'true' }).smart.allowedIss,
    ).toEqual(['http://127.0.0.1:9000/fhir']);
  });
});
