/**
 * One CSV row per assessed patient, for cohort reports (quality teams, data managers). Column names
 * carry their unit in brackets (`[10^9/L]`, `[g/L]`, `[mg/dL]`, `[day]`: days after the infusion);
 * the thresholds in force (the hospital's or the defaults) end every row, so a report says what
 * it was graded against. Quoting is RFC 4180, by csv-stringify.
 *
 * A value reported as a bound (`valueQuantity.comparator`, docs/clinical-logic.md §3), or derived
 * from one, is written as the laboratory wrote it, `<0.1`, not as the number 0.1: a median nadir
 * taken over a column that silently held limits as values would be wrong, while a cell that does
 * not parse as a number makes whoever computes over it decide what a limit means.
 */
import { stringify, type Options } from 'csv-stringify/sync';
import { compareMeasured, type Measured } from '../clinical/bounds.js';
import { nadirOf } from '../clinical/severe-cytopenia.js';
import type { Assessment, CtcaeTerm, Lineage, SevereCytopenia } from '../clinical/types.js';
import { CANONICAL_UNIT } from '../clinical/units.js';
import type { ClinicalContext } from '../profiles.js';

type Cell = string | number | boolean | null | undefined;
type Column = [string, (a: Assessment, clinical: ClinicalContext) => Cell];

const COUNT = `[${CANONICAL_UNIT.count.replace('*', '^')}]`;
const HB = `[${CANONICAL_UNIT.hemoglobin}]`;
const IG = `[${CANONICAL_UNIT.immunoglobulin}]`;
const LINEAGES: [Lineage, CtcaeTerm, string, string][] = [
  ['neutrophil', 'neutrophils', 'severeNeutropenia', COUNT],
  ['platelet', 'platelets', 'severeThrombocytopenia', COUNT],
  ['hemoglobin', 'hemoglobin', 'severeAnemia', HB],
];

const COLUMNS: Column[] = [
  ['patientId', (a) => a.patientId],
  ['asOf', (a) => a.asOf],
  ['infusionDate', (a) => a.infusionDate],
  ['dayPostInfusion [day]', (a) => a.dayPostInfusion],
  ['ctcaeNeutrophilsWorst', (a) => a.ctcae.neutrophils.worst],
  ['ctcaePlateletsWorst', (a) => a.ctcae.platelets.worst],
  ['ctcaeHemoglobinWorst', (a) => a.ctcae.hemoglobin.worst],
  ...LINEAGES.flatMap(([lineage, term, name, unit]): Column[] => [
    [`${name}NewOnset`, (a) => ifKnown(a, lineage, term, (list) => list.some((e) => e.newOnset))],
    [`${name}BeforeInfusion`, (a) => ifKnown(a, lineage, term, (list) => list.some((e) => !e.newOnset))],
    [`${name}OnsetDay [day]`, (a) => first(a, lineage)?.onsetDay],
    [
      `${name}Nadir ${unit}`,
      (a) => {
        const e = deepest(a, lineage);
        return e ? measured(nadirOf(e)) : undefined;
      },
    ],
    [`${name}NadirDay [day]`, (a) => deepest(a, lineage)?.nadirDay],
    [`${name}RecoveryDay [day]`, (a) => last(a, lineage)?.recoveryDay],
    [`${name}Ongoing`, (a) => (first(a, lineage) ? (last(a, lineage)?.ongoing ?? false) : undefined)],
    [`${name}DurationDays [days]`, (a) => totalDays(a, lineage)],
    [`${name}Episodes`, (a) => ifKnown(a, lineage, term, (list) => list.length)],
  ]),
  ['prolongedHematologicToxicity', (a) => a.prolongedHematologicToxicity],
  ['icahtEarly', (a) => a.icaht.early.grade],
  ['icahtEarlyAtLeast', (a) => a.icaht.early.atLeast],
  ['icahtEarlyComplete', (a) => a.icaht.early.complete],
  ['icahtLate', (a) => a.icaht.late.grade],
  ['tIcahtEarly', (a) => a.icaht.thrombocytopenia.early.grade],
  ['tIcahtEarlyComplete', (a) => a.icaht.thrombocytopenia.early.complete],
  ['tIcahtLate', (a) => a.icaht.thrombocytopenia.late.grade],
  ['neutrophilPhenotype', (a) => a.icaht.phenotype],
  ['carHematotoxScore', (a) => a.hematotox.score],
  ['carHematotoxRisk', (a) => a.hematotox.risk],
  [`iggBaseline ${IG}`, (a) => measured(a.immunoglobulins.IgG.baseline)],
  [`iggLatest ${IG}`, (a) => measured(a.immunoglobulins.IgG.latest)],
  [
    'iggChange [%]',
    (a) => {
      const { changePct, changeComparator } = a.immunoglobulins.IgG;
      return changePct === null ? undefined : measured({ value: changePct, comparator: changeComparator });
    },
  ],
  ['iggDecline', (a) => a.immunoglobulins.IgG.decline],
  ['iggBelowIvigThreshold', (a) => a.immunoglobulins.IgG.belowIvigThreshold],
  ['igaDecline', (a) => a.immunoglobulins.IgA.decline],
  ['igmDecline', (a) => a.immunoglobulins.IgM.decline],
  ['bCellAplasia', (a) => a.bCellAplasia.present],
  ['bCellAplasiaOnsetDay [day]', (a) => a.bCellAplasia.onsetDay],
  ['bCellAplasiaLossDay [day]', (a) => a.bCellAplasia.lossDay],
  ['cd4cd8Inverted', (a) => a.cd4cd8.inverted],
  ['cd4cd8InversionDay [day]', (a) => a.cd4cd8.onsetDay],
  ['crsGrade', (a) => a.crs.crs.grade],
  ['recommendations', (a) => a.recommendations.map((r) => r.kind).join(';')],
  ['issues', (a) => a.issues.length],
  [`thresholdSevereNeutropenia ${COUNT}`, (_a, c) => c.thresholds.values.counts.neutrophils.severe],
  [`thresholdSevereThrombocytopenia ${COUNT}`, (_a, c) => c.thresholds.values.counts.platelets.severe],
  [`thresholdSevereAnemia ${HB}`, (_a, c) => c.thresholds.values.counts.hemoglobin.severe],
  [`thresholdIvigIgg ${IG}`, (_a, c) => c.thresholds.values.actions.ivigIgg],
  ['thresholdsChangedByHospital', (_a, c) => [...c.thresholds.overridden].sort().join(';')],
];

/** A number as a cell; a bound as reported (`<0.1`, `>=300`). */
function measured(m: Measured | null | undefined): Cell {
  if (!m) return undefined;
  return m.comparator ? `${m.comparator}${m.value}` : m.value;
}

/**
 * `cell` of the lineage's episodes when the lineage has values to judge by: a graded lab day (from
 * day 0 on after an infusion: the `ctcae…Worst` column) or an episode. Without any, whether the
 * patient had severe cytopenia is not known: the cell is empty, not `false` or 0, which a cohort's
 * incidence would count as a negative.
 */
function ifKnown(a: Assessment, lineage: Lineage, term: CtcaeTerm, cell: (list: SevereCytopenia[]) => Cell): Cell {
  const list = episodes(a, lineage);
  return a.ctcae[term].worst !== null || list.length > 0 ? cell(list) : undefined;
}

function episodes(a: Assessment, lineage: Lineage): SevereCytopenia[] {
  return a.severeCytopenias.filter((e) => e.lineage === lineage);
}

/** The earliest episode of the lineage. */
function first(a: Assessment, lineage: Lineage): SevereCytopenia | undefined {
  return episodes(a, lineage).reduce<SevereCytopenia | undefined>(
    (m, e) => (!m || e.onsetDay < m.onsetDay ? e : m),
    undefined,
  );
}

/** The latest episode of the lineage (its recovery day is the lineage's). */
function last(a: Assessment, lineage: Lineage): SevereCytopenia | undefined {
  return episodes(a, lineage).reduce<SevereCytopenia | undefined>(
    (m, e) => (!m || e.onsetDay > m.onsetDay ? e : m),
    undefined,
  );
}

/** The episode with the lowest nadir. */
function deepest(a: Assessment, lineage: Lineage): SevereCytopenia | undefined {
  return episodes(a, lineage).reduce<SevereCytopenia | undefined>(
    (m, e) => (!m || compareMeasured(nadirOf(e), nadirOf(m)) < 0 ? e : m),
    undefined,
  );
}

function totalDays(a: Assessment, lineage: Lineage): number | undefined {
  const list = episodes(a, lineage);
  return list.length > 0 ? list.reduce((sum, e) => sum + e.durationDays, 0) : undefined;
}

/**
 * One record without its line end (the caller writes one line per call). Booleans are written
 * `true`/`false` (csv-stringify's default would be `1` and an empty cell); null and undefined are
 * empty cells.
 */
const CSV_OPTIONS: Options = {
  eof: false,
  cast: { boolean: (value) => String(value), string: spreadsheetSafe },
};

/**
 * A text cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
 * return; OWASP, "CSV Injection") gets a leading `'`, which spreadsheets show as text. A FHIR id may
 * start with `-` (`-A1` would be read as a reference to cell A1).
 */
function spreadsheetSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function assessmentCsvHeader(): string {
  return stringify([COLUMNS.map(([name]) => name)], CSV_OPTIONS);
}

/** The row of `a`; `clinical` gives the thresholds in force. */
export function assessmentCsvRow(a: Assessment, clinical: ClinicalContext): string {
  return stringify([COLUMNS.map(([, get]) => get(a, clinical))], CSV_OPTIONS);
}
