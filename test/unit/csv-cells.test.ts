/**
 * The CLI's CSV cells as a spreadsheet opens them: text that a spreadsheet would run as a formula
 * (OWASP, "CSV Injection": a cell starting with =, +, -, @, tab or carriage return) is written with
 * a leading ', which spreadsheets show as text.
 */
import { describe, expect, test } from '@jest/globals';
import { assessmentCsvHeader, assessmentCsvRow } from '../../src/cli/csv.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { assessOn, infusion, patient } from '../helpers/fhir.js';

describe('CSV text cells a spreadsheet would run as a formula', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const patientIdCell = (id: string): string | undefined => {
    const a = { ...assessOn(5, [patient('female', '1990-01-01'), infusion(0)]), patientId: id };
    const header = assessmentCsvHeader().split(',');
    return assessmentCsvRow(a, clinical).split(',')[header.indexOf('patientId')];
  };

  test.each([
    ['-A1', "'-A1"], // a FHIR id may start with "-": a spreadsheet reads -A1 as minus cell A1
    ['A-1', 'A-1'],
    ['123', '123'],
    ['.5', '.5'],
  ])('patient id %s is written %s', (id, cell) => {
    expect(patientIdCell(id)).toBe(cell);
  });

  test('a number stays a number: a negative change is not text', () => {
    const a = assessOn(5, [infusion(0)]);
    const row = assessmentCsvRow(
      { ...a, immunoglobulins: { ...a.immunoglobulins, IgG: { ...a.immunoglobulins.IgG, changePct: -50 } } },
      clinical,
    );
    const header = assessmentCsvHeader().split(',');
    expect(row.split(',')[header.indexOf('iggChange [%]')]).toBe('-50');
  });
});
