/**
 * The assessment contract and the engine's internal value types.
 *
 * Days are relative to day 0 (the CAR-T infusion). Counts are in 10^9/L, hemoglobin in g/L,
 * immunoglobulins in mg/dL, CRP in mg/dL, ferritin in ng/mL.
 */
import type { SourceRef } from './thresholds.js';

export type Grade = 0 | 1 | 2 | 3 | 4;
export type Lineage = 'neutrophil' | 'platelet' | 'hemoglobin';
export type CtcaeTerm = 'neutrophils' | 'platelets' | 'hemoglobin' | 'wbc' | 'lymphocytes';

export type Analyte =
  | 'anc'
  | 'platelets'
  | 'hemoglobin'
  | 'wbc'
  | 'lymphocytes'
  | 'igg'
  | 'iga'
  | 'igm'
  | 'cd19Percent'
  | 'cd19Absolute'
  | 'cd4Percent'
  | 'cd4Absolute'
  | 'cd8Percent'
  | 'cd8Absolute'
  | 'cd4cd8Ratio'
  | 'ferritin'
  | 'crp'
  | 'il6'
  | 'il10'
  | 'ifnGamma'
  | 'dDimer'
  | 'fibrinogen'
  | 'ldh'
  | 'temperature'
  | 'crsGrade'
  | 'weight';

/** One usable laboratory value, in the canonical unit of its analyte. */
export interface LabValue {
  analyte: Analyte;
  value: number;
  unit: string;
  comparator?: '<' | '<=' | '>' | '>=' | undefined;
  /** Epoch milliseconds of the effective time (date-only times count as 00:00 UTC). */
  ms: number;
  /** Dated without a time: `ms` orders it, but says nothing of when in the day it was drawn. */
  readonly dateOnly?: boolean;
  /** Calendar date in the hospital's time zone. */
  date: string;
  /** Lower limit of normal from Observation.referenceRange.low, in the canonical unit. */
  lln?: number | undefined;
  /** `Observation/<id>` */
  readonly reference: string;
}

/** The worst (lowest) value of one lab day. */
export interface LabDay {
  day: number;
  date: string;
  /** Instant of the value kept for the day. */
  ms: number;
  value: number;
  /** Set when the value kept for the day was reported as a bound ("<0.1"). */
  comparator?: LabValue['comparator'];
  reference: string;
  lln?: number | undefined;
  /** Platelets or red cells: raised by a transfusion in the preceding days. */
  transfusionSupported?: boolean | undefined;
}

export type EventKind =
  | 'car-t'
  | 'lymphodepletion'
  | 'tocilizumab'
  | 'corticosteroid'
  | 'g-csf'
  | 'ivig'
  | 'red-cell-transfusion'
  | 'platelet-transfusion'
  | 'transfusion-unspecified'
  | 'crs'
  | 'leukapheresis'
  | 'marrow-evaluation'
  | 'allogeneic-hsct';

export interface ClinicalEvent {
  kind: EventKind;
  time: string;
  ms: number;
  date: string;
  day: number | null;
  /** `MedicationAdministration/<id>`, `Procedure/<id>`, `Condition/<id>`, `Observation/<id>` */
  reference: string;
  display: string;
  product?: string;
  crsGrade?: number;
  endDate?: string;
  /** A long-acting G-CSF dose (pegfilgrastim): it counts for actions.longActingGcsfDays. */
  longActing?: true;
}

export type IssueCode =
  | 'unit-unreadable'
  | 'value-missing'
  | 'date-missing'
  | 'status-ignored'
  | 'data-gap'
  | 'patient-mismatch'
  | 'infusion'
  | 'sex-unknown'
  | 'birth-date-partial'
  | 'transfusion-product-unknown'
  | 'stale-data'
  | 'ivig-recent'
  | 'comparator'
  | 'code-unrecognised'
  /** A resource that did not have the shape the engine reads, left out before assessment. */
  | 'resource-invalid'
  /** A search that failed (OperationOutcome), so its data is missing from the assessment. */
  | 'data-unavailable'
  /** ICAHT counting stopped early (death, a later CAR-T, allogeneic HSCT), or could not be. */
  | 'censoring'
  /** Draft orders past the number one order-sign or order-select call checks. */
  | 'too-many-orders'
  /** A lab value that cannot be (below zero), not used. */
  | 'value-implausible'
  /** One Observation id given twice, differing, with nothing to tell which version is current. */
  | 'version-ambiguous'
  /** Results dated after today (a CDS call): a data error, not used. */
  | 'date-future'
  /** A MedicationAdministration whose Medication is not in the data given (or has no code): not known what was given. */
  | 'medication-unknown'
  /** Issues past the number an answer lists of one kind, counted (src/clinical/listed-issues.ts). */
  | 'issues-not-listed';

export interface AssessmentIssue {
  severity: 'error' | 'warning' | 'information';
  code: IssueCode;
  message: string;
  resource?: string;
  /** For a lab result: its analyte and date, so that a card citing an older value of it can say so. */
  analyte?: Analyte;
  date?: string;
  /**
   * For a resource left out: codings found in it (system and code, at most 20), so that a CAR-T
   * infusion that could not be read is still known to be one.
   */
  codings?: { system: string; code: string }[];
  /**
   * For a dated record left out because its date cannot be read (`date-missing`): what it records,
   * so that a CAR-T infusion dated only to the month (or to a day that does not exist) is still
   * known to be one.
   */
  event?: EventKind;
}

export interface LabPoint {
  value: number;
  /** Present only when the laboratory reported the value as a bound ("<0.1"); cards show it. */
  comparator?: LabValue['comparator'];
  unit: string;
  date: string;
  day: number | null;
  reference: string;
}

export interface CtcaeResult {
  latest: Grade | null;
  worst: Grade | null;
  latestValue?: LabPoint;
  worstValue?: LabPoint;
}

export interface SevereCytopenia {
  lineage: Lineage;
  /** Onset on or after day 0 (Wang et al. 2021's new-onset severe cytopenia). */
  newOnset: boolean;
  /** The baseline value (before lymphodepletion) was already below the severe threshold. */
  presentAtBaseline: boolean;
  onsetDay: number;
  nadir: number;
  /** Present only when the nadir was reported as a bound ("<0.1"). */
  nadirComparator?: LabValue['comparator'];
  nadirDay: number;
  unit: string;
  threshold: number;
  recoveryDay: number | null;
  durationDays: number;
  ongoing: boolean;
  evidence: string[];
}

export interface PersistenceResult {
  day: number;
  /** CTCAE grade per lineage at the landmark, null where no value was measured near it. */
  neutrophils: LandmarkValue | null;
  platelets: LandmarkValue | null;
  hemoglobin: LandmarkValue | null;
}

export interface LandmarkValue extends LabPoint {
  grade: Grade;
}

export interface DayGap {
  fromDay: number;
  toDay: number;
}

/**
 * Neutrophil recovery phenotype (Rejeski et al., Blood 2021); 'early-second-dip' fits none of its three;
 * 'unknown-gaps': days without a count leave it open; 'not-measured': no ANC since day 0.
 */
export type NeutrophilPhenotype =
  | 'quick'
  | 'intermittent'
  | 'aplastic'
  | 'early-second-dip'
  | 'no-severe-neutropenia'
  | 'unknown-gaps'
  | 'not-measured';

/** Why ICAHT counting stopped before the assessment day (T-ICAHT paper: death, next line of therapy). */
export interface Censoring {
  reason: 'death' | 'car-t-reinfusion' | 'allogeneic-hsct';
  date: string;
  day: number;
  /** The last day counted: the day of death; the day before a new therapy. */
  lastCountedDay: number;
  reference?: string;
}

export interface IcahtResult {
  early: {
    grade: Grade | null;
    /** True when missing days could raise the grade: report as "at least grade N". */
    atLeast: boolean;
    /** Grade if every unknown day were below the threshold (4 while "no recovery" is still possible). */
    gradeUpperBound: Grade | null;
    daysAnc500: number;
    daysAnc100: number;
    /** False until day +30 has passed (or counting was censored): the grade is "so far". */
    complete: boolean;
    dataGaps: DayGap[];
    /** ANC ≤ 0.5 without stable recovery from `sinceDay` (≤ day +3) through `throughDay`: grade 4 once day +30 is reached. */
    noRecovery: { sinceDay: number; throughDay: number } | null;
  };
  late: {
    grade: Grade | null;
    /** ANC measurements in the late window. */
    measurements: number;
    /** The measurements that meet the grade's cut-off (at least the configured number). */
    confirmedBy?: LabPoint[];
    nadir?: LabPoint;
  };
  thrombocytopenia: {
    early: { grade: Grade | null; atLeast: boolean; daysBelow50: number; daysBelow20: number; complete: boolean };
    late: { grade: Grade | null; measurements: number };
  };
  phenotype: NeutrophilPhenotype | null;
  censoring: Censoring | null;
}

export interface HematotoxComponent {
  value: number;
  /** Present only for a value reported as a bound (">2000"). */
  comparator?: LabValue['comparator'];
  unit: string;
  points: number;
  date: string;
  reference: string;
}

export interface HematotoxResult {
  score: number | null;
  /** Sum of the components that are known (equals score when none is missing). */
  partialScore: number;
  risk: 'low' | 'high' | null;
  components: Partial<Record<'platelets' | 'anc' | 'hemoglobin' | 'crp' | 'ferritin', HematotoxComponent>>;
  missing: ('platelets' | 'anc' | 'hemoglobin' | 'crp' | 'ferritin')[];
  /** Date before which the baseline values were taken (lymphodepletion or day 0). */
  baselineBefore: string | null;
  caveat: string;
  source: SourceRef;
}

export interface ImmunoglobulinResult {
  baseline: LabPoint | null;
  latest: LabPoint | null;
  /** Latest ÷ baseline − 1, in % to one decimal; null when either is missing or their bounds leave it unknown. */
  changePct: number | null;
  /** Set when a reported bound makes the change itself a bound ("<-50" %: a fall of more than 50 %). */
  changeComparator?: LabValue['comparator'];
  decline: boolean | null;
  belowIvigThreshold: boolean | null;
}

export interface BCellAplasiaResult {
  present: boolean | null;
  onsetDay: number | null;
  /** First of the confirming samples above the cut-off after aplasia. */
  lossDay: number | null;
  lossUnconfirmed: boolean;
  /** Loss within the relapse window after tisagenlecleucel (docs/clinical-logic.md §8). */
  lossPredictsRelapse: boolean;
  latest?: {
    day: number;
    date: string;
    percent?: number;
    /** Present only for a value reported as a bound ("<1"). */
    percentComparator?: LabValue['comparator'];
    absolute?: number;
    absoluteComparator?: LabValue['comparator'];
    reference: string;
  };
}

export interface Cd4Cd8Result {
  inverted: boolean | null;
  onsetDay: number | null;
  latestRatio: number | null;
  /** Present only when the latest ratio was reported as a bound ("<1"). */
  latestRatioComparator?: LabValue['comparator'];
  /**
   * The latest day after infusion whose CD4 and CD8 were both reported as upper (or both as lower)
   * bounds, so that their ratio is not known; set only when no later day gives a ratio.
   */
  ratioUnknownDay?: number;
  cd4Low: boolean | null;
}

export interface CrsEvidence {
  crs: {
    grade: number | null;
    onsetDay: number | null;
    durationDays: number | null;
    source: 'condition' | 'observation' | null;
  };
  tocilizumab: { given: boolean; firstDay: number | null; doses: number };
  corticosteroids: { given: boolean; firstDay: number | null; doses: number };
  peaks: Partial<Record<'ferritin' | 'crp' | 'il6' | 'il10' | 'ifnGamma' | 'dDimer' | 'ldh' | 'temperature', LabPoint>>;
  fibrinogenNadir?: LabPoint;
  /** Associations from the seeds that apply to this patient, shown as evidence, never as a score. */
  associations: { finding: string; association: string; source: SourceRef }[];
}

export type RecommendationKind =
  | 'g-csf'
  | 'neutropenia-on-gcsf'
  | 'g-csf-prophylaxis'
  | 'red-cell-transfusion'
  | 'platelet-transfusion'
  | 'ivig-review'
  | 'cytopenia-workup'
  | 'b-cell-recovery';

export interface IrradiationWindow {
  /** First date products must be irradiated. */
  from: string;
  /** Its day after the infusion; null before an infusion is recorded. */
  fromDay: number | null;
  /** What the start rests on: a recorded leukapheresis, or the infusion day (leukapheresis not recorded). */
  basis: 'leukapheresis' | 'infusion';
  /**
   * False before an infusion is recorded: the window opened by a recorded leukapheresis, `until` then the
   * earliest its end can fall (`untilDay` days after the leukapheresis, as the infusion follows it).
   */
  infusionRecorded: boolean;
  leukapheresisDate: string | null;
  leukapheresisReference?: string;
  /** Last date; null = for life. */
  until: string | null;
  untilDay: number | null;
  /** Whether the assessment date is inside the window. */
  required: boolean;
}

export interface Recommendation {
  kind: RecommendationKind;
  urgency: 'critical' | 'warning' | 'info';
  reason: string;
  threshold: { value: number; unit: string; comparator: '<' | '<=' | '>=' | '='; path: string; overridden: boolean };
  source: SourceRef;
  /** The other sources of the rule (clinical spec §8 pairs them: "seed 002; EHA/EBMT"), cited after `source`. */
  alsoCited?: SourceRef[];
  /** Observation references the recommendation rests on. */
  evidence: string[];
  values: (LabPoint & { analyte: Analyte })[];
  /** True when the triggering value is older than actions.maxLabAgeDays. */
  stale: boolean;
  notes: string[];
  /** Days the advised treatment was already given recently (G-CSF within actions.gcsfRecentDays). */
  recentTreatmentDays?: number[];
  /** `g-csf`: the day of the last G-CSF dose since day 0, when there was one (no longer acting). */
  lastTreatmentDay?: number;
  /** `neutropenia-on-gcsf`: the course began after the count was drawn (its effect is not yet seen). */
  treatmentAfterValue?: boolean;
  /** `cytopenia-workup`: parts of the work-up recorded since the cytopenia began, which the card no longer asks for. */
  workupDone?: { marrow?: { day: number; reference: string }; ferritin?: LabPoint };
}

export interface InfusionInfo {
  date: string;
  day: number;
  product: string | null;
  references: string[];
}

export interface Assessment {
  patientId: string;
  asOf: string;
  infusionDate: string | null;
  dayPostInfusion: number | null;
  infusions: InfusionInfo[];
  lymphodepletionDate: string | null;
  sex: 'male' | 'female' | 'other' | 'unknown';
  ageYears: number | null;
  ctcae: Record<CtcaeTerm, CtcaeResult>;
  severeCytopenias: SevereCytopenia[];
  prolongedHematologicToxicity: boolean | null;
  /** Grade of the value nearest each landmark: the PHT day (±pht.windowDays), day 90 and 1 year. */
  persistentCytopenia: {
    pht: PersistenceResult | null;
    day90: PersistenceResult | null;
    year1: PersistenceResult | null;
  };
  icaht: IcahtResult;
  hematotox: HematotoxResult;
  immunoglobulins: Record<'IgG' | 'IgA' | 'IgM', ImmunoglobulinResult>;
  bCellAplasia: BCellAplasiaResult;
  cd4cd8: Cd4Cd8Result;
  crs: CrsEvidence;
  priorAllogeneicHsct: boolean;
  latest: Partial<Record<Analyte, LabPoint>>;
  /** Latest body weight on or before the assessment date (for G-CSF dosing), whenever measured. */
  bodyWeight: LabPoint | null;
  /** Window for irradiated blood products (EHA/EBMT 2023); null without an infusion. */
  irradiation: IrradiationWindow | null;
  recommendations: Recommendation[];
  ignoredObservations: Record<string, number>;
  issues: AssessmentIssue[];
  /** Per-analyte lab days and events, for charts (only with `includeSeries`). */
  series?: Partial<Record<Analyte, LabDay[]>>;
  events?: ClinicalEvent[];
}
