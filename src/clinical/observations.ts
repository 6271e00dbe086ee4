/**
 * Observations → lab values: code matched through the ValueSets, status filtered, amendments
 * resolved, unit converted. Anything unusable is listed in the issues, never guessed and never
 * fatal (docs/clinical-logic.md §3).
 */
import type { Observation, Quantity } from 'fhir/r4.js';
import { RepeatScreen } from '../shared/repeat-screen.js';
import { compareVersions } from './versions.js';
import { InstantParser } from './dates.js';
import type { Role, Terminology } from './terminology.js';
import type { Analyte, AssessmentIssue, LabValue } from './types.js';
import type { Dimension } from './units.js';
import { CANONICAL_UNIT, isPercentUnit, unitConverter, type Converter } from './units.js';
import { oneLine, recordText } from './record-text.js';

/** The analyte and dimension each lab role reads as (CD19/CD4/CD8: by unit, see below). */
const ROLE_ANALYTE: Partial<Record<Role, [Analyte, Dimension]>> = {
  anc: ['anc', 'count'],
  platelets: ['platelets', 'count'],
  hemoglobin: ['hemoglobin', 'hemoglobin'],
  wbc: ['wbc', 'count'],
  lymphocytes: ['lymphocytes', 'count'],
  igg: ['igg', 'immunoglobulin'],
  iga: ['iga', 'immunoglobulin'],
  igm: ['igm', 'immunoglobulin'],
  'cd4-cd8-ratio': ['cd4cd8Ratio', 'ratio'],
  ferritin: ['ferritin', 'ferritin'],
  crp: ['crp', 'crp'],
  il6: ['il6', 'cytokine'],
  il10: ['il10', 'cytokine'],
  'ifn-gamma': ['ifnGamma', 'cytokine'],
  'd-dimer': ['dDimer', 'ddimer'],
  fibrinogen: ['fibrinogen', 'fibrinogen'],
  ldh: ['ldh', 'enzyme'],
  'body-temperature': ['temperature', 'temperature'],
  'crs-grade-observation': ['crsGrade', 'grade'],
  'body-weight': ['weight', 'mass'],
};

/** Lymphocyte subsets come as a percentage of lymphocytes or as a count; the unit tells which. */
const SUBSET_ROLES: Partial<Record<Role, [Analyte, Analyte]>> = {
  cd19: ['cd19Percent', 'cd19Absolute'],
  cd4: ['cd4Percent', 'cd4Absolute'],
  cd8: ['cd8Percent', 'cd8Absolute'],
};

export const LAB_ROLES: readonly Role[] = [
  ...(Object.keys(ROLE_ANALYTE) as Role[]),
  ...(Object.keys(SUBSET_ROLES) as Role[]),
];

const USED_STATUSES = new Set(['final', 'amended', 'corrected']);
/** Statuses ignored by rule (docs/clinical-logic.md §3), counted in the assessment. */
const IGNORED_STATUSES = new Set(['entered-in-error', 'cancelled', 'preliminary']);

export interface NormalizedLabs {
  /** The values of each analyte, in input order (the analytes in order of first value). */
  byAnalyte: Map<Analyte, LabValue[]>;
  issues: AssessmentIssue[];
  /** Observations ignored by status, per status. */
  ignored: Record<string, number>;
}

/**
 * Keeps one version per Observation id: amended/corrected and later versions replace earlier ones.
 * Two that differ with nothing to tell which is current keep the first, reported in `issues`.
 */
export function latestVersions(
  observations: readonly Observation[],
  issues: AssessmentIssue[] = [],
): readonly Observation[] {
  // Most records hold one version per id: then the input is the answer, with no copy.
  const screen = new RepeatScreen(observations.length);
  for (let i = 0; i < observations.length; i++) screen.add(i, (observations[i] as Observation).id);
  return screen.mayRepeat((i) => (observations[i] as Observation).id) ? keepLatest(observations, issues) : observations;
}

function keepLatest(observations: readonly Observation[], issues: AssessmentIssue[]): readonly Observation[] {
  const byId = new Map<string, Observation>();
  const anonymous: Observation[] = [];
  for (const obs of observations) {
    if (!obs.id) {
      anonymous.push(obs);
      continue;
    }
    const known = byId.get(obs.id);
    if (!known || supersedes(obs, known)) byId.set(obs.id, obs);
    else if (!supersedes(known, obs) && JSON.stringify(known) !== JSON.stringify(obs))
      issues.push({
        severity: 'warning',
        code: 'version-ambiguous',
        message: `${referenceOf(obs)} is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated, amended or corrected status); the first given was used`,
        resource: referenceOf(obs),
      });
  }
  if (byId.size + anonymous.length === observations.length) return observations; // no id repeated after all
  return [...byId.values(), ...anonymous];
}

/** Whether version `a` of an Observation replaces version `b` (docs/clinical-logic.md §3). */
export function supersedes(a: Observation, b: Observation): boolean {
  const order = compareVersions(a, b);
  if (order !== 0) return order > 0;
  return (a.status === 'amended' || a.status === 'corrected') && b.status === 'final';
}

/** How values of one lab role are read: analyte and dimension, or a lymphocyte subset read by its unit. */
interface RolePlan {
  analyte: Analyte;
  dimension: Dimension;
  subset: [Analyte, Analyte] | undefined;
  /** The last unit seen and its converter: a patient's values of one test nearly always share their unit. */
  lastUnit: string | undefined;
  lastConverter: Converter | string;
}

function rolePlans(): Map<Role, RolePlan> {
  const plans = new Map<Role, RolePlan>();
  for (const role of LAB_ROLES) {
    const subset = SUBSET_ROLES[role];
    const [analyte, dimension] = ROLE_ANALYTE[role] ?? (subset ? [subset[1], 'count'] : ['anc', 'count']);
    plans.set(role, { analyte, dimension, subset, lastUnit: undefined, lastConverter: 'no unit seen' });
  }
  return plans;
}

/** Module-wide: the plans hold no patient data, only which converter the last unit of a role needed. */
const plans = rolePlans();

function converterOf(plan: RolePlan, dimension: Dimension, unit: string | undefined): Converter | string {
  if (plan.subset) return unitConverter(dimension, unit); // a subset's dimension depends on its unit
  if (unit !== plan.lastUnit || plan.lastUnit === undefined) {
    plan.lastConverter = unitConverter(plan.dimension, unit);
    plan.lastUnit = unit;
  }
  return plan.lastConverter;
}

/**
 * A lab value as the engine keeps it, one per Observation used: one object shape for every value
 * and no string built per value. Its numbers (value, instant, lower limit) live in one Float64Array
 * per reading, three slots per value: as fields, V8 boxes each double in a 16-byte heap number, and
 * a record of 50,000 results then allocated 136 bytes per value, young-generation garbage whose
 * collections made up most of the engine's time (bench/engine.ts). Its unit follows from its
 * analyte; its reference is made only when asked for (for the few values a day, card or finding
 * names): building `Observation/<id>` for each of 50,000 values was a fifth of the reading.
 */
class ObservedValue implements LabValue {
  // Truly private: a value spread, cloned or logged never carries the reading's whole store.
  readonly #numbers: Float64Array;
  /** The first of this value's three slots in #numbers. */
  readonly #slot: number;

  constructor(
    readonly analyte: Analyte,
    readonly comparator: LabValue['comparator'],
    readonly date: string,
    readonly id: string | undefined,
    numbers: Float64Array,
    slot: number,
    readonly dateOnly: boolean,
  ) {
    this.#numbers = numbers;
    this.#slot = slot;
  }

  get value(): number {
    return this.#numbers[this.#slot] as number;
  }

  get ms(): number {
    return this.#numbers[this.#slot + 1] as number;
  }

  /** NaN in the store stands for no lower limit. */
  get lln(): number | undefined {
    const lln = this.#numbers[this.#slot + 2] as number;
    return Number.isNaN(lln) ? undefined : lln;
  }

  get unit(): string {
    return ANALYTE_UNIT[this.analyte];
  }

  get reference(): string {
    return referenceOf(this);
  }

  /** JSON sees the fields it saw when the numbers were own properties (getters live on the prototype). */
  toJSON(): Omit<LabValue, 'reference'> & { id: string | undefined } {
    const { analyte, value, unit, comparator, ms, date, lln, id } = this;
    return { analyte, value, unit, comparator, ms, date, lln, id };
  }
}

/** The canonical unit of each analyte's values. */
const ANALYTE_UNIT = Object.fromEntries([
  ...Object.values(ROLE_ANALYTE).map(([analyte, dimension]) => [analyte, CANONICAL_UNIT[dimension]]),
  ...Object.values(SUBSET_ROLES).flatMap(([percent, count]) => [
    [percent, CANONICAL_UNIT.percent],
    [count, CANONICAL_UNIT.count],
  ]),
]) as Record<Analyte, string>;

export function normalizeObservations(
  observations: readonly Observation[],
  terminology: Terminology,
  timeZone: string,
): NormalizedLabs {
  // Read as given, screening the ids on the way; in the rare record that gives an id twice, read
  // again from the latest versions (the first reading is dropped, its issues with it).
  const screen = new RepeatScreen(observations.length);
  const labs = readLabs(observations, terminology, timeZone, screen);
  if (!screen.mayRepeat((i) => (observations[i] as Observation).id)) return labs;
  const issues: AssessmentIssue[] = [];
  const latest = keepLatest(observations, issues);
  return readLabs(latest, terminology, timeZone, undefined, issues);
}

/** One pass over the Observations: each usable one becomes a LabValue, any other an issue or a count. */
function readLabs(
  latest: readonly Observation[],
  terminology: Terminology,
  timeZone: string,
  screen: RepeatScreen | undefined,
  issues: AssessmentIssue[] = [],
): NormalizedLabs {
  const byAnalyte = new Map<Analyte, LabValue[]>();
  // No prototype: a status is input, and "__proto__" or "constructor" must count as any other word.
  const ignored: Record<string, number> = Object.create(null) as Record<string, number>;
  const clock = new InstantParser(timeZone);
  const numbers = new Float64Array(latest.length * 3);
  let slot = 0;
  for (let i = 0; i < latest.length; i++) {
    const obs = latest[i] as Observation;
    screen?.add(i, obs.id);
    const info = terminology.match(obs.code, LAB_ROLES);
    if (!info) continue; // not a lab this engine reads
    const plan = plans.get(info.role) as RolePlan;
    const label = info.display ?? info.role;
    if (!USED_STATUSES.has(obs.status)) {
      countIgnored(obs, label, ignored, issues);
      continue;
    }
    const time = obs.effectiveDateTime ?? obs.effectivePeriod?.start ?? obs.effectiveInstant;
    if (!clock.read(time)) {
      issues.push({
        severity: 'warning',
        code: 'date-missing',
        message: `${label}: no effective date to the day; not used`,
        resource: referenceOf(obs),
        analyte: plan.analyte,
      });
      continue;
    }
    const { ms, date } = clock;
    // The value and its unit, read without an intermediate object (this loop runs per Observation).
    const q = obs.valueQuantity;
    const quantity = q !== undefined && typeof q.value === 'number' && Number.isFinite(q.value);
    const rawValue = quantity ? (q.value as number) : otherValue(obs);
    if (rawValue === undefined || rawValue < 0) {
      issues.push(valueProblem(obs, rawValue, label, plan.analyte, date));
      continue;
    }
    const rawUnit = quantity ? quantityUnit(q) : undefined;
    let analyte = plan.analyte;
    let dimension = plan.dimension;
    if (plan.subset) {
      const percent = isPercentUnit(rawUnit);
      analyte = percent ? plan.subset[0] : plan.subset[1];
      dimension = percent ? 'percent' : 'count';
    }
    const convert = converterOf(plan, dimension, rawUnit);
    if (typeof convert === 'string') {
      const message = `${label} on ${date}: ${convert}; value ${rawValue} not used`;
      issues.push(labIssue('unit-unreadable', message, obs, analyte, date));
      continue;
    }
    const comparator = quantity ? q.comparator : undefined;
    if (comparator === '>' || comparator === '>=') {
      // A lower bound (an analyser's upper limit, "> 300"): a cut-off the bound leaves open is tested
      // with its number, so it is said: the true value may lie above (docs/clinical-logic.md §3).
      const shown = `${comparator}${rawValue}${rawUnit ? ` ${recordText(rawUnit)}` : ''}`;
      const message = `${label} on ${date} was reported as ${shown}: used as ${rawValue}, the true value may be higher`;
      issues.push(labIssue('comparator', message, obs, analyte, date, 'information'));
    }
    const converted = convert(rawValue === 0 ? 0 : rawValue); // -0 is 0
    if (!Number.isFinite(converted)) {
      // 1e308 g/dL is Infinity in g/L: no number a card could show or a grade could test.
      const message = `${label} on ${date}: value ${rawValue}${rawUnit ? ` ${recordText(rawUnit)}` : ''} is too large to be a result; not used`;
      issues.push(labIssue('value-implausible', message, obs, analyte, date));
      continue;
    }
    const low = obs.referenceRange ? referenceLow(obs.referenceRange, plan, dimension, rawUnit) : undefined;
    numbers[slot] = converted;
    numbers[slot + 1] = ms;
    numbers[slot + 2] = low ?? NaN;
    const value = new ObservedValue(analyte, comparator, date, obs.id, numbers, slot, clock.dateOnly);
    slot += 3;
    // Grouped here rather than listed and grouped after: one list fewer to grow for a large record.
    const list = byAnalyte.get(analyte);
    if (list) list.push(value);
    else byAnalyte.set(analyte, [value]);
  }
  return { byAnalyte, issues, ignored };
}

/**
 * Why a result has no usable value: none that is a number, or one below zero (no count,
 * concentration, ratio or grade read here can be: a data error). A result without a number says
 * what the record gave instead, when it gave something: text (`valueString`, as a laboratory may
 * report "<0.1"; without a unit, no number is read from it), or the data-absent reason.
 */
function valueProblem(
  obs: Observation,
  value: number | undefined,
  label: string,
  analyte: Analyte,
  date: string,
): AssessmentIssue {
  if (value !== undefined)
    return labIssue(
      'value-implausible',
      `${label} on ${date}: value ${value} is below zero; not used`,
      obs,
      analyte,
      date,
    );
  const absent = obs.dataAbsentReason;
  const text: unknown = obs.valueString; // types the input screen does not check may carry anything
  const why =
    typeof text === 'string' && oneLine(text)
      ? ` (reported as text "${recordText(text, 30)}")`
      : absent
        ? ` (${recordText(absent.text ?? absent.coding?.[0]?.code ?? 'data absent')})`
        : '';
  return labIssue('value-missing', `${label} on ${date}: no numeric value${why}; not used`, obs, analyte, date);
}

/** Counts a result not used for its status; a status other than the usual ones is also reported. */
function countIgnored(
  obs: Observation,
  label: string,
  ignored: Record<string, number>,
  issues: AssessmentIssue[],
): void {
  // Counted under the status the record gives, on one line and cut short: any string may stand there.
  const status = recordText(obs.status, 30);
  ignored[status] = (Object.hasOwn(ignored, status) ? (ignored[status] ?? 0) : 0) + 1;
  if (!IGNORED_STATUSES.has(obs.status)) {
    const message = `${label}: status "${status}" is not a result; not used`;
    issues.push({ severity: 'information', code: 'status-ignored', message, resource: referenceOf(obs) });
  }
}

/** An issue about one lab result, with its analyte and date (a card citing an older value says so). */
function labIssue(
  code: AssessmentIssue['code'],
  message: string,
  obs: Observation,
  analyte: Analyte,
  date: string,
  severity: AssessmentIssue['severity'] = 'warning',
): AssessmentIssue {
  return { severity, code, message, resource: referenceOf(obs), analyte, date };
}

function referenceOf(obs: { id?: string | undefined }): string {
  return `Observation/${obs.id ?? '(no id)'}`;
}

function quantityUnit(q: Quantity): string | undefined {
  // Prefer the UCUM code; fall back to the human-readable unit.
  if (q.code && (!q.system || q.system === 'http://unitsofmeasure.org')) return q.code;
  return q.unit ?? q.code;
}

/** A value that is not a Quantity: an integer, or a CRS grade coded 0–5. */
function otherValue(obs: Observation): number | undefined {
  if (typeof obs.valueInteger === 'number') return obs.valueInteger;
  const coded = obs.valueCodeableConcept?.coding?.find((c) => /^[0-5]$/.test(c.code ?? ''))?.code;
  return coded !== undefined ? Number(coded) : undefined;
}

/** The first reference range's lower limit, in the canonical unit (undefined when it cannot be read). */
function referenceLow(
  ranges: NonNullable<Observation['referenceRange']>,
  plan: RolePlan,
  dimension: Dimension,
  valueUnit: string | undefined,
): number | undefined {
  for (let i = 0; i < ranges.length; i++) {
    const low = (ranges[i] as NonNullable<Observation['referenceRange']>[number]).low;
    if (low?.value === undefined) continue;
    const convert = converterOf(plan, dimension, quantityUnit(low) ?? valueUnit);
    return typeof convert === 'string' ? undefined : convert(low.value);
  }
  return undefined;
}
