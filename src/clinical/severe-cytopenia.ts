/**
 * Severe cytopenia episodes, recovery and prolonged hematologic toxicity (Wang et al. 2021, CIBMTR;
 * docs/clinical-logic.md §5).
 *
 * - Severe: ANC < 0.5 ×10^9/L, platelets < 20 ×10^9/L, hemoglobin < 60 g/L (strictly below).
 * - Recovery: the first of 3 consecutive lab days strictly above the threshold (> 0.5, > 20, > 60:
 *   a value exactly at the threshold is neither severe nor recovered); for platelets and red
 *   cells, none of them transfusion-supported (no transfusion in the 7 days before any of them).
 *   G-CSF does not matter for neutrophil recovery.
 * - New-onset: the episode began on or after day 0 (Wang et al. 2021); present at baseline: the value
 *   before lymphodepletion was already severe.
 * - PHT: SN, SA or ST present on day 28.
 */
import { above, below, boundOf, compareMeasured, type Measured } from './bounds.js';
import { boundaries, ctcaeGrade } from './ctcae.js';
import type { Thresholds } from './thresholds.js';
import type {
  AssessmentIssue,
  CtcaeTerm,
  LabDay,
  LabValue,
  LandmarkValue,
  Lineage,
  PersistenceResult,
  SevereCytopenia,
} from './types.js';

export interface EpisodeArgs {
  lineage: Lineage;
  threshold: number;
  unit: string;
  consecutive: number;
  /** Scan from this day (lymphodepletion, or day 0). */
  fromDay: number;
  asOfDay: number;
  baseline: LabValue | undefined;
  /** Infusion instant, to tell day-0 values drawn before the infusion from those after. */
  infusionMs: number | null;
}

/** Severe cytopenia episodes of one lineage, in order. */
export function severeEpisodes(days: readonly LabDay[], a: EpisodeArgs): SevereCytopenia[] {
  const scan = days.filter((d) => d.day >= a.fromDay && d.day <= a.asOfDay);
  const severe = (d: LabDay): boolean => isSevere(d, a.threshold);
  const episodes: SevereCytopenia[] = [];
  let i = 0;
  while (i < scan.length) {
    const start = scan[i];
    if (!start || !severe(start)) {
      i++;
      continue;
    }
    let nadir = start;
    let recovery: LabDay | undefined;
    let j = i + 1;
    for (; j < scan.length; j++) {
      const d = scan[j] as LabDay;
      if (severe(d)) {
        if (compareMeasured(d, nadir) < 0) nadir = d;
        continue;
      }
      if (isRecovery(scan, j, a)) {
        recovery = d;
        break;
      }
    }
    const onsetDay = start.day;
    const newOnset = onsetDay > 0 || (onsetDay === 0 && a.infusionMs !== null && start.ms > a.infusionMs);
    episodes.push({
      lineage: a.lineage,
      newOnset,
      presentAtBaseline: a.baseline !== undefined && isSevere(a.baseline, a.threshold),
      onsetDay,
      nadir: nadir.value,
      ...(nadir.comparator ? { nadirComparator: nadir.comparator } : {}),
      nadirDay: nadir.day,
      unit: a.unit,
      threshold: a.threshold,
      recoveryDay: recovery ? recovery.day : null,
      durationDays: recovery ? recovery.day - onsetDay : a.asOfDay - onsetDay + 1,
      ongoing: !recovery,
      evidence: [...new Set([start.reference, nadir.reference, ...(recovery ? [recovery.reference] : [])])],
    });
    if (!recovery) break;
    i = j; // the recovery day is above the threshold; scanning resumes there
  }
  return episodes;
}

/** An episode's nadir as reported ("<0.1" when it was a bound). */
export const nadirOf = (e: SevereCytopenia): Measured => ({ value: e.nadir, comparator: e.nadirComparator });

/** Severe: strictly below the threshold (Wang et al. 2021); "<0.5" is severe neutropenia. */
export const isSevere = (m: Measured, threshold: number): boolean => below(m, threshold);
/** Recovered: strictly above the threshold (Wang et al. 2021: "> 0.5", "> 20", "> 60 g/L"). */
export const isRecovered = (m: Measured, threshold: number): boolean => above(m, threshold);

/** True when lab day `j` starts `consecutive` own (not transfusion-supported) days above the threshold. */
function isRecovery(scan: readonly LabDay[], j: number, a: EpisodeArgs): boolean {
  if (j + a.consecutive > scan.length) return false; // not yet confirmed
  for (let k = j; k < j + a.consecutive; k++) {
    const d = scan[k] as LabDay;
    if (!isRecovered(d, a.threshold) || d.transfusionSupported) return false;
  }
  return true;
}

export interface PhtResult {
  value: boolean | null;
  byLineage: Record<Lineage, boolean | null>;
  issues: AssessmentIssue[];
}

/**
 * Prolonged hematologic toxicity: SN, SA or ST present on day 28 (Wang et al. 2021). A lineage counts as
 * present when an episode covers day 28 and a severe value of it is measured within the window
 * around day 28; as absent when no episode covers day 28 and a value near it is measured,
 * unless an episode begins within the window after day 28 with no value on day 28 or later before
 * it that is not severe (the values around day 28 then disagree). Otherwise it is unknown and the
 * overall answer is null unless another lineage decides it. Days without a count are never read as
 * severe or as recovered (clinical spec §1): an episode whose last severe value is far before day 28
 * and whose recovery was seen far after it says nothing of day 28.
 */
export function prolongedToxicity(
  episodes: Record<Lineage, SevereCytopenia[]>,
  days: Record<Lineage, readonly LabDay[]>,
  asOfDay: number,
  t: Thresholds,
): PhtResult {
  const landmark = t.pht.day;
  const byLineage: Record<Lineage, boolean | null> = { neutrophil: null, platelet: null, hemoglobin: null };
  const issues: AssessmentIssue[] = [];
  if (asOfDay < landmark) return { value: null, byLineage, issues };
  const window = t.pht.windowDays;
  for (const lineage of ['neutrophil', 'platelet', 'hemoglobin'] as const) {
    const answer = lineageOnLandmark(lineage, episodes[lineage], days[lineage], landmark, window);
    byLineage[lineage] = answer.present;
    if (answer.present === null) issues.push({ severity: 'information', code: 'data-gap', message: answer.why });
  }
  const values = Object.values(byLineage);
  const value = values.some((v) => v === true) ? true : values.every((v) => v === false) ? false : null;
  return { value, byLineage, issues };
}

/** An episode that began on or before `day` and had not recovered by it. */
export const coversDay = (e: SevereCytopenia, day: number): boolean =>
  e.onsetDay <= day && (e.recoveryDay === null || e.recoveryDay > day);

/** Whether one lineage's severe cytopenia is present on the landmark day, or why that is not known. */
function lineageOnLandmark(
  lineage: Lineage,
  episodes: readonly SevereCytopenia[],
  days: readonly LabDay[],
  landmark: number,
  window: number,
): { present: boolean | null; why: string } {
  const cannot = 'prolonged toxicity cannot be judged for this lineage';
  const covering = episodes.find((e) => coversDay(e, landmark));
  if (covering) {
    const until = covering.recoveryDay ?? Infinity;
    const severeNear = days.some(
      (d) => Math.abs(d.day - landmark) <= window && d.day < until && isSevere(d, covering.threshold),
    );
    return severeNear
      ? { present: true, why: '' }
      : {
          present: null,
          why: `${lineage} severe on day ${lastSevereDay(days, covering)}, with no severe value within ${window} days of day ${landmark}: ${cannot}`,
        };
  }
  if (!days.some((d) => Math.abs(d.day - landmark) <= window))
    return { present: null, why: `no ${lineage} value within ${window} days of day ${landmark}: ${cannot}` };
  const next = episodes.find((e) => e.onsetDay > landmark && e.onsetDay <= landmark + window);
  if (next && !days.some((d) => d.day >= landmark && d.day < next.onsetDay && !isSevere(d, next.threshold)))
    return {
      present: null,
      why: `${lineage} severe from day ${next.onsetDay}, with no value from day ${landmark} until then: ${cannot}`,
    };
  return { present: false, why: '' };
}

/** The last day of an episode with a severe value (its onset when it has no other). */
function lastSevereDay(days: readonly LabDay[], e: SevereCytopenia): number {
  const until = e.recoveryDay ?? Infinity;
  let last = e.onsetDay;
  for (const d of days) if (d.day >= e.onsetDay && d.day < until && isSevere(d, e.threshold)) last = d.day;
  return last;
}

export const LINEAGE_TERM: Record<Lineage, 'neutrophils' | 'platelets' | 'hemoglobin'> = {
  neutrophil: 'neutrophils',
  platelet: 'platelets',
  hemoglobin: 'hemoglobin',
};

/**
 * Cytopenia persisting at a landmark (immune-reconstitution thesis follows to 1 year): the CTCAE grade of the value
 * measured closest to the landmark within `window` days (day 90: on or after it; 1 year: either side).
 */
export function persistenceAt(
  landmark: number,
  window: number,
  afterOnly: boolean,
  days: Record<Lineage, readonly LabDay[]>,
  asOfDay: number,
  lln: (term: CtcaeTerm) => number,
  unit: Record<Lineage, string>,
  t: Thresholds,
): PersistenceResult | null {
  if (asOfDay < landmark - (afterOnly ? 0 : window)) return null;
  const pick = (lineage: Lineage): LandmarkValue | null => {
    const candidates = days[lineage].filter((d) =>
      afterOnly ? d.day >= landmark && d.day <= landmark + window : Math.abs(d.day - landmark) <= window,
    );
    const best = candidates.sort((x, y) => Math.abs(x.day - landmark) - Math.abs(y.day - landmark))[0];
    if (!best) return null;
    const term = LINEAGE_TERM[lineage];
    const grade = ctcaeGrade(best, best.lln ?? lln(term), boundaries(term, t));
    const { value, date, day, reference } = best;
    return { value, ...boundOf(best), unit: unit[lineage], date, day, reference, grade };
  };
  return {
    day: landmark,
    neutrophils: pick('neutrophil'),
    platelets: pick('platelet'),
    hemoglobin: pick('hemoglobin'),
  };
}
