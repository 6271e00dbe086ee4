/**
 * The SMART app's `iss` allow-list: exact FHIR base URLs after normalisation; anything else refused.
 */
import { describe, expect, test } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  EHR_LAUNCH_SCOPES,
  STANDALONE_LAUNCH_SCOPES,
  issuerAllowed,
  normalizeIssuer,
  scopeAllowsSearch,
} from '../../src/smart-config.js';

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
  test('EHR launch asks exactly for what the app reads (SMART v2 .rs / .r), Medications and Conditions, online_access to renew', () => {
    expect(EHR_LAUNCH_SCOPES.split(' ')).toEqual([
      'launch',
      'online_access',
      'patient/Patient.r',
      'patient/Observation.rs',
      'patient/MedicationAdministration.rs',
      'patient/Medication.rs', // the Medications administrations name by reference (as the cards read them)
      'patient/Procedure.rs',
      'patient/Condition.rs',
    ]);
    // The app shows no user identity, so it asks for none.
    expect(EHR_LAUNCH_SCOPES).not.toMatch(/openid|fhirUser/);
    expect(STANDALONE_LAUNCH_SCOPES.split(' ')[0]).toBe('launch/patient');
  });

  test.each([
    ['v2 read+search', 'launch patient/Condition.rs', true],
    ['v2 all permissions', 'patient/Condition.cruds', true],
    ['v2 wildcard', 'patient/*.rs', true],
    ['v2 with a restriction', 'patient/Condition.rs?category=problem-list-item', true],
    ['v1 read', 'patient/Condition.read', true],
    ['v1 wildcard', 'user/*.*', true],
    ['v2 read only (no search)', 'patient/Condition.r', false],
    ['another resource', 'patient/Observation.rs patient/Procedure.rs', false],
    ['nothing', '', false],
  ])('granted "%s" → Condition searchable: %s', (_name, granted, allowed) => {
    expect(scopeAllowsSearch(granted, 'Condition', EHR_LAUNCH_SCOPES)).toBe(allowed);
  });

  test('a token response without scope grants what was requested (RFC 6749 §5.1)', () => {
    expect(scopeAllowsSearch(undefined, 'Condition', EHR_LAUNCH_SCOPES)).toBe(true);
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

describe('SMART_EHR_ONLY_ISS, SMART_FRAME_ANCESTORS, SMART_AUTH_ORIGINS', () => {
  const base = { SMART_ALLOWED_ISS: 'https://ehr.example.org/fhir,https://portal.example.org/fhir' };

  test('EHR-only issuers are left out of standalone launch; origins are normalised', () => {
    const smart = loadConfig({
      ...base,
      SMART_EHR_ONLY_ISS: 'https://portal.example.org/fhir/',
      SMART_FRAME_ANCESTORS: 'https://ehr.example.org/',
      SMART_AUTH_ORIGINS: 'https://login.example.org',
    }).smart;
    expect(smart).toMatchObject({
      allowedIss: ['https://ehr.example.org/fhir', 'https://portal.example.org/fhir'],
      standaloneIss: ['https://ehr.example.org/fhir'],
      frameAncestors: ['https://ehr.example.org'],
      authOrigins: ['https://login.example.org'],
    });
  });

  test('defaults: every allowed issuer offered, no other frame ancestor or connect origin', () => {
    expect(loadConfig(base).smart).toMatchObject({
      standaloneIss: ['https://ehr.example.org/fhir', 'https://portal.example.org/fhir'],
      frameAncestors: [],
      authOrigins: [],
    });
  });

  test.each([
    [
      'an EHR-only issuer not on the allow-list',
      { SMART_EHR_ONLY_ISS: 'https://other.example.org/fhir' },
      'SMART_EHR_ONLY_ISS: "https://other.example.org/fhir" is not one of SMART_ALLOWED_ISS',
    ],
    [
      'a frame ancestor with a path',
      { SMART_FRAME_ANCESTORS: 'https://ehr.example.org/app' },
      'SMART_FRAME_ANCESTORS: "https://ehr.example.org/app" is not an origin',
    ],
    ['a frame ancestor wildcard', { SMART_FRAME_ANCESTORS: '*' }, 'SMART_FRAME_ANCESTORS: "*" is not an origin'],
    [
      'an http token origin without FHIR_ALLOW_HTTP',
      { SMART_AUTH_ORIGINS: 'http://login.example.org' },
      'SMART_AUTH_ORIGINS: "http://login.example.org" is not https',
    ],
  ])('%s stops start-up naming the variable', (_name, env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});
