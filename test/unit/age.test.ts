/**
 * Age from a FHIR birth date, which may give the year, or the year and month, only (FHIR R4 `date`:
 * YYYY, YYYY-MM or YYYY-MM-DD), and what it decides: the pediatric IVIG target
 * (docs/clinical-logic.md §8, `immunoglobulins.pediatricAgeYears`, default 18). Ages by hand.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ageOn } from '../../src/clinical/dates.js';
import { ageText } from '../../src/clinical/format.js';
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
    [
      '2015-11',
      '2026-11-30',
      { years: 11, partial: false },
      'year and month, on its last day: every birthday of it passed',
    ],
    [
      '2008-02',
      '2026-02-28',
      { years: 17, partial: true },
      'born February of a leap year: 28 February 2026 may precede a 29th',
    ],
    ['2007-02', '2026-02-28', { years: 19, partial: false }, 'born February 2007 (28 days): all passed on the 28th'],
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

describe('the IVIG target from a birth date without a day (§8; adults actions.ivigIgg 400 mg/dL)', () => {
  /** Assessed on `asOfDay` (day 0 = 2026-03-01), IgG `value` mg/dL the day before, with the hospital's pediatric target. */
  const assessIgg = (birthDate: string, pediatricTarget: number, value = 450, asOfDay = 10) => {
    const a = assessOn(asOfDay, [patient('female', birthDate), infusion(0), igg(asOfDay - 1, value)], {
      thresholdsFile: { immunoglobulins: { iggIvigPediatric: pediatricTarget } },
    });
    return {
      ageYears: a.ageYears,
      card: a.recommendations.find((r) => r.kind === 'ivig-review'),
      issues: a.issues.filter((i) => i.code === 'birth-date-partial').map((i) => [i.message, i.resource]),
    };
  };
  const said = (birthDate: string, form: string, target: string) =>
    `birth date recorded as ${birthDate} (${form}): the patient is 17 or 18 years old; the ${target}, the higher of the two, is used`;
  const capital = (m: string) => `${m.charAt(0).toUpperCase()}${m.slice(1)}.`;
  const OTHER_NOTE = 'Replacement is also considered for IgG 400–600 mg/dL with serious or recurrent infections.';

  // Pediatric target 500: IgG 450 is below it and not below the adult 400, so the card comes for a child only.
  test.each<[string, number, boolean, string, string[]]>([
    ['2015', 10, true, 'born 2015: 10 or 11 on 2026-03-11, a child either way (before: no age, the adult target)', []],
    ['2015-07', 10, true, 'born July 2015: 10', []],
    [
      '2008',
      17,
      true,
      'born 2008: 17 or 18; the higher target (pediatric) is used and said',
      [said('2008', 'year only', 'pediatric IVIG target (500 mg/dL)')],
    ],
    [
      '2008-03',
      17,
      true,
      'born March 2008: 17 or 18 on 11 March 2026',
      [said('2008-03', 'no day', 'pediatric IVIG target (500 mg/dL)')],
    ],
    ['2008-02', 18, false, 'born February 2008: 18, an adult', []],
    ['1980', 45, false, 'born 1980: 45 or 46, an adult either way; nothing to say', []],
  ])('birthDate %s → age %d, pediatric card %s (%s)', (birthDate, age, card, _why, issues) => {
    const got = assessIgg(birthDate, 500);
    expect(got.ageYears).toBe(age);
    expect(got.issues).toEqual(issues.map((m) => [m, 'Patient/p1']));
    if (!card) return expect(got.card).toBeUndefined();
    expect(got.card).toMatchObject({
      urgency: 'warning',
      reason: `IgG 450 mg/dL on day +9 (${dateOf(9)}) is below 500 mg/dL (pediatric target): review IVIG replacement.`,
      threshold: { value: 500, path: 'immunoglobulins.iggIvigPediatric' },
      notes: [OTHER_NOTE, ...issues.map(capital)],
    });
  });

  test('born March 2008, on 31 March 2026: 18, every March birthday passed; no pediatric card', () => {
    expect(assessIgg('2008-03', 500, 450, 30)).toEqual({ ageYears: 18, card: undefined, issues: [] });
  });

  test('the two targets equal (the defaults, 400): nothing to say, whatever the age', () => {
    expect(assessIgg('2008', 400).issues).toEqual([]);
  });

  test('a pediatric target below the adult one (350): 17 or 18 takes the adult 400, said; IgG 380 gets its card', () => {
    const got = assessIgg('2008', 350, 380);
    const message = said('2008', 'year only', 'adult IVIG target (400 mg/dL)');
    expect(got.issues).toEqual([[message, 'Patient/p1']]);
    expect(got.card).toMatchObject({
      reason: `IgG 380 mg/dL on day +9 (${dateOf(9)}) is below 400 mg/dL: review IVIG replacement.`,
      threshold: { value: 400, path: 'actions.ivigIgg' },
      notes: [OTHER_NOTE, capital(message)],
    });
  });
});

describe('the SMART app banner says an age a birth date without a day leaves open', () => {
  test.each([
    [45, '1980-05-05', '2026-03-11', '45 y'],
    [45, '1980', '2026-03-11', '45–46 y'],
    [17, '2008-03', '2026-03-11', '17–18 y'],
    [18, '2008-02', '2026-03-11', '18 y'],
  ])('%d from %s on %s → %s', (years, birthDate, asOf, text) => {
    expect(ageText(years, birthDate, asOf)).toBe(text);
  });
});

describe('ageOn on any text, and partial dates against the full dates they stand for', () => {
  test('any string: null or a whole age ≥ 0, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^\d{4}(-\d{2}(-\d{2})?)?$/)),
        (birthDate) => {
          const age = ageOn(birthDate, '2026-11-23');
          if (age !== null) expect(Number.isInteger(age.years) && age.years >= 0).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('a year or year-month gives the age of every full date within it, or the younger of two and says so', () => {
    const day = fc.date({
      min: new Date('1990-01-01T00:00:00Z'),
      max: new Date('2026-11-23T00:00:00Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(day, day, fc.boolean(), (birth, on, monthKnown) => {
        const full = birth.toISOString().slice(0, 10);
        const onDate = on.toISOString().slice(0, 10);
        const exact = ageOn(full, onDate);
        const partial = ageOn(full.slice(0, monthKnown ? 7 : 4), onDate);
        if (exact === null) return; // born after onDate: the partial date may still allow a birth by then
        expect(exact.partial).toBe(false);
        if (partial === null) throw new Error(`${full.slice(0, monthKnown ? 7 : 4)} gave no age on ${onDate}`);
        if (partial.partial) expect([partial.years, partial.years + 1]).toContain(exact.years);
        else expect(partial.years).toBe(exact.years);
      }),
      { numRuns: 3000 },
    );
  });
});
