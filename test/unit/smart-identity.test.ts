/**
 * The SMART app names only the launched patient: the Patient read's answer is shown when its id is
 * the launch context's, and another patient's Patient stops the app instead of heading this
 * patient's counts with someone else's name and MRN.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource } from 'fhir/r4.js';
import { launchedPatient } from '../../src/smart-app/identity.js';

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
