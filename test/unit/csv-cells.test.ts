/**
 * The CLI's CSV cells as a spreadsheet opens them: text that a spreadsheet would run as a formula
 * (OWASP, "CSV Injection": a cell starting with =, +, -, @, tab or carriage return) is written with
 * a leading ', which spreadsheets show as text.
 */
import { describe, expect, test } from '@jest/globals';
import { assessmentCsvHeader, assessmentCsvRow } from '../../src/cli/csv.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { anc, assessOn, fludarabine, hb, infusion, patient, plt } from '../helpers/fhir.js';

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

describe('CSV cells of a lineage without values are empty, never a negative finding', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const header = assessmentCsvHeader().split(',');
  const LINEAGE_COLUMNS = ['severeNeutropenia', 'severeThrombocytopenia', 'severeAnemia'].flatMap((name) =>
    ['NewOnset', 'BeforeInfusion', 'Episodes'].map((column) => `${name}${column}`),
  );
  const cells = (resources: Parameters<typeof assessOn>[1]): Record<string, string | undefined> => {
    const row = assessmentCsvRow(assessOn(30, [patient('female', '1990-01-01'), infusion(0), ...resources]), clinical);
    const values = row.split(',');
    return Object.fromEntries(LINEAGE_COLUMNS.map((name) => [name, values[header.indexOf(name)]]));
  };

  test.each([
    [
      'no blood counts at all: whether any lineage was severe is not known',
      [],
      ['', '', ''],
      ['', '', ''],
      ['', '', ''],
    ],
    [
      'ANC measured and never severe; no platelets, no hemoglobin',
      [anc(1, 2), anc(5, 1.8), anc(20, 2.5)],
      ['false', 'false', '0'],
      ['', '', ''],
      ['', '', ''],
    ],
    [
      'severe neutropenia from day 3 (ANC < 0.5); platelets and hemoglobin measured, never severe',
      [anc(1, 2), anc(3, 0.3), anc(5, 0.2), plt(3, 150), hb(3, 110)],
      ['true', 'false', '1'],
      ['false', 'false', '0'],
      ['false', 'false', '0'],
    ],
    [
      'ANC severe after lymphodepletion, before the infusion (day -2), none measured after',
      [fludarabine(-5), anc(-2, 0.3)],
      ['false', 'true', '1'],
      ['', '', ''],
      ['', '', ''],
    ],
  ])('%s', (_name, resources, neutropenia, thrombocytopenia, anemia) => {
    expect(cells(resources)).toEqual(
      Object.fromEntries(LINEAGE_COLUMNS.map((name, i) => [name, [...neutropenia, ...thrombocytopenia, ...anemia][i]])),
    );
  });
});
