/**
 * How many issues an answer lists (src/clinical/listed-issues.ts): at most 50 of each kind, the
 * first ones in order, and one `issues-not-listed` note counting the rest by kind. Expected
 * counts are written out by hand from the rule.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { isUnreadInfusion, listedIssues, withListedIssues } from '../../src/clinical/listed-issues.js';
import type { Assessment, AssessmentIssue, IssueCode } from '../../src/clinical/types.js';
import { testTerminology } from '../helpers/fhir.js';

function issues(code: IssueCode, n: number, from = 0): AssessmentIssue[] {
  return Array.from({ length: n }, (_, i) => ({
    severity: 'warning',
    code,
    message: `${code} ${from + i}`,
  }));
}

describe('listedIssues', () => {
  test.each<[string, AssessmentIssue[], number, string | undefined]>([
    ['none', [], 0, undefined],
    ['50 of one kind: all listed, no note', issues('resource-invalid', 50), 50, undefined],
    [
      '51 of one kind: 50 and a note of 1',
      issues('resource-invalid', 51),
      51,
      '1 more not listed (resource-invalid: 1); the first 50 of each kind are listed',
    ],
    [
      '1,000,000 of one kind and 3 of another: 50 + 3 and a note with the count grouped',
      [...issues('resource-invalid', 1_000_000), ...issues('date-future', 3)],
      54,
      '999,950 more not listed (resource-invalid: 999,950); the first 50 of each kind are listed',
    ],
    [
      'two kinds over: each counted, in the order first seen',
      [...issues('unit-unreadable', 60), ...issues('patient-mismatch', 120)],
      101,
      '80 more not listed (unit-unreadable: 10, patient-mismatch: 70); the first 50 of each kind are listed',
    ],
  ])('%s', (_name, given, length, note) => {
    const listed = listedIssues(given);
    expect(listed).toHaveLength(length);
    const last = listed.at(-1);
    if (note === undefined) {
      expect(listed).toEqual(given);
      return;
    }
    expect(last).toEqual({ severity: 'warning', code: 'issues-not-listed', message: note });
  });

  test('the first of each kind are kept, in their order, interleaved as given', () => {
    const given = [...issues('resource-invalid', 2), ...issues('date-future', 1), ...issues('resource-invalid', 2, 2)];
    expect(listedIssues(given, 3).map((i) => i.message)).toEqual([
      'resource-invalid 0',
      'resource-invalid 1',
      'date-future 0',
      'resource-invalid 2',
      '1 more not listed (resource-invalid: 1); the first 3 of each kind are listed',
    ]);
  });

  describe('records of a CAR-T infusion that could not be read are listed apart', () => {
    // NDC 0078-0846-19: tisagenlecleucel (ValueSet car-t-product); LOINC 751-8: ANC.
    const carT: AssessmentIssue = {
      severity: 'warning',
      code: 'resource-invalid',
      message: 'effectiveDateTime: expected string; resource left out',
      resource: 'MedicationAdministration/car-t',
      codings: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }],
    };
    const lab = (i: number): AssessmentIssue => ({
      severity: 'warning',
      code: 'resource-invalid',
      message: `lab ${i}`,
      resource: `Observation/o${i}`,
      codings: [{ system: 'http://loinc.org', code: '751-8' }],
    });
    const answer = (issues: AssessmentIssue[]) =>
      withListedIssues({ issues } as unknown as Assessment, testTerminology()).issues;

    test.each<[string, AssessmentIssue, boolean]>([
      ['a CAR-T product left out (resource-invalid with its NDC coding)', carT, true],
      ['an ANC left out (resource-invalid, LOINC 751-8)', lab(1), false],
      [
        'a CAR-T event without a date to the day (date-missing, event car-t)',
        { severity: 'warning', code: 'date-missing', message: 'no date', event: 'car-t' },
        true,
      ],
      [
        'a G-CSF dose without a date to the day',
        { severity: 'warning', code: 'date-missing', message: 'no date', event: 'g-csf' },
        false,
      ],
    ])('%s: %s', (_name, issue, expected) => {
      expect(isUnreadInfusion(issue, testTerminology())).toBe(expected);
    });

    test('60 malformed labs, then the CAR-T product: 50 labs, the CAR-T product, and a count of 10', () => {
      const listed = answer([...Array.from({ length: 60 }, (_, i) => lab(i)), carT]);
      expect(listed).toHaveLength(52);
      expect(listed).toContainEqual(carT);
      expect(listed.at(-1)?.message).toBe(
        '10 more not listed (resource-invalid: 10); the first 50 of each kind are listed',
      );
    });

    test('70 CAR-T records left out: 50 listed and counted apart (their own cap keeps the answer bounded)', () => {
      const listed = answer(
        Array.from({ length: 70 }, (_, i) => ({ ...carT, resource: `MedicationAdministration/c${i}` })),
      );
      expect(listed).toHaveLength(51);
      expect(listed.at(-1)?.message).toBe(
        '20 more not listed (resource-invalid (CAR-T infusion records): 20); the first 50 of each kind are listed',
      );
    });
  });

  test('property: at most perCode of each kind plus one note, which counts exactly what was left out', () => {
    const code = fc.constantFrom<IssueCode>('resource-invalid', 'date-future', 'unit-unreadable', 'censoring');
    fc.assert(
      fc.property(fc.array(code, { maxLength: 300 }), fc.integer({ min: 1, max: 60 }), (codes, perCode) => {
        const given = codes.map((c, i) => ({ severity: 'warning' as const, code: c, message: String(i) }));
        const listed = listedIssues(given, perCode);
        const kept = listed.filter((i) => i.code !== 'issues-not-listed');
        // Kept: a subsequence of what was given, the first perCode of each code.
        const expected = given.filter(
          (issue, i) => given.slice(0, i + 1).filter((g) => g.code === issue.code).length <= perCode,
        );
        expect(kept).toEqual(expected);
        const notes = listed.filter((i) => i.code === 'issues-not-listed');
        const left = given.length - kept.length;
        expect(notes).toHaveLength(left > 0 ? 1 : 0);
        if (left > 0) expect(notes[0]?.message).toMatch(new RegExp(`^${left.toLocaleString('en')} more not listed`));
      }),
      { numRuns: 500 },
    );
  });
});
