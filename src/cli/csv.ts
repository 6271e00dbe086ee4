/**
 * One CSV row per assessed patient, for cohort reports (quality teams). Quoting is RFC 4180, by
 * csv-stringify.
 */
import { stringify, type Options } from 'csv-stringify/sync';
import type { Assessment, Lineage } from '../clinical/types.js';

const COLUMNS: [string, (a: Assessment) => string | number | boolean | null | undefined][] = [
  ['patientId', (a) => a.patientId],
  ['asOf', (a) => a.asOf],
  ['infusionDate', (a) => a.infusionDate],
  ['dayPostInfusion', (a) => a.dayPostInfusion],
  ['ctcaeNeutrophilsWorst', (a) => a.ctcae.neutrophils.worst],
  ['ctcaePlateletsWorst', (a) => a.ctcae.platelets.worst],
  ['ctcaeHemoglobinWorst', (a) => a.ctcae.hemoglobin.worst],
  ['severeNeutropeniaNewOnset', (a) => newOnset(a, 'neutrophil')],
  ['severeAnemiaNewOnset', (a) => newOnset(a, 'hemoglobin')],
  ['severeThrombocytopeniaNewOnset', (a) => newOnset(a, 'platelet')],
  ['severeNeutropeniaBeforeInfusion', (a) => before(a, 'neutrophil')],
  ['severeAnemiaBeforeInfusion', (a) => before(a, 'hemoglobin')],
  ['severeThrombocytopeniaBeforeInfusion', (a) => before(a, 'platelet')],
  ['prolongedHematologicToxicity', (a) => a.prolongedHematologicToxicity],
  ['icahtEarly', (a) => a.icaht.early.grade],
  ['icahtEarlyAtLeast', (a) => a.icaht.early.atLeast],
  ['icahtLate', (a) => a.icaht.late.grade],
  ['tIcahtEarly', (a) => a.icaht.thrombocytopenia.early.grade],
  ['tIcahtLate', (a) => a.icaht.thrombocytopenia.late.grade],
  ['neutrophilPhenotype', (a) => a.icaht.phenotype],
  ['carHematotoxScore', (a) => a.hematotox.score],
  ['carHematotoxRisk', (a) => a.hematotox.risk],
  ['iggBaseline', (a) => a.immunoglobulins.IgG.baseline?.value],
  ['iggLatest', (a) => a.immunoglobulins.IgG.latest?.value],
  ['iggChangePct', (a) => a.immunoglobulins.IgG.changePct],
  ['iggDecline', (a) => a.immunoglobulins.IgG.decline],
  ['iggBelowIvigThreshold', (a) => a.immunoglobulins.IgG.belowIvigThreshold],
  ['igaDecline', (a) => a.immunoglobulins.IgA.decline],
  ['igmDecline', (a) => a.immunoglobulins.IgM.decline],
  ['bCellAplasia', (a) => a.bCellAplasia.present],
  ['bCellAplasiaOnsetDay', (a) => a.bCellAplasia.onsetDay],
  ['bCellAplasiaLossDay', (a) => a.bCellAplasia.lossDay],
  ['cd4cd8Inverted', (a) => a.cd4cd8.inverted],
  ['cd4cd8InversionDay', (a) => a.cd4cd8.onsetDay],
  ['crsGrade', (a) => a.crs.crs.grade],
  ['recommendations', (a) => a.recommendations.map((r) => r.kind).join(';')],
  ['issues', (a) => a.issues.length],
];

function newOnset(a: Assessment, lineage: Lineage): boolean {
  return a.severeCytopenias.some((e) => e.lineage === lineage && e.newOnset);
}

function before(a: Assessment, lineage: Lineage): boolean {
  return a.severeCytopenias.some((e) => e.lineage === lineage && !e.newOnset);
}

/**
 * One record without its line end (the caller writes one line per call). Booleans are written
 * `true`/`false` (csv-stringify's default would be `1` and an empty cell); null and undefined are
 * empty cells.
 */
const CSV_OPTIONS: Options = { eof: false, cast: { boolean: (value) => String(value) } };

export function assessmentCsvHeader(): string {
  return stringify([COLUMNS.map(([name]) => name)], CSV_OPTIONS);
}

export function assessmentCsvRow(a: Assessment): string {
  return stringify([COLUMNS.map(([, get]) => get(a))], CSV_OPTIONS);
}
