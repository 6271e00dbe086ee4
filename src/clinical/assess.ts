/**
 * assess(): one patient's FHIR resources → the hematotoxicity assessment.
 *
 * Pure and deterministic for a given input and `asOf`: no clock, no network, no file system, so the
 * SMART app runs the same function in the browser. Cost is linear in the number of resources.
 *
 * assess() runs one step per finding (CTCAE, severe cytopenia, ICAHT, CAR-HEMATOTOX, immune
 * reconstitution, CRS, recommendations), each reading the shared AssessContext; steps append the
 * issues they find to the context in the order they run.
 */
import type { FhirResource } from 'fhir/r4.js';
import { compareMeasured, valuePoint } from './bounds.js';
import { crsEvidence, PEAK_MARKERS } from './crs.js';
import { defaultLln, gradeSeries } from './ctcae.js';
import {
  addDays,
  ageOn,
  comparedToDraw,
  daysBetween,
  isDate,
  LAB_DATE_SPAN_MS,
  lastOfLatestDate,
  readInstant,
} from './dates.js';
import { ANALYTE_LABELS, CENSORING_TEXT } from './format.js';
import { carHematotox } from './hematotox.js';
import { assessIcaht } from './icaht.js';
import { bCellAplasia, cd19Samples, cd4cd8, immunoglobulin } from './immune.js';
import type { NormalizedLabs } from './observations.js';
import { normalizeObservations } from './observations.js';
import { recommend } from './recommendations.js';
import type { PatientRecord } from './record.js';
import { extractEvents, recordFromResources } from './record.js';
import type { PhtResult } from './severe-cytopenia.js';
import { LINEAGE_TERM, persistenceAt, prolongedToxicity, severeEpisodes } from './severe-cytopenia.js';
import type { Terminology } from './terminology.js';
import type { HospitalThresholds, Thresholds } from './thresholds.js';
import { DEFAULT_HOSPITAL_THRESHOLDS, ivigThreshold } from './thresholds.js';
import type { Timeline } from './timeline.js';
import { baselineValue, buildTimeline, dayNumber, labDays, upToInTimeOrder } from './timeline.js';
import type {
  Analyte,
  Assessment,
  AssessmentIssue,
  Censoring,
  ClinicalEvent,
  CtcaeTerm,
  HematotoxResult,
  IcahtResult,
  LabDay,
  LabPoint,
  LabValue,
  Lineage,
  Recommendation,
  SevereCytopenia,
} from './types.js';

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
  /**
   * The assessment date is today (a CDS call, the SMART app): a result dated after it is a data
   * error (a wrong date, a clock) and is reported. For a past date (the CLI's --as-of) later results
   * are expected and left aside without a word.
   */
  asOfIsToday?: boolean | undefined;
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
const ANALYTES: readonly Analyte[] = [
  'anc',
  'platelets',
  'hemoglobin',
  'wbc',
  'lymphocytes',
  'igg',
  'iga',
  'igm',
  'cd19Percent',
  'cd19Absolute',
  'cd4Percent',
  'cd4Absolute',
  'cd8Percent',
  'cd8Absolute',
  'cd4cd8Ratio',
  'ferritin',
  'crp',
  'il6',
  'il10',
  'ifnGamma',
  'dDimer',
  'fibrinogen',
  'ldh',
  'temperature',
  'crsGrade',
  'weight',
];

/** The blood counts graded by CTCAE, charted with their lab days. */
type CountAnalyte = 'anc' | 'platelets' | 'hemoglobin' | 'wbc' | 'lymphocytes';

const TERMS: [CtcaeTerm, CountAnalyte][] = [
  ['neutrophils', 'anc'],
  ['platelets', 'platelets'],
  ['hemoglobin', 'hemoglobin'],
  ['wbc', 'wbc'],
  ['lymphocytes', 'lymphocytes'],
];

/** The lineages of severe cytopenia (Wang et al. 2021): their count and unit. */
const LINEAGES: readonly [Lineage, 'anc' | 'platelets' | 'hemoglobin'][] = [
  ['neutrophil', 'anc'],
  ['platelet', 'platelets'],
  ['hemoglobin', 'hemoglobin'],
];
const LINEAGE_UNIT: Record<Lineage, string> = { neutrophil: '10*9/L', platelet: '10*9/L', hemoglobin: 'g/L' };

/** What every step reads: the record's labs and events on the day axis, and the thresholds in force. */
interface AssessContext {
  asOf: string;
  thresholds: HospitalThresholds;
  t: Thresholds;
  timeline: Timeline;
  /** True when there is a day 0 (a CAR-T infusion, recorded or requested). */
  infused: boolean;
  day: (date: string) => number;
  /** Day number after infusion, null without one. */
  dayOrNull: (date: string) => number | null;
  /** Events up to the assessment date, with their day numbers. */
  events: ClinicalEvent[];
  /** Lab values up to the assessment date, per analyte, in time order. */
  groups: Map<Analyte, LabValue[]>;
  values: (a: Analyte) => LabValue[];
  /** Baseline value: before lymphodepletion, else before day 0, within the look-back. */
  base: (a: Analyte, lookback?: number) => LabValue | undefined;
  /** Lab days of the blood counts (platelets and hemoglobin know their transfusions). */
  series: Record<CountAnalyte, LabDay[]>;
  /** Issues in the order found; steps append to it. */
  issues: AssessmentIssue[];
}

/** The patient's sex and age, and the lower limit of normal that follows from the sex. */
interface PatientFacts {
  sex: Assessment['sex'];
  ageYears: number | null;
  /** The birth date leaves two ages, one each side of the pediatric age, and the IVIG targets differ. */
  ageStraddles: boolean;
  lln: (term: CtcaeTerm) => number;
}

/**
 * The death the Patient records: a day (`deceasedDateTime` to the day), or only a year or a month
 * (FHIR dateTime allows `2026` and `2026-11`), with the first day it allows. Undefined when none.
 */
function recordedDeath(
  record: PatientRecord,
  timeZone: string,
): { date: string } | { partial: string; earliest: string } | undefined {
  const written: unknown = record.patient?.deceasedDateTime;
  const death = readInstant(written as string | undefined, timeZone);
  if (death) return { date: death.date };
  const partial = typeof written === 'string' ? /^(\d{4})(?:-(0[1-9]|1[0-2]))?$/.exec(written) : null;
  if (!partial) return undefined;
  return { partial: partial[0], earliest: `${partial[1] ?? ''}-${partial[2] ?? '01'}-01` };
}

/**
 * Recorded as deceased on or before the assessment date: a death on a day up to it, a year or month
 * of death that begins by then (a record does not hold a death still to come), or a death without a date.
 */
function isDeceased(record: PatientRecord, asOf: string, timeZone: string): boolean {
  if (record.patient?.deceasedBoolean === true) return true;
  const death = recordedDeath(record, timeZone);
  return death !== undefined && ('date' in death ? death.date : death.earliest) <= asOf;
}

export function assess(resources: readonly FhirResource[], options: AssessOptions): Assessment {
  checkDates(options);
  const thresholds = options.thresholds ?? DEFAULT_HOSPITAL_THRESHOLDS;
  const { record, labs, events, issues } = readRecord(resources, options);
  const ctx = dayAxis(options, thresholds, labs, events, issues);
  const patient = patientFacts(ctx, record);

  const ctcae = gradeCtcae(ctx, patient.lln);
  const { episodes, pht, lineageDays } = severeCytopenia(ctx);
  const persistentCytopenia = persistence(ctx, lineageDays, patient.lln);
  const censoring = censoringOf(ctx, record, options.timeZone ?? 'UTC');
  const icaht = icahtGrades(ctx, censoring);
  const hematotox = hematotoxScore(ctx);
  const { latest, at: latestAt, lastDraws } = latestValues(ctx);
  const immunoglobulins = immunoglobulinFindings(ctx, latest, latestAt.igg, patient.ageYears, patient.ageStraddles);
  const severeCytopenias = [...episodes.neutrophil, ...episodes.platelet, ...episodes.hemoglobin];
  const bCells = bCellFindings(ctx);
  const irradiation = irradiationWindow(ctx);
  const recommendations = advise(ctx, {
    latest,
    latestAt,
    lastDraws,
    hematotox,
    pht,
    icaht,
    ageYears: patient.ageYears,
    ageStraddles: patient.ageStraddles,
    severeCytopenias,
    bCellAplasia: bCells,
    irradiation,
    deceased: isDeceased(record, ctx.asOf, options.timeZone ?? 'UTC'),
  });

  const { timeline, infused } = ctx;
  const assessment: Assessment = {
    patientId: record.patientId,
    asOf: options.asOf,
    infusionDate: timeline.day0,
    dayPostInfusion: infused ? timeline.asOfDay : null,
    infusions: timeline.infusions,
    lymphodepletionDate: timeline.lymphodepletionDate,
    sex: patient.sex,
    ageYears: patient.ageYears,
    ctcae,
    severeCytopenias,
    prolongedHematologicToxicity: pht.value,
    persistentCytopenia,
    icaht,
    hematotox,
    immunoglobulins,
    bCellAplasia: bCells,
    cd4cd8: cd4cd8Findings(ctx),
    crs: crsFindings(ctx),
    priorAllogeneicHsct: record.conditions.some(
      (c) => options.terminology.match(c.code, ['allogeneic-hsct-history']) !== undefined,
    ),
    latest,
    bodyWeight: bodyWeight(ctx),
    irradiation,
    recommendations,
    ignoredObservations: labs.ignored,
    issues,
  };
  if (options.includeSeries) addSeries(assessment, ctx);
  return assessment;
}

function checkDates(options: AssessOptions): void {
  if (!isDate(options.asOf)) throw new AssessmentInputError(`asOf must be a date (YYYY-MM-DD), got "${options.asOf}"`);
  if (options.infusionDate !== undefined && !isDate(options.infusionDate)) {
    throw new AssessmentInputError(`infusionDate must be a date (YYYY-MM-DD), got "${options.infusionDate}"`);
  }
}

/** The patient's record, its normalised labs and its dated events, with the issues found reading them. */
function readRecord(
  resources: readonly FhirResource[],
  options: AssessOptions,
): { record: PatientRecord; labs: NormalizedLabs; events: ClinicalEvent[]; issues: AssessmentIssue[] } {
  const tz = options.timeZone ?? 'UTC';
  let built: ReturnType<typeof recordFromResources>;
  try {
    built = recordFromResources(resources, options.patientId);
  } catch (error) {
    throw new AssessmentInputError((error as Error).message);
  }
  const { record } = built;
  const issues: AssessmentIssue[] = [...(options.inputIssues ?? []), ...built.issues];
  const labs = normalizeObservations(record.observations, options.terminology, tz);
  issues.push(...labs.issues);
  const extracted = extractEvents(record, options.terminology, tz, options.asOf);
  issues.push(...extracted.issues);
  return { record, labs, events: extracted.events, issues };
}

/**
 * Results dated after today: not used (as after any assessment date), and said, with the earliest.
 * `note` is given each dropped value; `report` adds the issue once all are seen.
 */
function futureResults(asOf: string, issues: AssessmentIssue[]): { note: (v: LabValue) => void; report: () => void } {
  let count = 0;
  let first: LabValue | undefined;
  return {
    note: (v) => {
      count++;
      if (!first || v.date < first.date) first = v;
    },
    report: () => {
      if (!first) return;
      const label = ANALYTE_LABELS[first.analyte] ?? first.analyte;
      issues.push({
        severity: 'warning',
        code: 'date-future',
        message: `${count === 1 ? '1 result is' : `${count} results are`} dated after today (${asOf}) and not used: ${label} on ${first.date}${count > 1 ? ' is the earliest' : ''}`,
        resource: first.reference,
        analyte: first.analyte,
        date: first.date,
      });
    },
  };
}

/** Day 0 and the day axis; events and lab values up to the assessment date; the blood counts' lab days. */
function dayAxis(
  options: AssessOptions,
  thresholds: HospitalThresholds,
  labs: NormalizedLabs,
  allEvents: readonly ClinicalEvent[],
  issues: AssessmentIssue[],
): AssessContext {
  const { asOf } = options;
  const t = thresholds.values;
  const { timeline, issues: timelineIssues } = buildTimeline(allEvents, asOf, options.infusionDate, t);
  issues.push(...timelineIssues);
  const infused = timeline.day0 !== null;
  const day = (date: string): number => dayNumber(timeline, date);
  const dayOrNull = (date: string): number | null => (infused ? day(date) : null);
  const events = allEvents.filter((e) => e.date <= asOf).map((e) => ({ ...e, day: dayOrNull(e.date) }));

  // Dropped while the values are filtered (one pass): reported when the assessment date is today.
  const future = options.asOfIsToday ? futureResults(asOf, issues) : undefined;
  const groups = upToInTimeOrder(labs.byAnalyte, asOf, future?.note);
  future?.report();
  const values = (a: Analyte): LabValue[] => groups.get(a) ?? [];
  const base = (a: Analyte, lookback = t.baseline.lookbackDays): LabValue | undefined =>
    baselineValue(values(a), timeline, lookback);
  const transfusions = (kind: 'platelet-transfusion' | 'red-cell-transfusion'): ClinicalEvent[] =>
    events.filter((e) => e.kind === kind || e.kind === 'transfusion-unspecified');
  const freeDays = t.recovery.transfusionFreeDays;
  const series: Record<CountAnalyte, LabDay[]> = {
    anc: labDays(values('anc'), timeline),
    platelets: labDays(values('platelets'), timeline, transfusions('platelet-transfusion'), freeDays),
    hemoglobin: labDays(values('hemoglobin'), timeline, transfusions('red-cell-transfusion'), freeDays),
    wbc: labDays(values('wbc'), timeline),
    lymphocytes: labDays(values('lymphocytes'), timeline),
  };
  return { asOf, thresholds, t, timeline, infused, day, dayOrNull, events, groups, values, base, series, issues };
}

/** Sex (for the hemoglobin lower limit of normal) and age (for the pediatric IVIG target). */
function patientFacts(ctx: AssessContext, record: PatientRecord): PatientFacts {
  const gender = record.patient?.gender;
  const sex = gender === 'male' || gender === 'female' || gender === 'other' ? gender : 'unknown';
  const birthDate = record.patient?.birthDate;
  const age = ageOn(birthDate, ctx.asOf);
  // A year or month of birth only (FHIR allows both) still tells a child born in 2015 from an adult.
  // When the two ages it allows fall on either side of the pediatric age and the two IVIG targets
  // differ, the higher target is used (ivigThreshold) and that is said.
  const limit = ctx.t.immunoglobulins.pediatricAgeYears;
  const ageStraddles =
    age?.partial === true &&
    age.years === limit - 1 &&
    ctx.t.immunoglobulins.iggIvigPediatric !== ctx.t.actions.ivigIgg;
  if (ageStraddles) {
    const { value: target, pediatric } = ivigThreshold(ctx.t, age.years, true);
    ctx.issues.push({
      severity: 'information',
      code: 'birth-date-partial',
      message: `birth date recorded as ${birthDate} (${birthDate?.length === 4 ? 'year only' : 'no day'}): the patient is ${age.years} or ${limit} years old; the ${pediatric ? 'pediatric' : 'adult'} IVIG target (${target} mg/dL), the higher of the two, is used`,
      resource: `Patient/${record.patientId}`,
    });
  }
  const ageYears = age?.years ?? null;
  const lln = (term: CtcaeTerm): number => defaultLln(term, ctx.t, sex);
  if (sex !== 'male' && sex !== 'female' && ctx.series.hemoglobin.some((d) => d.lln === undefined)) {
    ctx.issues.push({
      severity: 'information',
      code: 'sex-unknown',
      message: `sex unknown: hemoglobin graded with the lower default limit of normal (${lln('hemoglobin')} g/L)`,
    });
  }
  return { sex, ageYears, ageStraddles, lln };
}

/** CTCAE v5 grades: after infusion when there is one, otherwise over all values (without day numbers). */
function gradeCtcae(ctx: AssessContext, lln: (term: CtcaeTerm) => number): Assessment['ctcae'] {
  const { infused, timeline, t } = ctx;
  const from = infused ? 0 : -Infinity;
  const grade = (term: CtcaeTerm, analyte: CountAnalyte): Assessment['ctcae'][CtcaeTerm] =>
    gradeSeries(
      ctx.series[analyte],
      term,
      ctx.values(analyte)[0]?.unit ?? '10*9/L',
      from,
      timeline.asOfDay,
      lln(term),
      t,
    );
  const ctcae = Object.fromEntries(TERMS.map(([term, analyte]) => [term, grade(term, analyte)])) as Assessment['ctcae'];
  if (!infused) for (const term of Object.keys(ctcae) as CtcaeTerm[]) stripDays(ctcae[term]);
  return ctcae;
}

/** Severe cytopenia episodes per lineage (with stale-data warnings) and prolonged hematologic toxicity. */
function severeCytopenia(ctx: AssessContext): {
  episodes: Record<Lineage, SevereCytopenia[]>;
  pht: PhtResult;
  lineageDays: Record<Lineage, LabDay[]>;
} {
  const { series, timeline, t } = ctx;
  const episodes: Record<Lineage, SevereCytopenia[]> = { neutrophil: [], platelet: [], hemoglobin: [] };
  const lineageDays: Record<Lineage, LabDay[]> = {
    neutrophil: series.anc,
    platelet: series.platelets,
    hemoglobin: series.hemoglobin,
  };
  let pht: PhtResult = { value: null, byLineage: { neutrophil: null, platelet: null, hemoglobin: null }, issues: [] };
  if (!ctx.infused) return { episodes, pht, lineageDays };
  const fromDay = Math.min(0, ctx.day(timeline.baselineBeforeDate));
  for (const [lineage, analyte] of LINEAGES) {
    episodes[lineage] = severeEpisodes(series[analyte], {
      lineage,
      threshold: t.counts[LINEAGE_TERM[lineage]].severe,
      unit: LINEAGE_UNIT[lineage],
      consecutive: t.recovery.consecutiveDays,
      fromDay,
      asOfDay: timeline.asOfDay,
      baseline: ctx.base(analyte),
      infusionMs: timeline.infusionMs,
    });
    const open = episodes[lineage].find((e) => e.ongoing);
    const last = series[analyte].at(-1);
    if (open && last && timeline.asOfDay - last.day > t.maxGapDays) {
      ctx.issues.push({
        severity: 'warning',
        code: 'stale-data',
        message: `${lineage} severe cytopenia ongoing but the last value is from day ${last.day} (${timeline.asOfDay - last.day} days ago)`,
        resource: last.reference,
      });
    }
  }
  pht = prolongedToxicity(episodes, lineageDays, timeline.asOfDay, t);
  ctx.issues.push(...pht.issues);
  return { episodes, pht, lineageDays };
}

/** Grade of the value nearest each landmark: the PHT day, day 90 and 1 year (null without infusion). */
function persistence(
  ctx: AssessContext,
  lineageDays: Record<Lineage, LabDay[]>,
  lln: (term: CtcaeTerm) => number,
): Assessment['persistentCytopenia'] {
  const { t, infused, timeline } = ctx;
  const at = (landmark: number, window: number, afterOnly: boolean): ReturnType<typeof persistenceAt> | null =>
    infused ? persistenceAt(landmark, window, afterOnly, lineageDays, timeline.asOfDay, lln, LINEAGE_UNIT, t) : null;
  return {
    pht: at(t.pht.day, t.pht.windowDays, false),
    day90: at(t.persistence.day90, t.persistence.day90WindowDays, true),
    year1: at(t.persistence.year1, t.persistence.year1WindowDays, false),
  };
}

/**
 * Where ICAHT counting stops (T-ICAHT paper, Table 1 legend; docs/clinical-logic.md §6): death
 * (counted through its day), a later CAR-T infusion or an allogeneic HSCT (counted to the day before).
 */
function censoringOf(ctx: AssessContext, record: PatientRecord, timeZone: string): Censoring | null {
  if (!ctx.infused) return null;
  const found: Censoring[] = [];
  const patient = record.patient;
  const death = recordedDeath(record, timeZone);
  const reference = patient?.id ? `Patient/${patient.id}` : undefined;
  if (death && 'date' in death && death.date <= ctx.asOf) {
    const day = ctx.day(death.date);
    found.push({ reason: 'death', date: death.date, day, lastCountedDay: day, ...(reference ? { reference } : {}) });
  } else if (death && 'partial' in death && death.earliest <= ctx.asOf) {
    ctx.issues.push({
      severity: 'warning',
      code: 'censoring',
      message: `the patient is recorded as deceased in ${death.partial}, without a day: ICAHT counting could not be stopped at death`,
      ...(reference ? { resource: reference } : {}),
    });
  } else if (patient?.deceasedBoolean === true) {
    ctx.issues.push({
      severity: 'warning',
      code: 'censoring',
      message: 'the patient is recorded as deceased without a date: ICAHT counting could not be stopped at death',
      ...(reference ? { resource: reference } : {}),
    });
  }
  for (const inf of ctx.timeline.infusions.filter((i) => i.day > 0)) {
    const ref = inf.references[0];
    found.push({
      reason: 'car-t-reinfusion',
      date: inf.date,
      day: inf.day,
      lastCountedDay: inf.day - 1,
      ...(ref ? { reference: ref } : {}),
    });
  }
  for (const e of ctx.events.filter((x) => x.kind === 'allogeneic-hsct' && (x.day ?? -1) > 0)) {
    const day = e.day ?? 0;
    found.push({ reason: 'allogeneic-hsct', date: e.date, day, lastCountedDay: day - 1, reference: e.reference });
  }
  const first = found.sort((a, b) => a.lastCountedDay - b.lastCountedDay)[0] ?? null;
  if (first) {
    ctx.issues.push({
      severity: 'information',
      code: 'censoring',
      message: `ICAHT counting stops at day +${first.lastCountedDay}: ${CENSORING_TEXT[first.reason]} on ${first.date}`,
      ...(first.reference ? { resource: first.reference } : {}),
    });
  }
  return first;
}

/** EHA/EBMT ICAHT (and T-ICAHT); reports the days without ANC when they could raise the early grade. */
function icahtGrades(ctx: AssessContext, censoring: Censoring | null): IcahtResult {
  const icaht = ctx.infused
    ? assessIcaht(ctx.series.anc, ctx.series.platelets, ctx.timeline.asOfDay, '10*9/L', ctx.t, censoring)
    : noIcaht();
  if (icaht.early.atLeast && icaht.early.dataGaps.length > 0) {
    const gaps = icaht.early.dataGaps.map((g) => (g.fromDay === g.toDay ? `${g.fromDay}` : `${g.fromDay}–${g.toDay}`));
    ctx.issues.push({
      severity: 'information',
      code: 'data-gap',
      message:
        (icaht.early.grade === 0
          ? `early ICAHT is not known (grade 0 to ${icaht.early.gradeUpperBound ?? ''}): `
          : `early ICAHT is at least grade ${icaht.early.grade ?? ''} (up to ${icaht.early.gradeUpperBound ?? ''}): `) +
        `no ANC on days ${gaps.join(', ')}`,
    });
  }
  return icaht;
}

function noIcaht(): IcahtResult {
  return {
    early: {
      grade: null,
      atLeast: false,
      gradeUpperBound: null,
      daysAnc500: 0,
      daysAnc100: 0,
      complete: false,
      dataGaps: [],
      noRecovery: null,
    },
    late: { grade: null, measurements: 0 },
    thrombocytopenia: {
      early: { grade: null, atLeast: false, daysBelow50: 0, daysBelow20: 0, complete: false },
      late: { grade: null, measurements: 0 },
    },
    phenotype: null,
    censoring: null,
  };
}

/** CAR-HEMATOTOX from the baseline values (before lymphodepletion). */
function hematotoxScore(ctx: AssessContext): HematotoxResult {
  const { base, timeline } = ctx;
  return carHematotox(
    {
      platelets: base('platelets'),
      anc: base('anc'),
      hemoglobin: base('hemoglobin'),
      crp: base('crp'),
      ferritin: base('ferritin'),
    },
    timeline.day0 ? timeline.baselineBeforeDate : null,
    ctx.t.hematotox,
  );
}

/** The latest body weight on or before the assessment date, whenever measured (for G-CSF dosing). */
function bodyWeight(ctx: AssessContext): LabPoint | null {
  const v = lastOfLatestDate(ctx.values('weight'));
  return v ? valuePoint(v, ctx.dayOrNull(v.date)) : null;
}

/**
 * The window for irradiated cellular blood products (EHA/EBMT 2023): from N days before the
 * leukapheresis (the latest recorded on or before day 0) to day +90 (or for life); without a
 * recorded leukapheresis from day −7 of the infusion, and the card says so. Before an infusion is
 * recorded, a recorded CAR-T leukapheresis opens it all the same (the guideline's window starts
 * there, "because of the use of fludarabine"): it then runs at least to 90 days after the
 * leukapheresis, the earliest day +90 can fall (an infusion follows its leukapheresis); with neither,
 * there is no window to speak of.
 */
function irradiationWindow(ctx: AssessContext): Assessment['irradiation'] {
  const { timeline, t } = ctx;
  const day0 = timeline.day0;
  const ir = t.irradiation;
  const leukapheresis = ctx.events.filter((e) => e.kind === 'leukapheresis' && e.date <= (day0 ?? ctx.asOf)).at(-1);
  if (!day0) {
    if (!leukapheresis) return null;
    const from = addDays(leukapheresis.date, -ir.daysBeforeLeukapheresis);
    const until = ir.untilDay === null ? null : addDays(leukapheresis.date, ir.untilDay);
    return {
      from,
      fromDay: null,
      basis: 'leukapheresis',
      infusionRecorded: false,
      leukapheresisDate: leukapheresis.date,
      leukapheresisReference: leukapheresis.reference,
      until,
      untilDay: ir.untilDay,
      required: ctx.asOf >= from && (until === null || ctx.asOf <= until),
    };
  }
  const from = leukapheresis
    ? addDays(leukapheresis.date, -ir.daysBeforeLeukapheresis)
    : addDays(day0, ir.fallbackFromDay);
  const until = ir.untilDay === null ? null : addDays(day0, ir.untilDay);
  return {
    from,
    fromDay: ctx.day(from),
    basis: leukapheresis ? 'leukapheresis' : 'infusion',
    infusionRecorded: true,
    leukapheresisDate: leukapheresis?.date ?? null,
    ...(leukapheresis ? { leukapheresisReference: leukapheresis.reference } : {}),
    until,
    untilDay: ir.untilDay,
    required: ctx.asOf >= from && (until === null || ctx.asOf <= until),
  };
}

/**
 * The latest values, and the instant of the value each one holds, which a treatment given "since" is
 * compared to (none for a result dated without a time: it is compared by date).
 */
interface LatestValues {
  latest: Assessment['latest'];
  at: Partial<Record<Analyte, number>>;
  /** The last draw of the latest lab day, when another draw of that day is the one kept (its worst). */
  lastDraws: Partial<Record<Analyte, { point: LabPoint; ms: number }>>;
}

/**
 * Latest values: after infusion when there is one (keys in a fixed order: output is deterministic).
 * Each is its latest lab day's value (clinical spec §1, docs/clinical-logic.md §2: a lab day holds
 * the worst value of its date): the day's lowest, or a peak marker's highest, not the last draw. An
 * ANC of 0.2 in the morning and 4.2 at night is a day at 0.2, as the counts table and ICAHT read it.
 */
function latestValues(ctx: AssessContext): LatestValues {
  const latest: Assessment['latest'] = {};
  const at: LatestValues['at'] = {};
  const lastDraws: LatestValues['lastDraws'] = {};
  for (const analyte of ANALYTES) {
    const list = ctx.groups.get(analyte);
    const last = list && lastOfLatestDate(list);
    if (!list || !last || (ctx.infused && ctx.day(last.date) < 0)) continue;
    const v = labDayValue(list, last, PEAK.has(analyte) ? 1 : -1);
    latest[analyte] = valuePoint(v, ctx.dayOrNull(v.date));
    // A result dated without a time has no instant of its own to order a treatment by: it is compared by date.
    if (v.dateOnly !== true) at[analyte] = v.ms;
    // The day's last draw, when it is not the value kept: a treatment between the two answers only the first.
    if (last !== v && last.date === v.date && last.dateOnly !== true)
      lastDraws[analyte] = { point: valuePoint(last, ctx.dayOrNull(last.date)), ms: last.ms };
  }
  return { latest, at, lastDraws };
}

/**
 * The value of `last`'s lab date among `values` (in time order): the lowest (`worse` -1) or highest
 * (+1); of equal values, the first given (as labDays keeps). Values of one date lie within about 50
 * hours of each other whatever their offsets, so the scan back stops there.
 */
function labDayValue(values: readonly LabValue[], last: LabValue, worse: 1 | -1): LabValue {
  let kept = last;
  for (let i = values.length - 2; i >= 0; i--) {
    const v = values[i] as LabValue;
    if (last.ms - v.ms > LAB_DATE_SPAN_MS) break;
    if (v.date === last.date && compareMeasured(v, kept) * worse >= 0) kept = v;
  }
  return kept;
}

/** IgG, IgA, IgM against their baseline (IgG also against the IVIG threshold); notes an IgG drawn after IVIG. */
function immunoglobulinFindings(
  ctx: AssessContext,
  latest: Assessment['latest'],
  iggAt: number | undefined,
  ageYears: number | null,
  ageStraddles: boolean,
): Assessment['immunoglobulins'] {
  const { t, base, values, dayOrNull } = ctx;
  const igLookback = t.baseline.immunologyLookbackDays;
  const igLatest = (a: Analyte): LabValue | undefined => {
    const list = values(a);
    const last = lastOfLatestDate(list); // the value the cards cite (latestValues)
    return latest[a] && last ? labDayValue(list, last, -1) : undefined;
  };
  const { declinePct } = t.immunoglobulins;
  const immunoglobulins: Assessment['immunoglobulins'] = {
    IgG: immunoglobulin(
      base('igg', igLookback),
      igLatest('igg'),
      dayOrNull,
      ivigThreshold(t, ageYears, ageStraddles).value,
      declinePct,
    ),
    IgA: immunoglobulin(base('iga', igLookback), igLatest('iga'), dayOrNull, null, declinePct),
    IgM: immunoglobulin(base('igm', igLookback), igLatest('igm'), dayOrNull, null, declinePct),
  };
  // The last IVIG given before the IgG was drawn (instants when both have a time, else dates), within
  // immunoglobulins.ivigRecentDays of it: such an IgG reflects the infusion.
  const iggLatest = immunoglobulins.IgG.latest;
  // Strictly before: at the same instant, or the same day when either has no time, the order is unknown
  // (the IVIG review counts such an IVIG as answering the IgG: recommendations.ts doneSince).
  const before = (e: { ms: number; date: string; time: string }): boolean =>
    iggLatest !== null && comparedToDraw(e, iggAt, iggLatest.date) < 0;
  const lastIvig = ctx.events.filter((e) => e.kind === 'ivig' && before(e)).at(-1);
  const since = lastIvig && iggLatest ? daysBetween(lastIvig.date, iggLatest.date) : Infinity;
  if (lastIvig && iggLatest && since <= t.immunoglobulins.ivigRecentDays) {
    ctx.issues.push({
      severity: 'information',
      code: 'ivig-recent',
      message: `IgG of ${iggLatest.date} follows IVIG of ${lastIvig.date}: it reflects the infusion`,
      resource: iggLatest.reference,
    });
  }
  return immunoglobulins;
}

/** B-cell aplasia from CD19 (after infusion only). */
function bCellFindings(ctx: AssessContext): Assessment['bCellAplasia'] {
  if (!ctx.infused)
    return { present: null, onsetDay: null, lossDay: null, lossUnconfirmed: false, lossPredictsRelapse: false };
  const samples = cd19Samples(ctx.values('cd19Percent'), ctx.values('cd19Absolute'), ctx.day);
  return bCellAplasia(samples, ctx.timeline.product, ctx.t.bCellAplasia);
}

/** CD4/CD8 inversion and low CD4 (after infusion only). */
function cd4cd8Findings(ctx: AssessContext): Assessment['cd4cd8'] {
  if (!ctx.infused) return { inverted: null, onsetDay: null, latestRatio: null, cd4Low: null };
  const { values } = ctx;
  const subsets = {
    ratio: values('cd4cd8Ratio'),
    cd4Abs: values('cd4Absolute'),
    cd8Abs: values('cd8Absolute'),
    cd4Pct: values('cd4Percent'),
    cd8Pct: values('cd8Percent'),
  };
  return cd4cd8(subsets, ctx.day, ctx.t.cd4.low);
}

/** CRS grade, its treatment and the CRS-associated evidence (after infusion only). */
function crsFindings(ctx: AssessContext): Assessment['crs'] {
  if (!ctx.infused) {
    return {
      crs: { grade: null, onsetDay: null, durationDays: null, source: null },
      tocilizumab: { given: false, firstDay: null, doses: 0 },
      corticosteroids: { given: false, firstDay: null, doses: 0 },
      peaks: {},
      associations: [],
    };
  }
  const { values } = ctx;
  const labs = {
    ferritin: values('ferritin'),
    crp: values('crp'),
    il6: values('il6'),
    il10: values('il10'),
    ifnGamma: values('ifnGamma'),
    dDimer: values('dDimer'),
    ldh: values('ldh'),
    temperature: values('temperature'),
    fibrinogen: values('fibrinogen'),
    crsGrade: values('crsGrade'),
  };
  return crsEvidence(ctx.events, labs, ctx.day, ctx.timeline.asOfDay);
}

/** What the cards advise (after infusion only); the work-up cites the observations behind severe cytopenia. */
function advise(
  ctx: AssessContext,
  found: {
    latest: Assessment['latest'];
    latestAt: LatestValues['at'];
    lastDraws: LatestValues['lastDraws'];
    hematotox: HematotoxResult;
    pht: PhtResult;
    icaht: IcahtResult;
    ageYears: number | null;
    ageStraddles: boolean;
    severeCytopenias: readonly SevereCytopenia[];
    bCellAplasia: Assessment['bCellAplasia'];
    irradiation: Assessment['irradiation'];
    deceased: boolean;
  },
): Recommendation[] {
  // No advice without an infusion, nor for a patient recorded as deceased.
  if (!ctx.infused || found.deceased) return [];
  const { t } = ctx;
  const workup = found.severeCytopenias.filter((e) => e.ongoing || (e.recoveryDay ?? 0) > t.pht.day);
  return recommend(
    {
      asOfDay: ctx.timeline.asOfDay,
      latest: found.latest,
      latestAt: found.latestAt,
      lastDraws: found.lastDraws,
      events: ctx.events,
      hematotox: found.hematotox,
      pht: found.pht.value,
      icaht: found.icaht,
      ageYears: found.ageYears,
      ageStraddles: found.ageStraddles,
      bCellAplasia: found.bCellAplasia,
      irradiation: found.irradiation,
      workupEvidence: [...new Set(workup.flatMap((e) => e.evidence))],
      workupSinceDay: currentCytopeniaOnset(found.severeCytopenias),
      issues: ctx.issues,
    },
    ctx.thresholds,
  );
}

/**
 * The day the current cytopenia began, from which a marrow sampling or a ferritin counts as its work-up
 * done: the earliest onset among the severe episodes still ongoing that began after the infusion, else
 * the latest such onset (day 0 without one).
 */
function currentCytopeniaOnset(episodes: readonly SevereCytopenia[]): number {
  const fresh = episodes.filter((e) => e.newOnset);
  const ongoing = fresh.filter((e) => e.ongoing);
  // Loops, not Math.min(...): episodes are as many as the record makes them.
  return ongoing.length > 0
    ? ongoing.reduce((d, e) => Math.min(d, e.onsetDay), Infinity)
    : fresh.reduce((d, e) => Math.max(d, e.onsetDay), 0);
}

/** For charts: lab days of every analyte present and the events (the blood counts' series first). */
function addSeries(assessment: Assessment, ctx: AssessContext): void {
  const all: Partial<Record<Analyte, LabDay[]>> = { ...ctx.series };
  for (const analyte of ANALYTES) {
    const list = ctx.groups.get(analyte);
    if (list && !(analyte in all)) {
      // The day's lowest value (labDays), as for the counts: for IgG, CD19 or CD4 the low is what is
      // advised on; for the peak markers, the day's highest.
      if (!PEAK.has(analyte)) {
        all[analyte] = labDays(list, ctx.timeline);
        continue;
      }
      const max = maxByDate(list);
      all[analyte] = labDays(list, ctx.timeline).map((d) => {
        const top = max.get(d.date);
        return top ? { ...d, value: top.value, comparator: top.comparator, ms: top.ms, reference: top.reference } : d;
      });
    }
  }
  assessment.series = all;
  assessment.events = ctx.events;
}

const PEAK: ReadonlySet<Analyte> = new Set(PEAK_MARKERS);

/** For markers where the peak matters (CRP, ferritin…), the chart shows the day's highest value (">300" above 300). */
function maxByDate(list: readonly LabValue[]): Map<string, LabValue> {
  const max = new Map<string, LabValue>();
  for (const v of list) {
    const kept = max.get(v.date);
    if (!kept || compareMeasured(v, kept) > 0) max.set(v.date, v);
  }
  return max;
}

function stripDays(result: { latestValue?: LabPoint; worstValue?: LabPoint }): void {
  if (result.latestValue) result.latestValue = { ...result.latestValue, day: null };
  if (result.worstValue) result.worstValue = { ...result.worstValue, day: null };
}
