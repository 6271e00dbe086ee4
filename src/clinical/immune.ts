/**
 * Immune reconstitution (immune-reconstitution thesis; docs/clinical-logic.md §8): immunoglobulin decline and the IVIG
 * threshold, B-cell aplasia onset and loss, CD4/CD8 inversion and low CD4.
 */
import {
  atOrBelow,
  above,
  below,
  compareMeasured,
  quotient,
  roundScaled,
  valuePoint as point,
  type Measured,
} from './bounds.js';
import { lastOfLatestDate } from './dates.js';
import type { Thresholds } from './thresholds.js';
import type { BCellAplasiaResult, Cd4Cd8Result, ImmunoglobulinResult, LabValue } from './types.js';

/**
 * Decline versus baseline. A decline is a fall of at least `declinePct` percent, so that assay
 * noise is not called a decline (immune-reconstitution thesis reports declines without a cut-off; 10% is our choice).
 */
export function immunoglobulin(
  baseline: LabValue | undefined,
  latest: LabValue | undefined,
  dayOf: (date: string) => number | null,
  ivigThreshold: number | null,
  declinePct: number,
): ImmunoglobulinResult {
  // The change is latest ÷ baseline − 1: reported bounds carry over ("<200" against 400 is a fall of
  // more than 50 %), and two that pull the same way leave it unknown (docs/clinical-logic.md §3).
  const ratio = baseline && latest && baseline.value > 0 ? quotient(latest, baseline) : undefined;
  const change: Measured | undefined =
    ratio && baseline && latest
      ? {
          value: roundScaled(((latest.value - baseline.value) / baseline.value) * 1000, ratio.comparator) / 10,
          comparator: ratio.comparator,
        }
      : undefined;
  return {
    baseline: baseline ? point(baseline, dayOf(baseline.date)) : null,
    latest: latest ? point(latest, dayOf(latest.date)) : null,
    changePct: change ? change.value : null,
    ...(change?.comparator ? { changeComparator: change.comparator } : {}),
    decline: change ? atOrBelow(change, -declinePct) : null,
    belowIvigThreshold: latest && ivigThreshold !== null ? below(latest, ivigThreshold) : null,
  };
}

interface Cd19Sample {
  day: number;
  date: string;
  /** The day's lowest, with its comparator when reported as a bound ("<1"). */
  percent?: Measured;
  absolute?: Measured;
  reference: string;
}

/** CD19 samples after infusion, percent and absolute values of one day combined. */
export function cd19Samples(
  percent: readonly LabValue[],
  absolute: readonly LabValue[],
  dayOf: (date: string) => number,
): Cd19Sample[] {
  const byDay = new Map<number, Cd19Sample>();
  for (const [values, key] of [
    [percent, 'percent'],
    [absolute, 'absolute'],
  ] as const) {
    for (const v of values) {
      const day = dayOf(v.date);
      if (day < 0) continue;
      const s = byDay.get(day) ?? { day, date: v.date, reference: v.reference };
      const kept = s[key];
      // The lowest of the day ("<1" before 1).
      if (kept === undefined || compareMeasured(v, kept) < 0) s[key] = { value: v.value, comparator: v.comparator };
      byDay.set(day, s);
    }
  }
  return [...byDay.values()].sort((a, b) => a.day - b.day);
}

/**
 * B-cell aplasia: CD19+ < 1% of lymphocytes and/or < 100 cells/µL, each criterion where measured.
 * Onset is the first such sample after infusion; loss needs `lossConfirmations` consecutive samples
 * above the cut-off (a sample at it is neither). Loss within 6 months after tisagenlecleucel predicts relapse.
 */
export function bCellAplasia(
  samples: readonly Cd19Sample[],
  product: string | null,
  t: Thresholds['bCellAplasia'],
): BCellAplasiaResult {
  const aplastic = (s: Cd19Sample): boolean =>
    (s.percent === undefined || below(s.percent, t.cd19Percent)) &&
    (s.absolute === undefined || below(s.absolute, t.cd19Absolute));
  // Loss needs samples above the cut-off (clinical spec §6): one at it (1.0 %) is no longer aplastic, nor a return.
  const returned = (s: Cd19Sample): boolean =>
    (s.percent !== undefined && above(s.percent, t.cd19Percent)) ||
    (s.absolute !== undefined && above(s.absolute, t.cd19Absolute));
  const empty: BCellAplasiaResult = {
    present: null,
    onsetDay: null,
    lossDay: null,
    lossUnconfirmed: false,
    lossPredictsRelapse: false,
  };
  if (samples.length === 0) return empty;
  const onsetIndex = samples.findIndex(aplastic);
  const last = samples.at(-1) as Cd19Sample;
  const latest = {
    day: last.day,
    date: last.date,
    reference: last.reference,
    ...(last.percent !== undefined ? { percent: last.percent.value } : {}),
    ...(last.percent?.comparator ? { percentComparator: last.percent.comparator } : {}),
    ...(last.absolute !== undefined ? { absolute: last.absolute.value } : {}),
    ...(last.absolute?.comparator ? { absoluteComparator: last.absolute.comparator } : {}),
  };
  if (onsetIndex < 0) return { ...empty, present: false, latest };
  let lossDay: number | null = null;
  let unconfirmed = false;
  for (let i = onsetIndex + 1; i < samples.length; i++) {
    if (!returned(samples[i] as Cd19Sample)) continue;
    const run = samples.slice(i, i + t.lossConfirmations);
    if (run.length === t.lossConfirmations && run.every(returned)) {
      lossDay = samples[i]?.day ?? null;
      break;
    }
    if (run.length < t.lossConfirmations) unconfirmed = true;
  }
  return {
    present: lossDay === null,
    onsetDay: samples[onsetIndex]?.day ?? null,
    lossDay,
    lossUnconfirmed: unconfirmed && lossDay === null,
    lossPredictsRelapse: lossDay !== null && lossDay <= t.relapseWindowDays && product === 'tisagenlecleucel',
    latest,
  };
}

/**
 * CD4/CD8 ratio < 1 (immune-reconstitution thesis: inverted within 14 days in 91%) from a measured ratio or from CD4
 * and CD8 of the same day (both counts or both percentages); CD4 < 0.2 ×10^9/L keeps antiviral
 * prophylaxis indicated (EHA/EBMT).
 */
export function cd4cd8(
  values: {
    ratio: readonly LabValue[];
    cd4Abs: readonly LabValue[];
    cd8Abs: readonly LabValue[];
    cd4Pct: readonly LabValue[];
    cd8Pct: readonly LabValue[];
  },
  dayOf: (date: string) => number,
  cd4Low: number,
): Cd4Cd8Result {
  // A measured ratio keeps its comparator ("<1" is inverted); one derived from CD4 and CD8 carries the
  // bound that follows from theirs ("<0.05" ÷ 0.4 is "<0.125"), and is not known when both are upper
  // or both lower bounds (docs/clinical-logic.md §3).
  const byDay = new Map<number, Measured>();
  const unknownDays: number[] = [];
  for (const v of values.ratio) byDay.set(dayOf(v.date), { value: v.value, comparator: v.comparator });
  for (const [cd4, cd8] of [
    [values.cd4Abs, values.cd8Abs],
    [values.cd4Pct, values.cd8Pct],
  ] as const) {
    const eight = new Map(cd8.map((v) => [v.date, v]));
    for (const v of cd4) {
      const d = dayOf(v.date);
      const denominator = eight.get(v.date);
      if (byDay.has(d) || !denominator || denominator.value <= 0) continue;
      const ratio = quotient(v, denominator);
      if (ratio) byDay.set(d, ratio);
      else unknownDays.push(d);
    }
  }
  const post = [...byDay.entries()].filter(([d]) => d >= 0).sort((a, b) => a[0] - b[0]);
  // The latest CD4 after infusion (values in time order): one from before says nothing of prophylaxis now.
  const lastCd4 = lastOfLatestDate(values.cd4Abs);
  const latestCd4 = lastCd4 && dayOf(lastCd4.date) >= 0 ? lastCd4 : undefined;
  // A later day whose ratio is not known is said: the latest known ratio is then not today's.
  const lastKnown = post.at(-1)?.[0] ?? -1;
  const unknownAfter = unknownDays.filter((d) => d > lastKnown && !byDay.has(d));
  const unknown = unknownAfter.length > 0 ? { ratioUnknownDay: Math.max(...unknownAfter) } : {};
  if (post.length === 0)
    return {
      inverted: null,
      onsetDay: null,
      latestRatio: null,
      ...unknown,
      cd4Low: latestCd4 ? below(latestCd4, cd4Low) : null,
    };
  const onset = post.find(([, r]) => below(r, 1));
  const [, ratio] = post.at(-1) as [number, Measured];
  return {
    inverted: below(ratio, 1),
    onsetDay: onset ? onset[0] : null,
    latestRatio: roundScaled(ratio.value * 100, ratio.comparator) / 100,
    ...(ratio.comparator ? { latestRatioComparator: ratio.comparator } : {}),
    ...unknown,
    cd4Low: latestCd4 ? below(latestCd4, cd4Low) : null,
  };
}
