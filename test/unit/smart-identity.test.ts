/**
 * The SMART app names only the launched patient: the Patient read's answer is shown when its id is
 * the launch context's, and another patient's Patient stops the app instead of heading this
 * patient's counts with someone else's name and MRN. Parts of the Patient without FHIR's shape are
 * left out, never fail the view.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource, Patient } from 'fhir/r4.js';
import { launchedPatient, patientIdentity } from '../../src/smart-app/identity.js';

const patient = (id: unknown, family = 'Doe'): FhirResource =>
  ({ resourceType: 'Patient', id, name: [{ family }] }) as FhirResource;
const OBSERVATION = { resourceType: 'Observation', id: 'o1' } as FhirResource;

describe('launchedPatient', () => {
  test.each([
    ['the launched patient', [patient('cart-day9')], { patient: patient('cart-day9') }],
    ['another patient', [patient('someone-else', 'Other')], { otherPatient: 'someone-else' }],
    ['a Patient without an id', [patient(undefined)], { otherPatient: 'a Patient without a valid id' }],
    ['an id that is no FHIR id', [patient('<b>x</b>')], { otherPatient: 'a Patient without a valid id' }],
    ['an id differing in case only', [patient('CART-DAY9')], { otherPatient: 'CART-DAY9' }],
    [
      'a Bundle holding the launched patient and another: the launched one',
      [patient('someone-else', 'Other'), patient('cart-day9')],
      { patient: patient('cart-day9') },
    ],
    ['no Patient at all: none to show (the banner names the id)', [OBSERVATION], { patient: undefined }],
    ['nothing read', [], { patient: undefined }],
  ])('%s', (_name, read, expected) => {
    expect(launchedPatient(read, 'cart-day9')).toEqual(expected);
  });
});

describe('patientIdentity: what can be read is shown, a malformed part is left out', () => {
  const MR = { type: { coding: [{ code: 'MR' }] }, value: 'MRN-1' };
  const identity = (patient: Record<string, unknown>): unknown =>
    patientIdentity({ resourceType: 'Patient', id: 'p1', ...patient } as unknown as Patient, 'p1');
  test.each([
    [
      'a well-formed Patient',
      { name: [{ use: 'official', given: ['Ada', 'M'], family: 'Doe' }], birthDate: '1960-02-03', identifier: [MR] },
      { name: 'Ada M Doe', birthDate: '1960-02-03', identifier: 'MRN MRN-1' },
    ],
    [
      'name a string',
      { name: 'Ada Doe', identifier: [MR] },
      { name: 'Patient p1 (name not readable)', identifier: 'MRN MRN-1' },
    ],
    ['name [null]', { name: [null] }, { name: 'Patient p1 (name not readable)' }],
    ['name null', { name: null }, { name: 'Patient p1 (name not readable)' }],
    ['name [] (none recorded)', { name: [] }, { name: 'Patient p1' }],
    ['no name', {}, { name: 'Patient p1', birthDate: null, identifier: null }],
    ['a bad entry before a good one', { name: ['x', { family: 'Doe' }] }, { name: 'Doe' }],
    [
      'given a string, family a number: neither read',
      { name: [{ given: 'Ada', family: 7 }] },
      { name: 'Patient p1 (name not readable)' },
    ],
    ['given with a number among strings', { name: [{ given: ['Ada', 7], family: 'Doe' }] }, { name: 'Ada Doe' }],
    ['text a number, family read', { name: [{ text: 12, family: 'Doe' }] }, { name: 'Doe' }],
    ['identifier an object', { identifier: MR }, { identifier: null }],
    ['identifier [null, the MRN]', { identifier: [null, MR] }, { identifier: 'MRN MRN-1' }],
    [
      'an MR type whose coding is an object: an ID',
      { identifier: [{ type: { coding: { code: 'MR' } }, value: 'X' }] },
      { identifier: 'ID X' },
    ],
    ['a value that is a number: not read', { identifier: [{ value: 42 }] }, { identifier: null }],
    ['a system saying mrn', { identifier: [{ system: 'urn:hospital:mrn', value: 'X' }] }, { identifier: 'MRN X' }],
    ['a system that is not a string', { identifier: [{ system: { mrn: 1 }, value: 'X' }] }, { identifier: 'ID X' }],
    ['birthDate a number', { birthDate: 19600203 }, { birthDate: null }],
  ])('%s', (_name, patient, expected) => {
    expect(identity(patient)).toMatchObject(expected);
  });
});
