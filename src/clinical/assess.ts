/**
 * assess(): one patient's FHIR resources → the hematotoxicity assessment.
 *
 * Pure and deterministic for a given input and `asOf`: no clock, no network, no file system, so the
 * SMART app runs the same function in the browser. Cost is linear in the number of resources.
 */
import type { FhirResource } from 'fhir/r4.js';
import { crsEvidence } from './crs.js';
import { defaultLln, gradeSeries } from './ctcae.js';
import { ageInYears, isDate } from './dates.js';
import { carHematotox } from './hematotox.js';
import { assessIcaht } from './icaht.js';
import { bCellAplasia, cd19Samples, cd4cd8, immunoglobulin } from './immune.js';
import { normalizeObservations } from './observations.js';
import { recommend } from './recommendations.js';
import { extractEvents, recordFromResources } from './record.js';
import { persistenceAt, prolongedToxicity, severeEpisodes } from './severe-cytopenia.js';
import type { Terminology } from './terminology.js';
import type { HospitalThresholds } from './thresholds.js';
import { DEFAULT_HOSPITAL_THRESHOLDS, ivigThreshold } from './thresholds.js';
import { baselineValue, buildTimeline, dayNumber, groupByAnalyte, labDays } from './timeline.js';
import type { Analyte, Assessment, AssessmentIssue, ClinicalEvent, CtcaeTerm, LabDay, LabPoint, LabValue, Lineage, SevereCytopenia } from './types.js';

export interface AssessOptions {
  /** Assessment date, YYYY-MM-DD; nothing after it is used. */
  asOf: string;
  /** Overrides day 0 (otherwise the latest recorded infusion). */
  infusionDate?: string | undefined;
  /** The patient to assess (otherwise the only patient in the resources). */
  patientId?: string | undefined;
  /** IANA time zone of lab days (default UTC). */
  timeZone?: string | undefined;
  terminology: Terminology;
  thresholds?: HospitalThresholds | undefined;
  /** Adds per-analyte lab days and events (for charts). */
  includeSeries?: boolean | undefined;
  /** Problems found before the engine saw the resources (resources left out by the input screen). */
  inputIssues?: readonly AssessmentIssue[] | undefined;
}

/** What a deployment configures once (service, CLI, SMART app): spread into AssessOptions. */
export interface EngineSettings {
  terminology: Terminology;
  thresholds: HospitalThresholds;
  timeZone: string;
}

export class AssessmentInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssessmentInputError';
  }
}

/** Every analyte in output order. */
const ANALYTES: readonly Analyte[] = ['anc', 'platelets', 'hemoglobin', 'wbc', 'lymphocytes', 'igg', 'iga', 'igm', 'cd19Percent', 'cd19Absolute', 'cd4Percent', 'cd4Absolute', 'cd8Percent', 'cd8Absolute', 'cd4cd8Ratio', 'ferritin', 'crp', 'il6', 'il10', 'ifnGamma', 'dDimer', 'fibrinogen', 'ldh', 'temperature', 'crsGrade'];

const TERMS: [CtcaeTerm, Analyte][] = [
  ['neutrophils', 'anc'],
  ['platelets', 'platelets'],
  ['hemoglobin', 'hemoglobin'],
  ['wbc', 'wbc'],
  ['lymphocytes', 'lymphocytes'],
];

export function assess(resources: readonly FhirResource[], options: AssessOptions): Assessment {
  if (!isDate(options.asOf)) throw new AssessmentInputError(`asOf must be a date (YYYY-MM-DD), got "${options.asOf}"`);
  if (options.infusionDate !== undefined && !isDate(options.infusionDate)) throw new AssessmentInputError(`infusionDate must be a date (YYYY-MM-DD), got "${options.infusionDate}"`);
  const thresholds = options.thresholds ?? DEFAULT_HOSPITAL_THRESHOLDS;
  const t = thresholds.values;
  const tz = options.timeZone ?? 'UTC';
  const { terminology } = options;

  let built: ReturnType<typeof recordFromResources>;
  try {
    built = recordFromResources(resources, options.patientId);
  } catch (error) {
    throw new AssessmentInputError((error as Error).message);
  }
  const { record } = built;
  const issues: AssessmentIssue[] = [...(options.inputIssues ?? []), ...built.issues];
  const labs = normalizeObservations(record.observations, terminology, tz);
  issues.push(...labs.issues);
  const extracted = extractEvents(record, terminology, tz);
  issues.push(...extracted.issues);
  const { timeline, issues: timelineIssues } = buildTimeline(extracted.events, options.asOf, options.infusionDate, t);
  issues.push(...timelineIssues);
  const infused = timeline.day0 !== null;
  const day = (date: string): number => dayNumber(timeline, date);
  const dayOrNull = (date: string): number | null => (infused ? day(date) : null);
  const events = extracted.events.filter((e) => e.date <= options.asOf).map((e) => ({ ...e, day: dayOrNull(e.date) }));

  const groups = groupByAnalyte(labs.values, options.asOf);
  const values = (a: Analyte): LabValue[] => groups.get(a) ?? [];
  const transfusions = (kind: 'platelet-transfusion' | 'red-cell-transfusion'): ClinicalEvent[] => events.filter((e) => e.kind === kind || e.kind === 'transfusion-unspecified');
  const series: Record<'anc' | 'platelets' | 'hemoglobin' | 'wbc' | 'lymphocytes', LabDay[]> = {
    anc: labDays(values('anc'), timeline),
    platelets: labDays(values('platelets'), timeline, transfusions('platelet-transfusion'), t.recovery.transfusionFreeDays),
    hemoglobin: labDays(values('hemoglobin'), timeline, transfusions('red-cell-transfusion'), t.recovery.transfusionFreeDays),
    wbc: labDays(values('wbc'), timeline),
    lymphocytes: labDays(values('lymphocytes'), timeline),
  };

  const gender = record.patient?.gender;
  const sex = gender === 'male' || gender === 'female' || gender === 'other' ? gender : 'unknown';
  const ageYears = ageInYears(record.patient?.birthDate, options.asOf);
  const lln = (term: CtcaeTerm): number => defaultLln(term, t, sex);
  if (sex !== 'male' && sex !== 'female' && series.hemoglobin.some((d) => d.lln === undefined)) {
    issues.push({ severity: 'information', code: 'sex-unknown', message: `sex unknown: hemoglobin graded with the lower default limit of normal (${lln('hemoglobin')} g/L)` });
  }

  // CTCAE v5 grades: after infusion when there is one, otherwise over all values.
  const from = infused ? 0 : -Infinity;
  const ctcae = Object.fromEntries(
    TERMS.map(([term, analyte]) => [term, gradeSeries(series[analyte as keyof typeof series], term, values(analyte)[0]?.unit ?? '10*9/L', from, timeline.asOfDay, lln(term), t)]),
  ) as Assessment['ctcae'];
  if (!infused) for (const term of Object.keys(ctcae) as CtcaeTerm[]) stripDays(ctcae[term]);

  // Baselines (before lymphodepletion, else before day 0).
  const base = (a: Analyte, lookback = t.baseline.lookbackDays): LabValue | undefined => baselineValue(values(a), timeline, lookback);

  // Severe cytopenia, PHT, persistence.
  const lineages: [Lineage, 'anc' | 'platelets' | 'hemoglobin', number][] = [
    ['neutrophil', 'anc', t.severe.anc],
    ['platelet', 'platelets', t.severe.platelets],
    ['hemoglobin', 'hemoglobin', t.severe.hemoglobin],
  ];
  const episodes: Record<Lineage, SevereCytopenia[]> = { neutrophil: [], platelet: [], hemoglobin: [] };
  const lineageDays: Record<Lineage, LabDay[]> = { neutrophil: series.anc, platelet: series.platelets, hemoglobin: series.hemoglobin };
  const lineageUnit: Record<Lineage, string> = { neutrophil: '10*9/L', platelet: '10*9/L', hemoglobin: 'g/L' };
  let pht: ReturnType<typeof prolongedToxicity> = { value: null, byLineage: { neutrophil: null, platelet: null, hemoglobin: null }, issues: [] };
  if (infused) {
    const fromDay = Math.min(0, day(timeline.baselineBeforeDate));
    for (const [lineage, analyte, threshold] of lineages) {
      episodes[lineage] = severeEpisodes(series[analyte], {
        lineage,
        threshold,
        unit: lineageUnit[lineage],
        consecutive: t.recovery.consecutiveDays,
        fromDay,
        asOfDay: timeline.asOfDay,
        baseline: base(analyte),
        infusionMs: timeline.infusionMs,
      });
      const open = episodes[lineage].find((e) => e.ongoing);
      const last = series[analyte].at(-1);
      if (open && last && timeline.asOfDay - last.day > t.maxGapDays) {
        issues.push({ severity: 'warning', code: 'stale-data', message: `${lineage} severe cytopenia ongoing but the last value is from day ${last.day} (${timeline.asOfDay - last.day} days ago)`, resource: last.reference });
      }
    }
    pht = prolongedToxicity(episodes, lineageDays, timeline.asOfDay, t);
    issues.push(...pht.issues);
  }
  const persistentCytopenia = {
    pht: infused ? persistenceAt(t.pht.day, t.pht.windowDays, false, lineageDays, timeline.asOfDay, lln, lineageUnit, t) : null,
    day90: infused ? persistenceAt(t.persistence.day90, t.persistence.day90WindowDays, true, lineageDays, timeline.asOfDay, lln, lineageUnit, t) : null,
    year1: infused ? persistenceAt(t.persistence.year1, t.persistence.year1WindowDays, false, lineageDays, timeline.asOfDay, lln, lineageUnit, t) : null,
  };

  const icaht = infused
    ? assessIcaht(series.anc, series.platelets, timeline.asOfDay, '10*9/L', t)
    : {
        early: { grade: null, atLeast: false, gradeUpperBound: null, daysAnc500: 0, daysAnc100: 0, complete: false, dataGaps: [] },
        late: { grade: null },
        thrombocytopenia: { early: { grade: null, atLeast: false, daysBelow50: 0, daysBelow20: 0, complete: false }, late: { grade: null } },
        phenotype: null,
      };
  if (icaht.early.atLeast) {
    issues.push({ severity: 'information', code: 'data-gap', message: `early ICAHT is at least grade ${icaht.early.grade ?? ''} (up to ${icaht.early.gradeUpperBound ?? ''}): no ANC on days ${icaht.early.dataGaps.map((g) => (g.fromDay === g.toDay ? `${g.fromDay}` : `${g.fromDay}–${g.toDay}`)).join(', ')}` });
  }

  const hematotox = carHematotox(
    { platelets: base('platelets'), anc: base('anc'), hemoglobin: base('hemoglobin'), crp: base('crp'), ferritin: base('ferritin') },
    timeline.day0 ? timeline.baselineBeforeDate : null,
    t.hematotox,
  );

  // Latest values: after infusion when there is one (keys in a fixed order: output is deterministic).
  const latest: Assessment['latest'] = {};
  for (const analyte of ANALYTES) {
    const v = groups.get(analyte)?.at(-1);
    if (!v || (infused && day(v.date) < 0)) continue;
    latest[analyte] = { value: v.value, unit: v.unit, date: v.date, day: dayOrNull(v.date), reference: v.reference };
  }

  const igLookback = t.baseline.immunologyLookbackDays;
  const igLatest = (a: Analyte): LabValue | undefined => (latest[a] ? values(a).at(-1) : undefined);
  const immunoglobulins: Assessment['immunoglobulins'] = {
    IgG: immunoglobulin(base('igg', igLookback), igLatest('igg'), dayOrNull, ivigThreshold(t, ageYears).value, t.immunoglobulins.declinePct),
    IgA: immunoglobulin(base('iga', igLookback), igLatest('iga'), dayOrNull, null, t.immunoglobulins.declinePct),
    IgM: immunoglobulin(base('igm', igLookback), igLatest('igm'), dayOrNull, null, t.immunoglobulins.declinePct),
  };
  const lastIvig = events.filter((e) => e.kind === 'ivig').at(-1);
  const iggLatest = immunoglobulins.IgG.latest;
  if (lastIvig && iggLatest && iggLatest.date >= lastIvig.date) {
    issues.push({ severity: 'information', code: 'ivig-recent', message: `IgG of ${iggLatest.date} follows IVIG of ${lastIvig.date}: it reflects the infusion`, resource: iggLatest.reference });
  }

  const bCells = infused ? bCellAplasia(cd19Samples(values('cd19Percent'), values('cd19Absolute'), day), timeline.product, t.bCellAplasia) : { present: null, onsetDay: null, lossDay: null, lossUnconfirmed: false, lossPredictsRelapse: false };
  const cd4cd8Result = infused
    ? cd4cd8({ ratio: values('cd4cd8Ratio'), cd4Abs: values('cd4Absolute'), cd8Abs: values('cd8Absolute'), cd4Pct: values('cd4Percent'), cd8Pct: values('cd8Percent') }, day, t.cd4.low)
    : { inverted: null, onsetDay: null, latestRatio: null, cd4Low: null };
  const crs = infused
    ? crsEvidence(events, { ferritin: values('ferritin'), crp: values('crp'), il6: values('il6'), il10: values('il10'), ifnGamma: values('ifnGamma'), dDimer: values('dDimer'), ldh: values('ldh'), temperature: values('temperature'), fibrinogen: values('fibrinogen'), crsGrade: values('crsGrade') }, day, timeline.asOfDay)
    : { crs: { grade: null, onsetDay: null, durationDays: null, source: null }, tocilizumab: { given: false, firstDay: null, doses: 0 }, corticosteroids: { given: false, firstDay: null, doses: 0 }, peaks: {}, associations: [] };

  const severeCytopenias = [...episodes.neutrophil, ...episodes.platelet, ...episodes.hemoglobin];
  const recommendations = infused
    ? recommend(
        {
          asOfDay: timeline.asOfDay,
          latest,
          events,
          hematotox,
          pht: pht.value,
          earlyIcahtGrade: icaht.early.grade,
          earlyIcahtAtLeast: icaht.early.atLeast,
          ageYears,
          workupEvidence: [...new Set(severeCytopenias.filter((e) => e.ongoing || (e.recoveryDay ?? 0) > t.pht.day).flatMap((e) => e.evidence))],
        },
        thresholds,
      )
    : [];

  const priorAllogeneicHsct = record.conditions.some((c) => terminology.match(c.code, ['allogeneic-hsct-history']) !== undefined);
  const assessment: Assessment = {
    patientId: record.patientId,
    asOf: options.asOf,
    infusionDate: timeline.day0,
    dayPostInfusion: infused ? timeline.asOfDay : null,
    infusions: timeline.infusions,
    lymphodepletionDate: timeline.lymphodepletionDate,
    sex,
    ageYears,
    ctcae,
    severeCytopenias,
    prolongedHematologicToxicity: pht.value,
    persistentCytopenia,
    icaht,
    hematotox,
    immunoglobulins,
    bCellAplasia: bCells,
    cd4cd8: cd4cd8Result,
    crs,
    priorAllogeneicHsct,
    latest,
    recommendations,
    ignoredObservations: labs.ignored,
    issues,
  };
  if (options.includeSeries) {
    const all: Partial<Record<Analyte, LabDay[]>> = { ...series };
    for (const analyte of ANALYTES) {
      const list = groups.get(analyte);
      if (list && !(analyte in all)) all[analyte] = labDays(list, timeline).map((d) => ({ ...d, value: maxOfDay(list, d.date) }));
    }
    assessment.series = all;
    assessment.events = events;
  }
  return assessment;
}

/** For markers where the peak matters (CRP, ferritin…), the chart shows the day's highest value. */
function maxOfDay(list: readonly LabValue[], date: string): number {
  let max = -Infinity;
  for (const v of list) if (v.date === date && v.value > max) max = v.value;
  return max;
}

function stripDays(result: { latestValue?: LabPoint; worstValue?: LabPoint }): void {
  if (result.latestValue) result.latestValue = { ...result.latestValue, day: null };
  if (result.worstValue) result.worstValue = { ...result.worstValue, day: null };
}
