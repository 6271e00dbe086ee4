/**
 * Age from a FHIR birth date, which may give the year, or the year and month, only (FHIR R4 `date`:
 * YYYY, YYYY-MM or YYYY-MM-DD), and what it decides: the pediatric IVIG target
 * (docs/clinical-logic.md §8, `immunoglobulins.pediatricAgeYears`, default 18). Ages by hand.
 */
import { describe, expect, test } from '@jest/globals';
import { ageOn } from '../../src/clinical/dates.js';
import { assessOn, dateOf, igg, infusion, patient } from '../helpers/fhir.js';

const FHIR_DATE = 'FHIR R4 date: YYYY, YYYY-MM or YYYY-MM-DD';

describe('ageOn', () => {
  test.each<[string | undefined, string, { years: number; partial: boolean } | null, string]>([
    ['2015-06-10', '2026-11-23', { years: 11, partial: false }, 'full date, birthday passed'],
    ['2015-12-10', '2026-11-23', { years: 10, partial: false }, 'full date, birthday to come'],
    ['2015-11-23', '2026-11-23', { years: 11, partial: false }, 'full date, birthday today'],
    ['2015', '2026-11-23', { years: 10, partial: true }, `${FHIR_DATE}; year only: 10 or 11`],
    ['2015', '2026-12-31', { years: 11, partial: false }, 'year only, on 31 December: every birthday of it passed'],
    ['2015-06', '2026-11-23', { years: 11, partial: false }, 'year and month, the month passed'],
    ['2015-12', '2026-11-23', { years: 10, partial: false }, 'year and month, the month to come'],
    ['2015-11', '2026-11-23', { years: 10, partial: true }, 'year and month, this month: 10 or 11'],
    ['2008', '2026-11-23', { years: 17, partial: true }, 'year only: 17 or 18'],
    ['2026', '2026-11-23', { years: 0, partial: false }, 'born this year'],
    ['2026-11', '2026-11-23', { years: 0, partial: false }, 'born this month'],
    ['2026-12', '2026-11-23', null, 'a month to come: not born by then'],
    ['2026-12-01', '2026-11-23', null, 'a date to come'],
    ['2027', '2026-11-23', null, 'a year to come'],
    ['2015-13', '2026-11-23', null, 'no month 13'],
    ['2015-02-30', '2026-11-23', null, 'no 30 February'],
    ['2015-6', '2026-11-23', null, 'month without its zero: not a FHIR date'],
    ['15', '2026-11-23', null, 'not a year'],
    ['', '2026-11-23', null, 'empty'],
    [undefined, '2026-11-23', null, 'no birth date'],
  ])('%s on %s → %j (%s)', (birthDate, onDate, expected) => {
    expect(ageOn(birthDate, onDate)).toEqual(expected);
  });
});

describe('the pediatric IVIG target from a birth date without a day (§8; hospital target 500 mg/dL, adults 400)', () => {
  // Assessed on day +10 (2026-03-11), IgG 450 mg/dL on day +9: below the pediatric target 500 and
  // not below the adult 400, so the IVIG card comes for a child only.
  const ivigCard = (birthDate: string) => {
    const a = assessOn(10, [patient('female', birthDate), infusion(0), igg(9, 450)], {
      thresholdsFile: { immunoglobulins: { iggIvigPediatric: 500 } },
    });
    return {
      ageYears: a.ageYears,
      card: a.recommendations.find((r) => r.kind === 'ivig-review'),
      issues: a.issues.filter((i) => i.code === 'birth-date-partial').map((i) => i.message),
    };
  };
  const NOTE =
    'birth date recorded as 2008 (no day): the patient is 17 or 18 years old; the pediatric IVIG target (under 18) applies';

  test.each<[string, number, boolean, string, string[]]>([
    ['2015', 10, true, 'born 2015: 10 or 11 on 2026-03-11, a child either way (before: no age, the adult target)', []],
    ['2015-07', 10, true, 'born July 2015: 10', []],
    ['2008', 17, true, 'born 2008: 17 or 18; the younger is taken and said', [NOTE]],
    ['2008-03', 17, true, 'born March 2008: 17 or 18 in March 2026', [NOTE.replace('2008', '2008-03')]],
    ['2008-02', 18, false, 'born February 2008: 18, an adult', []],
    ['1980', 45, false, 'born 1980: 45 or 46, an adult either way; nothing to say', []],
  ])('birthDate %s → age %d, pediatric card %s (%s)', (birthDate, age, card, _why, issues) => {
    const got = ivigCard(birthDate);
    expect(got.ageYears).toBe(age);
    expect(got.issues).toEqual(issues);
    if (!card) return expect(got.card).toBeUndefined();
    expect(got.card).toMatchObject({
      urgency: 'warning',
      reason: `IgG 450 mg/dL on day +9 (${dateOf(9)}) is below 500 mg/dL (pediatric target): review IVIG replacement.`,
      threshold: { value: 500, path: 'immunoglobulins.iggIvigPediatric' },
      notes: [
        'Replacement is also considered for IgG 400–600 mg/dL with serious or recurrent infections.',
        ...issues.map((m) => `${m.charAt(0).toUpperCase()}${m.slice(1)}.`),
      ],
    });
  });
});
