/**
 * Blood-count kinetics of synthetic CAR-T patients, following the seeds:
 *  - Wang et al. 2021: severe cytopenia peaks around day 5; new-onset SN 70%, SA 53%, ST 48% (of patients
 *    without it before infusion); PHT (SN/SA/ST on day 28) 25%; CRS 82%, severe CRS 38%;
 *    tocilizumab/steroids in 24/29 severe and 4/33 mild CRS; G-CSF in 87%; RBC transfusion 50%,
 *    platelet transfusion 46%.
 *  - immune-reconstitution thesis: grade ≥3 neutropenia 97% of CR patients; IgA/IgM/IgG decline 86/95/82%;
 *    CD4/CD8 inversion within 14 days 91%; B-cell aplasia in all, median onset day 7 (0–14).
 *  - Rejeski 2021/EHA-EBMT 2023: quick, intermittent (second dip after day 21) and aplastic
 *    neutrophil recovery.
 *
 * Each lineage is planned first (is it severe, from when to when) and values are then drawn on the
 * right side of the threshold with a margin, so the plan is the ground truth of the test cohort.
 */

/** Deterministic PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return Math.floor(this.uniform(lo, hi + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.min(items.length - 1, Math.floor(this.next() * items.length))] as T;
  }
}

export type NeutrophilPhenotype = 'quick' | 'intermittent' | 'aplastic' | 'no-severe-neutropenia';

/** A lineage's plan: severe from `onset` to the day before `recovery` (undefined: never severe). */
export interface SeverePlan {
  severe: boolean;
  /** Present before infusion (onset < 0). */
  beforeInfusion: boolean;
  onset?: number;
  /** First of three days above the threshold; may lie beyond follow-up. */
  recovery?: number;
  /** Intermittent neutrophils: second dip [from, to) after day 21. */
  secondDip?: [number, number];
  /** Transfusion days (platelets, red cells). */
  transfusions: number[];
}

/** The days with a blood count: daily around infusion, then twice weekly, then every two weeks. */
export function labDays(lastDay: number): number[] {
  const days = [-7, -6, -2, -1];
  for (let d = 0; d <= 30; d++) days.push(d);
  for (let d = 33; d <= 90; d += 3.5) days.push(Math.round(d));
  for (let d = 104; d <= 365; d += 14) days.push(d);
  return [...new Set(days)].filter((d) => d <= lastDay).sort((a, b) => a - b);
}

/** Days of immunology samples (immunoglobulins, lymphocyte subsets). */
export function immunologyDays(lastDay: number): number[] {
  return [-6, 7, 14, 28, 60, 90, 120, 150, 180, 270, 365].filter((d) => d <= lastDay);
}

interface LineageParams {
  threshold: number;
  /** Probability of severe cytopenia before infusion (Wang et al. 2021 denominators). */
  pBefore: number;
  /** Probability of new-onset severe cytopenia when not present before (Wang et al. 2021). */
  pNew: number;
  onsetRange: [number, number];
  durationRange: [number, number];
}

export const SN: LineageParams = {
  threshold: 0.5,
  pBefore: 20 / 76,
  pNew: 0.7,
  onsetRange: [1, 4],
  durationRange: [5, 11],
};
export const ST: LineageParams = {
  threshold: 20,
  pBefore: 12 / 76,
  pNew: 0.48,
  onsetRange: [4, 9],
  durationRange: [5, 12],
};
export const SA: LineageParams = {
  threshold: 60,
  pBefore: 10 / 76,
  pNew: 0.53,
  onsetRange: [5, 10],
  durationRange: [6, 13],
};

/**
 * Plans one lineage from the seed-002 probabilities (`force` pins severe or not, new-onset).
 * Without PHT every episode ends by day 26, so day 28 is clearly above the threshold.
 */
export function planLineage(rng: Rng, p: LineageParams, force?: boolean): SeverePlan {
  const before = force === undefined ? rng.chance(p.pBefore) : false;
  const severe = force ?? (before || rng.chance(p.pNew));
  if (!severe) return { severe: false, beforeInfusion: false, transfusions: [] };
  const onset = before ? rng.int(-2, -1) : rng.int(p.onsetRange[0], p.onsetRange[1]);
  const recovery = Math.min(26, onset + rng.int(p.durationRange[0], p.durationRange[1]));
  return { severe: true, beforeInfusion: before, onset, recovery, transfusions: [] };
}

/** Makes a lineage's episode last beyond day 28 (prolonged hematologic toxicity, Wang et al. 2021). */
export function persistPastDay28(rng: Rng, plan: SeverePlan, p: LineageParams): void {
  if (!plan.severe) {
    plan.severe = true;
    plan.onset = rng.int(p.onsetRange[0], p.onsetRange[1]);
  }
  plan.recovery = rng.int(31, 60);
}

/** Places transfusions inside an episode, the last at least 8 days before recovery (CIBMTR: 7 transfusion-free days). */
export function planTransfusions(rng: Rng, plan: SeverePlan, probability: number, lastDay: number): void {
  if (!plan.severe || plan.onset === undefined || plan.recovery === undefined) return;
  const end = Math.min(plan.recovery - 8, lastDay);
  for (let d = Math.max(plan.onset + 1, 0); d <= end; d += rng.int(4, 6)) {
    if (rng.chance(probability)) plan.transfusions.push(d);
  }
}

/**
 * Draws a lineage's value on `day`: below the threshold (with margin) inside the severe episode,
 * above it outside, shaped by a nadir near day 5 and a slow return to `baseline`.
 */
export function lineageValue(
  rng: Rng,
  plan: SeverePlan,
  day: number,
  args: { baseline: number; threshold: number; nadirAbove: number; floor: number; bump: number },
): number {
  const { baseline, threshold, nadirAbove, floor, bump } = args;
  const inEpisode = (d: number): boolean =>
    plan.severe && plan.onset !== undefined && d >= plan.onset && d < (plan.recovery ?? Infinity);
  const inDip = (d: number): boolean => plan.secondDip !== undefined && d >= plan.secondDip[0] && d < plan.secondDip[1];
  const noise = rng.uniform(0.93, 1.07);
  // Transfusion support: the day after a transfusion and the next, the count is raised above the threshold.
  const supported = plan.transfusions.some((t) => day > t && day <= t + 2);
  if (supported) return round(threshold + bump * rng.uniform(0.6, 1.0));
  if (day < -5) return round(baseline * noise);
  if (inEpisode(day) || inDip(day)) {
    const depth = Math.max(floor, threshold * rng.uniform(0.15, 0.75));
    return round(Math.min(depth, threshold * 0.9));
  }
  // Outside an episode: between the nadir level and the baseline, never within 10% of the threshold.
  let level: number;
  if (day < 0) level = Math.max(nadirAbove, baseline * (day <= -3 ? 0.9 : 0.65));
  else if (day <= 10) level = nadirAbove + ((baseline - nadirAbove) * Math.abs(day - 5)) / 10;
  else level = nadirAbove + (baseline - nadirAbove) * Math.min(1, (day - 5) / 25);
  return round(Math.max(level * noise, threshold * 1.12));
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
