/**
 * Every threshold the engine uses, its default and its source (docs/clinical-logic.md,
 * §11 Sources). A hospital overrides any of them with a thresholds file; the parsed
 * result remembers which values were overridden so every card can say which threshold was in force.
 */
import { z } from 'zod';

export interface SourceRef {
  label: string;
  url?: string;
}

export const SOURCES = {
  ctcae: {
    label: 'NCI CTCAE v5.0',
    url: 'https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm',
  },
  seed000: {
    label:
      'Hematologic toxicity and immune reconstitution after CD19 CAR-T in r/r B-ALL, 52 patients (doctoral thesis, 2016–2020 cohort)',
    url: 'https://www.globethesis.com/?t=2504306773454584',
  },
  seed001: {
    label:
      'Cytokines and coagulation in severe CRS after CAR-T in r/r B-ALL, 55 patients (doctoral thesis, 2016–2019 cohort)',
    url: 'https://www.globethesis.com/?t=2404330614468377',
  },
  seed002: {
    label: 'Wang et al., New-onset severe cytopenia after CAR-T in r/r ALL, Front Oncol 2021;11:702644',
    url: 'https://doi.org/10.3389/fonc.2021.702644',
  },
  seed003: {
    label:
      'Survival and severe CRS after CD19 CAR-T in r/r B-ALL (NCT02349698), ASH 2020 abstract, Blood 2020;136(Suppl 1):9',
    url: 'https://ashpublications.org/blood/article/136/Supplement%201/9/473767',
  },
  seed004: {
    label: 'Li et al., CAR-T in Chinese r/r B-ALL, Cell Death Dis 2020;11:207',
    url: 'https://doi.org/10.1038/s41419-020-2388-1',
  },
  ehaEbmt: {
    label:
      'Rejeski et al., EHA/EBMT consensus on immune effector cell-associated hematotoxicity (ICAHT), Blood 2023;142:865',
    url: 'https://doi.org/10.1182/blood.2023020578',
  },
  tIcaht: {
    label: 'Rejeski et al., thrombocytopenia after CAR-T (T-ICAHT grading), Blood 2025',
    url: 'https://doi.org/10.1182/blood.2025028833',
  },
  hematotox: {
    label: 'CAR-HEMATOTOX, Rejeski et al., Blood 2021;138:2499',
    url: 'https://doi.org/10.1182/blood.2020010543',
  },
  ivig: {
    label:
      'Hill et al., CAR-T – and a side order of IgG, to go? Immunoglobulin replacement after CAR-T, Blood Rev 2019;38:100596',
    url: 'https://doi.org/10.1016/j.blre.2019.100596',
  },
  bCellRelapse: {
    label:
      'Pulsipher et al., NGS minimal residual disease and B-cell aplasia predicting relapse after tisagenlecleucel for ALL, Blood Cancer Discov 2022;3:66',
    url: 'https://doi.org/10.1158/2643-3230.BCD-21-0095',
  },
  astct: {
    label: 'ASTCT consensus CRS grading, Lee et al., Biol Blood Marrow Transplant 2019',
    url: 'https://doi.org/10.1016/j.bbmt.2018.12.758',
  },
  local: { label: 'Hospital setting' },
} as const satisfies Record<string, SourceRef>;

const positive = z.number().positive();
const day = z.number().int();
const days = z.number().int().min(1);

/** A strict object whose missing fields take their defaults (an absent section is `{}`). */
// eslint-disable-next-line @typescript-eslint/explicit-function-return-type -- the zod type is the point
function obj<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape).prefault({} as never);
}

/** The thresholds file schema: every field optional, every default spelled out here. */
export const thresholdsSchema = obj({
  /** The hospital protocol cited on cards for the values it changed (label, optional https URL). */
  source: z
    .strictObject({ label: z.string().min(1).max(200), url: z.url({ protocol: /^https$/ }).optional() })
    .optional(),
  /** Lower limits of normal when Observation.referenceRange.low is absent (docs/clinical-logic.md §4). */
  lln: obj({
    anc: positive.default(1.8),
    platelets: positive.default(150),
    hemoglobinMale: positive.default(120),
    hemoglobinFemale: positive.default(110),
    wbc: positive.default(4.0),
    lymphocytes: positive.default(1.0),
  }),
  /**
   * The count cut-offs, one setting per clinical number, used by every rule it belongs to
   * (docs/clinical-logic.md §3). Each rule states its own comparator: CTCAE and "severe" are
   * strictly below (<), ICAHT is at or below (≤), recovery is strictly above (>).
   */
  counts: obj({
    neutrophils: obj({
      /** CTCAE grade 2 (< 1.5) and late ICAHT grade 1 (≤ 1.5). */
      ctcaeGrade2: positive.default(1.5),
      /** CTCAE grade 3 (< 1.0) and late ICAHT grade 2 (≤ 1.0). */
      ctcaeGrade3: positive.default(1.0),
      /** Severe neutropenia and CTCAE grade 4 (< 0.5), G-CSF; early ICAHT and late ICAHT grade 3 (≤ 0.5); recovery (> 0.5). */
      severe: positive.default(0.5),
      /** Early ICAHT grades 3–4 by days ≤ 0.1, late ICAHT grade 4 (≤ 0.1). */
      profound: positive.default(0.1),
    }),
    platelets: obj({
      /** Late T-ICAHT grade 1 (< 100). */
      lateTIcahtGrade1: positive.default(100),
      /** CTCAE grade 2 (< 75). */
      ctcaeGrade2: positive.default(75),
      /** CTCAE grade 3 (< 50); T-ICAHT grades 1–2 (< 50). */
      ctcaeGrade3: positive.default(50),
      /** CTCAE grade 4 (< 25). */
      ctcaeGrade4: positive.default(25),
      /** Severe thrombocytopenia (< 20), T-ICAHT grades 3–4 (< 20), platelet transfusion review; recovery (> 20). */
      severe: positive.default(20),
    }),
    hemoglobin: obj({
      /** g/L. CTCAE grade 2 (< 100). */
      ctcaeGrade2: positive.default(100),
      /** CTCAE grade 3 (< 80). */
      ctcaeGrade3: positive.default(80),
      /** Severe anemia (< 60), red cell transfusion review; recovery (> 60). */
      severe: positive.default(60),
    }),
    wbc: obj({
      ctcaeGrade2: positive.default(3.0),
      ctcaeGrade3: positive.default(2.0),
      ctcaeGrade4: positive.default(1.0),
    }),
    lymphocytes: obj({
      ctcaeGrade2: positive.default(0.8),
      ctcaeGrade3: positive.default(0.5),
      ctcaeGrade4: positive.default(0.2),
    }),
  }),
  recovery: obj({
    /**
     * Recovery = first of N consecutive lab days above the severe threshold (Wang et al. 2021, CIBMTR);
     * the same N makes a rise "stable" in ICAHT counting (shorter rises count as days below, EHA/EBMT).
     */
    consecutiveDays: days.default(3),
    /** Platelet and red cell recovery: no such transfusion in the N days before (CIBMTR, T-ICAHT). */
    transfusionFreeDays: days.default(7),
  }),
  /** Gap days count as below a threshold only between two values below it, at most N days apart (docs/clinical-logic.md §2). */
  maxGapDays: days.default(3),
  baseline: obj({
    /** Baseline = last value before lymphodepletion (or before day 0) within N days (docs/clinical-logic.md §2). */
    lookbackDays: days.default(30),
    /** Lymphodepletion is looked for in the N days before day 0. */
    lymphodepletionWindowDays: days.default(14),
    /** Immunoglobulins and lymphocyte subsets are sampled less often: a longer look-back. */
    immunologyLookbackDays: days.default(90),
  }),
  pht: obj({ day: day.default(28), windowDays: z.number().int().min(0).default(3) }),
  persistence: obj({
    day90: day.default(90),
    day90WindowDays: days.default(30),
    year1: day.default(365),
    year1WindowDays: days.default(30),
  }),
  icaht: obj({
    /** Early ICAHT and early T-ICAHT cover days 0..earlyLastDay; late ICAHT starts the day after. */
    earlyLastDay: day.default(30),
    /**
     * The two durations ICAHT grades are built on (EHA/EBMT 2023 Table 1; T-ICAHT 2025 Table 1):
     * `short` days ≤ 0.5 → grade 2, ≤ 0.1 → grade 3, PLT < 50 → T-ICAHT 2; `long` days ≤ 0.5 → grade 3,
     * ≤ 0.1 → grade 4, PLT < 20 → T-ICAHT 4 (early and late), and the aplastic phenotype (Rejeski 2021).
     */
    durationDays: obj({ short: days.default(7), long: days.default(14) }),
    /** Grade 4 "no recovery": ANC ≤ 0.5 from day N at the latest and no stable recovery by earlyLastDay (docs §6). */
    noRecoveryOnsetByDay: day.default(3),
    /** Late ICAHT and late T-ICAHT: a cut-off counts when met by at least N measurements in the window. */
    lateConfirmations: days.default(2),
    /** Late N-ICAHT is graded up to this day; null = no end (EHA/EBMT: "after day +30"; Liang et al. stop at +100). */
    lateLastDay: day.nullable().default(null),
    /** Late T-ICAHT is graded up to this day (T-ICAHT paper: day +100). */
    lateTIcahtLastDay: day.default(100),
    /** Intermittent phenotype: a second dip after recovery, after this day (Rejeski 2021/EHA-EBMT). */
    biphasicAfterDay: day.default(21),
  }),
  hematotox: obj({
    plateletsLow: positive.default(75),
    plateletsHigh: positive.default(175),
    anc: positive.default(1.2),
    hemoglobin: positive.default(90),
    crp: positive.default(3.0),
    ferritinLow: positive.default(650),
    ferritinHigh: positive.default(2000),
    highRiskScore: z.number().int().min(1).default(2),
  }),
  immunoglobulins: obj({
    iggIvigPediatric: positive.default(400),
    pediatricAgeYears: z.number().int().min(1).default(18),
    /** An IgG measured within N days after IVIG reflects the infusion. */
    ivigRecentDays: days.default(28),
    /** A fall of at least this many percent from baseline is a decline (immune-reconstitution thesis gives no cut-off). */
    declinePct: positive.default(10),
  }),
  bCellAplasia: obj({
    cd19Percent: positive.default(1),
    /** 10^9/L; 0.1 = 100 cells/µL. */
    cd19Absolute: positive.default(0.1),
    lossConfirmations: days.default(2),
    relapseWindowDays: days.default(183),
  }),
  cd4: obj({ low: positive.default(0.2) }),
  actions: obj({
    /** A G-CSF dose in the last N days counts as "on G-CSF". */
    gcsfRecentDays: z.number().int().min(0).default(2),
    /**
     * A long-acting G-CSF dose (pegfilgrastim) in the last N days counts as "on G-CSF": one dose is
     * given per chemotherapy cycle, not within 14 days before the next (Neulasta prescribing information).
     */
    longActingGcsfDays: z.number().int().min(0).default(14),
    /** The prophylaxis card shows from this day to gcsfProphylaxisStartDay. */
    gcsfProphylaxisFromDay: day.default(0),
    /** Prophylactic G-CSF starts on this day (EHA/EBMT 2023: from day +2 when CAR-HEMATOTOX is high). */
    gcsfProphylaxisStartDay: day.default(2),
    /**
     * The G-CSF cards for severe neutropenia (`g-csf`, `neutropenia-on-gcsf`) need an ANC of this day or
     * later (EHA/EBMT 2023, Table 3: G-CSF from day +2, therapeutic G-CSF for prolonged neutropenia). A count
     * below 0.5 on day 0 or +1, one drawn before the infusion included, asks for no G-CSF yet.
     */
    gcsfTreatmentFromDay: day.default(2),
    /** Red cell transfusion trigger (g/L); absent = severe anemia (counts.hemoglobin.severe). Some centres use 70–80. */
    redCellHemoglobin: positive.optional(),
    /** Platelet transfusion trigger (10^9/L); absent = severe thrombocytopenia (counts.platelets.severe). Some use 10. */
    plateletCount: positive.optional(),
    /** Filgrastim dose (µg/kg/day) the G-CSF cards propose (EHA/EBMT 2023: 5 µg/kg/day). */
    filgrastimUgPerKg: positive.default(5),
    ivigIgg: positive.default(400),
    workupIcahtGrade: z.number().int().min(1).max(4).default(3),
    /** A lab older than this many days does not trigger an action card (it is shown as stale). */
    maxLabAgeDays: z.number().int().min(0).default(3),
    /** Days of CAR-T follow-up in which the service gives cards at all. */
    followUpDays: days.default(400),
  }),
  /** Irradiated cellular blood products (EHA/EBMT 2023): from N days before leukapheresis to a day after CAR-T. */
  irradiation: obj({
    daysBeforeLeukapheresis: days.default(7),
    /** When no leukapheresis is recorded, the window starts on this day of the infusion (said on the card). */
    fallbackFromDay: day.default(-7),
    /** Last day (after infusion) of the window; null = for life (some centres irradiate for life). */
    untilDay: day.nullable().default(90),
  }),
});

export type Thresholds = z.output<typeof thresholdsSchema>;

export interface HospitalThresholds {
  values: Thresholds;
  /** Dotted paths the hospital changed (e.g. `actions.redCellHemoglobin`). */
  overridden: ReadonlySet<string>;
}

export const DEFAULT_THRESHOLDS: Thresholds = thresholdsSchema.parse({});

/** Parses a hospital thresholds document; throws a ZodError naming the bad fields. */
export function parseThresholds(raw: unknown): HospitalThresholds {
  const values = thresholdsSchema.parse(raw ?? {});
  const problems = orderingProblems(values);
  if (problems.length > 0) {
    throw new z.ZodError(problems.map((p) => ({ code: 'custom', path: p.path, message: p.message, input: undefined })));
  }
  return { values, overridden: new Set(leafPaths(raw)) };
}

export const DEFAULT_HOSPITAL_THRESHOLDS: HospitalThresholds = { values: DEFAULT_THRESHOLDS, overridden: new Set() };

/** Cut-offs must shrink from the mildest to the most severe, or a grade could be skipped. */
function orderingProblems(t: Thresholds): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  for (const [name, cutoffs] of Object.entries(t.counts)) {
    const values = Object.values(cutoffs);
    const keys = Object.keys(cutoffs);
    for (let i = 1; i < values.length; i++) {
      if ((values[i] ?? 0) >= (values[i - 1] ?? 0))
        out.push({ path: ['counts', name, keys[i] ?? ''], message: `must be below ${keys[i - 1] ?? ''}` });
    }
  }
  const d = t.icaht.durationDays;
  if (d.short >= d.long) out.push({ path: ['icaht', 'durationDays', 'short'], message: 'must be below long' });
  if (t.icaht.noRecoveryOnsetByDay >= t.icaht.earlyLastDay)
    out.push({ path: ['icaht', 'noRecoveryOnsetByDay'], message: 'must be before earlyLastDay' });
  if (t.hematotox.plateletsLow >= t.hematotox.plateletsHigh)
    out.push({ path: ['hematotox', 'plateletsLow'], message: 'must be below plateletsHigh' });
  if (t.hematotox.ferritinLow >= t.hematotox.ferritinHigh)
    out.push({ path: ['hematotox', 'ferritinLow'], message: 'must be below ferritinHigh' });
  return out;
}

/** A transfusion trigger in force: the hospital's own when set, else the severe threshold it defaults to. */
export function transfusionTrigger(t: Thresholds, product: 'red-cell' | 'platelet'): { value: number; path: string } {
  return product === 'red-cell'
    ? t.actions.redCellHemoglobin !== undefined
      ? { value: t.actions.redCellHemoglobin, path: 'actions.redCellHemoglobin' }
      : { value: t.counts.hemoglobin.severe, path: 'counts.hemoglobin.severe' }
    : t.actions.plateletCount !== undefined
      ? { value: t.actions.plateletCount, path: 'actions.plateletCount' }
      : { value: t.counts.platelets.severe, path: 'counts.platelets.severe' };
}

function leafPaths(raw: unknown, prefix = ''): string[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return prefix ? [prefix] : [];
  return Object.entries(raw as Record<string, unknown>).flatMap(([k, v]) =>
    leafPaths(v, prefix ? `${prefix}.${k}` : k),
  );
}

/**
 * The IVIG review threshold for this patient: the pediatric target under `pediatricAgeYears`. With
 * `ageStraddles` (a birth date without a day leaves the patient one of two ages, one on each side of
 * the pediatric age), the higher of the two targets, so that neither age's review is missed.
 */
export function ivigThreshold(
  t: Thresholds,
  ageYears: number | null,
  ageStraddles = false,
): { value: number; path: string; pediatric: boolean } {
  const child = {
    value: t.immunoglobulins.iggIvigPediatric,
    path: 'immunoglobulins.iggIvigPediatric',
    pediatric: true,
  };
  const adult = { value: t.actions.ivigIgg, path: 'actions.ivigIgg', pediatric: false };
  if (ageStraddles) return child.value >= adult.value ? child : adult;
  return ageYears !== null && ageYears < t.immunoglobulins.pediatricAgeYears ? child : adult;
}

/** The source to cite for a threshold: the hospital when it changed the value, else `defaultSource`. */
export function sourceFor(thresholds: HospitalThresholds, path: string, defaultSource: SourceRef): SourceRef {
  if (!thresholds.overridden.has(path)) return defaultSource;
  const hospital = thresholds.values.source;
  const url = hospital?.url ?? defaultSource.url;
  return {
    label: `${hospital?.label ?? SOURCES.local.label} (default from ${defaultSource.label})`,
    ...(url ? { url } : {}),
  };
}

/**
 * The days of Observations a record needs on the last day of follow-up (LOOKBACK_DAYS): the follow-up
 * itself, the lymphodepletion window before day 0 and the baseline look-back before it (the longer of
 * the laboratory's and the immunology's). With the defaults, 400 + 14 + 90 = 504: a shorter window left
 * a patient read from fhirServer without baselines from about day +300 (their IgG change and
 * CAR-HEMATOTOX gone), while a prefetch, not date-bounded, kept them.
 */
export function requiredLookbackDays(t: Thresholds): number {
  return (
    t.actions.followUpDays +
    t.baseline.lymphodepletionWindowDays +
    Math.max(t.baseline.lookbackDays, t.baseline.immunologyLookbackDays)
  );
}
