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
    label: 'EHA/EBMT ICAHT consensus, Rejeski et al., Blood 2023;142:865',
    url: 'https://doi.org/10.1182/blood.2023020578',
  },
  tIcaht: { label: 'T-ICAHT, Rejeski et al., Blood 2025', url: 'https://doi.org/10.1182/blood.2025028833' },
  hematotox: {
    label: 'CAR-HEMATOTOX, Rejeski et al., Blood 2021;138:2499',
    url: 'https://doi.org/10.1182/blood.2020010543',
  },
  ivig: {
    label: 'Hill et al., Immunoglobulin replacement after CAR-T, Blood Rev 2019',
    url: 'https://pubmed.ncbi.nlm.nih.gov/?term=CAR-T+and+a+side+order+of+IgG+Hill+Giralt',
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
  /** CTCAE v5.0 grade boundaries: a value strictly below a boundary has at least that grade. */
  ctcae: obj({
    neutrophils: obj({ grade2: positive.default(1.5), grade3: positive.default(1.0), grade4: positive.default(0.5) }),
    platelets: obj({ grade2: positive.default(75), grade3: positive.default(50), grade4: positive.default(25) }),
    hemoglobin: obj({ grade2: positive.default(100), grade3: positive.default(80) }),
    wbc: obj({ grade2: positive.default(3.0), grade3: positive.default(2.0), grade4: positive.default(1.0) }),
    lymphocytes: obj({ grade2: positive.default(0.8), grade3: positive.default(0.5), grade4: positive.default(0.2) }),
  }),
  /** Severe cytopenia: value strictly below (Wang et al. 2021, CIBMTR). */
  severe: obj({ anc: positive.default(0.5), platelets: positive.default(20), hemoglobin: positive.default(60) }),
  recovery: obj({
    /** Recovery = first of N consecutive lab days above the severe threshold (Wang et al. 2021). */
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
    early: obj({
      lastDay: day.default(30),
      anc500: positive.default(0.5),
      anc100: positive.default(0.1),
      /** Days above threshold shorter than this do not end a run (non-stable recovery). */
      stableRecoveryDays: days.default(3),
    }),
    late: obj({
      firstDay: day.default(31),
      grade1: positive.default(1.5),
      grade2: positive.default(1.0),
      grade3: positive.default(0.5),
      grade4: positive.default(0.1),
      /** Non-transient: confirmed by this many consecutive measurements. */
      confirmations: days.default(2),
    }),
    thrombocytopenia: obj({
      early50: positive.default(50),
      early20: positive.default(20),
      lateLastDay: day.default(100),
      late100: positive.default(100),
      late50: positive.default(50),
      late20: positive.default(20),
    }),
    /** Intermittent phenotype: a second dip after recovery, after this day (Rejeski 2021/EHA-EBMT). */
    biphasicAfterDay: day.default(21),
    aplasticDays: days.default(14),
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
    gcsfAnc: positive.default(0.5),
    gcsfRecentDays: z.number().int().min(0).default(2),
    gcsfProphylaxisFromDay: day.default(0),
    gcsfProphylaxisToDay: day.default(2),
    /** Prophylactic G-CSF starts on this day (EHA/EBMT 2023: from day +2 when CAR-HEMATOTOX is high). */
    gcsfProphylaxisStartDay: day.default(2),
    redCellHemoglobin: positive.default(60),
    plateletCount: positive.default(20),
    ivigIgg: positive.default(400),
    workupIcahtGrade: z.number().int().min(1).max(4).default(3),
    irradiatedFromDay: day.default(-7),
    irradiatedToDay: day.default(90),
    /** A lab older than this many days does not trigger an action card (it is shown as stale). */
    maxLabAgeDays: z.number().int().min(0).default(3),
    /** Days of CAR-T follow-up in which the service gives cards at all. */
    followUpDays: days.default(400),
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

/** Grade boundaries must shrink with grade, or a grade could be skipped. */
function orderingProblems(t: Thresholds): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  for (const [name, g] of Object.entries(t.ctcae)) {
    const bounds = [g.grade2, g.grade3, 'grade4' in g ? g.grade4 : 0];
    for (let i = 1; i < bounds.length; i++) {
      if ((bounds[i] ?? 0) >= (bounds[i - 1] ?? 0))
        out.push({ path: ['ctcae', name], message: 'grade boundaries must decrease from grade 2 to grade 4' });
    }
  }
  const late = t.icaht.late;
  if (!(late.grade1 > late.grade2 && late.grade2 > late.grade3 && late.grade3 > late.grade4)) {
    out.push({ path: ['icaht', 'late'], message: 'late ICAHT boundaries must decrease from grade 1 to grade 4' });
  }
  if (t.hematotox.plateletsLow >= t.hematotox.plateletsHigh)
    out.push({ path: ['hematotox', 'plateletsLow'], message: 'must be below plateletsHigh' });
  if (t.hematotox.ferritinLow >= t.hematotox.ferritinHigh)
    out.push({ path: ['hematotox', 'ferritinLow'], message: 'must be below ferritinHigh' });
  return out;
}

function leafPaths(raw: unknown, prefix = ''): string[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return prefix ? [prefix] : [];
  return Object.entries(raw as Record<string, unknown>).flatMap(([k, v]) =>
    leafPaths(v, prefix ? `${prefix}.${k}` : k),
  );
}

/** The IVIG review threshold for this patient: the pediatric target under `pediatricAgeYears`. */
export function ivigThreshold(
  t: Thresholds,
  ageYears: number | null,
): { value: number; path: string; pediatric: boolean } {
  const pediatric = ageYears !== null && ageYears < t.immunoglobulins.pediatricAgeYears;
  return pediatric
    ? { value: t.immunoglobulins.iggIvigPediatric, path: 'immunoglobulins.iggIvigPediatric', pediatric }
    : { value: t.actions.ivigIgg, path: 'actions.ivigIgg', pediatric };
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
