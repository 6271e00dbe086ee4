/**
 * Deterministic generator of synthetic CAR-T patients as FHIR R4 resources.
 *
 * A patient is planned first ({@link planPatient}: which lineages become severe, when they
 * recover, PHT, CRS, immunoglobulins, B cells), then rendered as resources ({@link patientResources}).
 * The plan is the ground truth the cohort test compares the engine against. Same seed and
 * reference date, same resources.
 */
import type {
  Bundle,
  Condition,
  FhirResource,
  MedicationAdministration,
  Observation,
  Patient,
  Procedure,
} from 'fhir/r4.js';
import type { NeutrophilPhenotype, SeverePlan } from './kinetics.js';
import {
  immunologyDays,
  labDays,
  lineageValue,
  persistPastDay28,
  planLineage,
  planTransfusions,
  Rng,
  SA,
  SN,
  ST,
} from './kinetics.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const NDC = 'http://hl7.org/fhir/sid/ndc';
const SNOMED = 'http://snomed.info/sct';
const CPT = 'http://www.ama-assn.org/go/cpt';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const LOCAL = 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox';

export type Product = 'tisagenlecleucel' | 'brexucabtagene autoleucel' | 'obecabtagene autoleucel';

const PRODUCTS: Record<Product, { system: string; code: string; display: string }> = {
  tisagenlecleucel: { system: NDC, code: '0078-0846-19', display: 'KYMRIAH (tisagenlecleucel)' },
  'brexucabtagene autoleucel': { system: RXNORM, code: '2387352', display: 'brexucabtagene autoleucel (Tecartus)' },
  'obecabtagene autoleucel': { system: NDC, code: '83047-410-04', display: 'AUCATZYL (obecabtagene autoleucel)' },
};

export interface PatientPlan {
  id: string;
  given: string;
  family: string;
  sex: 'male' | 'female';
  birthDate: string;
  /** Day 0; undefined for a patient without CAR-T. */
  infusionDate?: string;
  /** Last day with data (the reference date, as a day relative to infusion). */
  lastDay: number;
  /** SI units (10*9/L, g/L) or US units (10*3/uL, g/dL, mg/dL). */
  units: 'si' | 'us';
  product: Product;
  phenotype: NeutrophilPhenotype;
  neutrophils: SeverePlan;
  platelets: SeverePlan;
  hemoglobin: SeverePlan;
  baseline: { anc: number; platelets: number; hemoglobin: number; crp: number; ferritin: number };
  nadirAbove: { anc: number; platelets: number; hemoglobin: number };
  /** SN, SA or ST on day 28 (Wang et al. 2021). */
  pht: boolean;
  /** CTCAE grade ≥3 neutropenia (ANC < 1.0) after infusion (immune-reconstitution thesis). */
  grade3Neutropenia: boolean;
  crs: { grade: number; onset: number; duration: number };
  tocilizumab: boolean;
  steroids: boolean;
  gcsfDays: number[];
  leukapheresisDay?: number;
  weightKg?: number;
  immunoglobulins: Record<'igg' | 'iga' | 'igm', { baseline: number; decline: boolean; factor: number }>;
  ivigDays: number[];
  bCells: { aplasiaDay: number; lossDay?: number };
  cd4cd8InversionDay?: number;
}

export interface PlanOverrides {
  phenotype?: NeutrophilPhenotype;
  /** Force PHT through this lineage. */
  phtLineage?: 'neutrophils' | 'platelets' | 'hemoglobin';
  noPht?: boolean;
  severe?: Partial<Record<'neutrophils' | 'platelets' | 'hemoglobin', boolean>>;
  crsGrade?: number;
  highHematotox?: boolean;
  iggBelowIvig?: boolean;
  bCellLossDay?: number;
  units?: 'si' | 'us';
  product?: Product;
  sex?: 'male' | 'female';
  name?: [string, string];
  /** No platelet or red cell transfusions (keeps a demo's counts at their own level). */
  noTransfusions?: boolean;
  /** No G-CSF given (a patient whose severe neutropenia is not yet treated). */
  noGcsf?: boolean;
  /** A recorded leukapheresis (CAR-T cell collection) on this day before infusion (negative). */
  leukapheresisDay?: number;
  /** A body weight (kg) measured on day −5, for weight-based doses. */
  weightKg?: number;
}

export interface PlanOptions {
  id: string;
  /** The reference date ("today"), YYYY-MM-DD. */
  today: string;
  /** Days since infusion on `today`; undefined: no CAR-T. */
  dayPostInfusion: number | undefined;
  overrides?: PlanOverrides;
}

const GIVEN = [
  'Ada',
  'Ben',
  'Chen',
  'Dara',
  'Emil',
  'Fatima',
  'Goran',
  'Hana',
  'Ines',
  'Jonas',
  'Kira',
  'Luca',
  'Mei',
  'Noor',
  'Omar',
  'Pia',
];
const FAMILY = ['Synthetic', 'Testpatient', 'Demo', 'Example', 'Sample'];

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Plans one patient from the seeds' probabilities (overrides pin a scenario for the demo). */
export function planPatient(rng: Rng, options: PlanOptions): PatientPlan {
  const o = options.overrides ?? {};
  const lastDay = options.dayPostInfusion ?? 0;
  const infused = options.dayPostInfusion !== undefined;
  const sex = o.sex ?? (rng.chance(0.5) ? 'male' : 'female');
  const age = rng.int(8, 70);
  const infusionDate = infused ? addDays(options.today, -lastDay) : undefined;
  const { neutrophils, platelets, hemoglobin, pht, phenotype, mildNeutropenia, grade3Neutropenia } = planCytopenias(
    rng,
    o,
    lastDay,
  );

  const high = o.highHematotox ?? rng.chance(0.6);
  const crsGrade = o.crsGrade ?? rng.pick([0, 0, 1, 1, 2, 2, 2, 3, 3, 4]);
  const severeCrs = crsGrade >= 3;
  const tocilizumab = severeCrs ? rng.chance(24 / 29) : crsGrade > 0 && rng.chance(4 / 33);
  const gcsfDays: number[] = [];
  if (neutrophils.severe && rng.chance(0.87) && !o.noGcsf) {
    const start = Math.max(neutrophils.onset ?? 3, 3);
    const stop = Math.min(neutrophils.recovery ?? lastDay, lastDay);
    for (let d = start; d < stop; d++) gcsfDays.push(d);
  }
  const { immunoglobulins, ivigDays } = planImmunoglobulins(rng, o.iggBelowIvig);

  return {
    id: options.id,
    given: o.name?.[0] ?? rng.pick(GIVEN),
    family: o.name?.[1] ?? rng.pick(FAMILY),
    sex,
    birthDate: addDays(options.today, -Math.round(age * 365.25) - rng.int(0, 300)),
    ...(infusionDate ? { infusionDate } : {}),
    lastDay,
    units: o.units ?? (rng.chance(0.5) ? 'si' : 'us'),
    product:
      o.product ??
      (age < 26
        ? 'tisagenlecleucel'
        : rng.pick(['brexucabtagene autoleucel', 'obecabtagene autoleucel', 'tisagenlecleucel'] as const)),
    phenotype,
    neutrophils,
    platelets,
    hemoglobin,
    baseline: {
      anc: rng.uniform(1.3, 4.5),
      platelets: high ? rng.uniform(40, 140) : rng.uniform(180, 320),
      hemoglobin: high ? rng.uniform(82, 105) : rng.uniform(105, 140),
      crp: high ? rng.uniform(3.5, 9) : rng.uniform(0.2, 2.5),
      ferritin: high ? rng.uniform(900, 3500) : rng.uniform(80, 600),
    },
    nadirAbove: {
      anc: mildNeutropenia ? rng.uniform(1.15, 1.4) : rng.uniform(0.6, 0.9),
      platelets: rng.uniform(25, 90),
      hemoglobin: rng.uniform(66, 95),
    },
    pht: pht && infused,
    grade3Neutropenia,
    crs: { grade: crsGrade, onset: rng.int(1, 5), duration: rng.int(4, 10) },
    tocilizumab,
    steroids: severeCrs ? rng.chance(0.6) : false,
    gcsfDays,
    ...(o.leukapheresisDay !== undefined ? { leukapheresisDay: o.leukapheresisDay } : {}),
    ...(o.weightKg !== undefined ? { weightKg: o.weightKg } : {}),
    immunoglobulins,
    ivigDays,
    bCells: { aplasiaDay: rng.pick([0, 7, 7, 7, 14]), ...(o.bCellLossDay ? { lossDay: o.bCellLossDay } : {}) },
    ...(rng.chance(0.91) ? { cd4cd8InversionDay: rng.pick([7, 14]) } : {}),
  };
}

/**
 * Which lineages become severe, PHT and the lineage carrying it, the neutrophil recovery phenotype,
 * transfusions and grade ≥3 neutropenia. Draws from `rng` in the order planPatient always has.
 */
function planCytopenias(
  rng: Rng,
  o: PlanOverrides,
  lastDay: number,
): {
  neutrophils: SeverePlan;
  platelets: SeverePlan;
  hemoglobin: SeverePlan;
  pht: boolean;
  phenotype: NeutrophilPhenotype;
  mildNeutropenia: boolean;
  grade3Neutropenia: boolean;
} {
  const neutrophils = planLineage(
    rng,
    SN,
    o.severe?.neutrophils ?? (o.phenotype ? o.phenotype !== 'no-severe-neutropenia' : undefined),
  );
  const platelets = planLineage(rng, ST, o.severe?.platelets);
  const hemoglobin = planLineage(rng, SA, o.severe?.hemoglobin);

  // PHT in 25% of patients (Wang et al. 2021), carried by one lineage that is severe anyway, so the
  // new-onset incidences are not inflated: P(PHT | any severe lineage) = 0.25 / P(any severe) ≈ 0.25 / 0.96.
  const severeLineages = (['neutrophils', 'platelets', 'hemoglobin'] as const).filter(
    (l) => ({ neutrophils, platelets, hemoglobin })[l].severe,
  );
  const phtLineage = o.noPht
    ? undefined
    : (o.phtLineage ?? (severeLineages.length > 0 && rng.chance(0.25 / 0.96) ? rng.pick(severeLineages) : undefined));
  const pht = phtLineage !== undefined;

  let phenotype: NeutrophilPhenotype = o.phenotype ?? 'no-severe-neutropenia';
  if (phtLineage === 'neutrophils' && !neutrophils.severe) persistPastDay28(rng, neutrophils, SN);
  if (neutrophils.severe && !o.phenotype) {
    phenotype =
      phtLineage === 'neutrophils'
        ? rng.pick(['aplastic', 'intermittent'] as const)
        : rng.pick(['quick', 'quick', 'intermittent', 'aplastic'] as const);
  }
  shapeNeutrophils(rng, neutrophils, phenotype, phtLineage === 'neutrophils');
  if (phtLineage === 'platelets') persistPastDay28(rng, platelets, ST);
  if (phtLineage === 'hemoglobin') persistPastDay28(rng, hemoglobin, SA);
  planTransfusions(rng, platelets, o.noTransfusions ? 0 : 0.7, lastDay);
  planTransfusions(rng, hemoglobin, o.noTransfusions ? 0 : 0.7, lastDay);

  // Grade ≥3 neutropenia in 97% (immune-reconstitution thesis): of patients without SN, about 1 in 7 stays ≥ 1.0.
  const mildNeutropenia = !neutrophils.severe && rng.chance(0.14);
  const grade3Neutropenia = neutrophils.severe
    ? neutrophils.onset !== undefined && (neutrophils.recovery ?? 99) > 0
    : !mildNeutropenia;

  return { neutrophils, platelets, hemoglobin, pht, phenotype, mildNeutropenia, grade3Neutropenia };
}

/** Immunoglobulin baselines and their decline (immune-reconstitution thesis); IVIG on day 95 when IgG falls below 400 mg/dL. */
function planImmunoglobulins(
  rng: Rng,
  iggBelowIvig: boolean | undefined,
): Pick<PatientPlan, 'immunoglobulins' | 'ivigDays'> {
  const ig = (pDecline: number, lo: number, hi: number): { baseline: number; decline: boolean; factor: number } => {
    const decline = rng.chance(pDecline);
    return {
      baseline: rng.uniform(lo, hi),
      decline,
      factor: decline ? rng.uniform(0.35, 0.8) : rng.uniform(1.02, 1.15),
    };
  };
  const immunoglobulins = { igg: ig(0.82, 650, 1300), iga: ig(0.864, 90, 300), igm: ig(0.955, 60, 200) };
  if (iggBelowIvig) immunoglobulins.igg = { baseline: 820, decline: true, factor: 0.38 };
  const ivigDays = iggBelowIvig
    ? []
    : immunoglobulins.igg.decline && immunoglobulins.igg.baseline * immunoglobulins.igg.factor < 400
      ? [95]
      : [];
  return { immunoglobulins, ivigDays };
}

function shapeNeutrophils(rng: Rng, plan: SeverePlan, phenotype: NeutrophilPhenotype, pht: boolean): void {
  if (!plan.severe || plan.onset === undefined) return;
  const onset = plan.onset;
  if (phenotype === 'aplastic') {
    plan.recovery = pht ? rng.int(31, 50) : Math.min(26, Math.max(onset + 15, 20));
  } else if (phenotype === 'intermittent') {
    plan.recovery = Math.min(onset + rng.int(5, 8), 13);
    plan.secondDip = pht ? [rng.int(24, 27), rng.int(31, 35)] : [rng.int(22, 23), rng.int(24, 26)];
  } else {
    plan.recovery = onset + rng.int(4, 10);
  }
}

// ---- Rendering -----------------------------------------------------------------------------------

interface Lab {
  code: string;
  display: string;
  si: readonly [string, number];
  us: readonly [string, number];
}
const COUNT = { si: ['10*9/L', 1], us: ['10*3/uL', 1] } as const;
const LABS = {
  anc: { code: '751-8', display: 'Neutrophils [#/volume] in Blood by Automated count', ...COUNT },
  platelets: { code: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', ...COUNT },
  hemoglobin: { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', si: ['g/L', 1], us: ['g/dL', 0.1] },
  wbc: { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', ...COUNT },
  lymphocytes: { code: '731-0', display: 'Lymphocytes [#/volume] in Blood by Automated count', ...COUNT },
  igg: { code: '2465-3', display: 'IgG [Mass/volume] in Serum', si: ['g/L', 0.01], us: ['mg/dL', 1] },
  iga: { code: '2458-8', display: 'IgA [Mass/volume] in Serum', si: ['g/L', 0.01], us: ['mg/dL', 1] },
  igm: { code: '2472-9', display: 'IgM [Mass/volume] in Serum', si: ['g/L', 0.01], us: ['mg/dL', 1] },
  crp: {
    code: '1988-5',
    display: 'C reactive protein [Mass/volume] in Serum or Plasma',
    si: ['mg/L', 10],
    us: ['mg/dL', 1],
  },
  ferritin: { code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', si: ['ug/L', 1], us: ['ng/mL', 1] },
  il6: {
    code: '26881-3',
    display: 'Interleukin 6 [Mass/volume] in Serum or Plasma',
    si: ['pg/mL', 1],
    us: ['pg/mL', 1],
  },
  cd19pct: { code: '8117-4', display: 'CD19 cells/100 cells in Blood', si: ['%', 1], us: ['%', 1] },
  weight: { code: '29463-7', display: 'Body weight', si: ['kg', 1], us: ['[lb_av]', 2.20462] },
  cd4: {
    code: '24467-3',
    display: 'CD3+CD4+ (T4 helper) cells [#/volume] in Blood',
    si: ['/uL', 1000],
    us: ['/uL', 1000],
  },
  cd8: {
    code: '14135-8',
    display: 'CD3+CD8+ (T8 suppressor cells) cells [#/volume] in Blood',
    si: ['/uL', 1000],
    us: ['/uL', 1000],
  },
  ratio: {
    code: '54218-3',
    display: 'CD3+CD4+ (T4 helper) cells/CD3+CD8+ (T8 suppressor cells) cells [# Ratio] in Blood',
    si: ['{ratio}', 1],
    us: ['{ratio}', 1],
  },
  temperature: { code: '8310-5', display: 'Body temperature', si: ['Cel', 1], us: ['Cel', 1] },
} satisfies Record<string, Lab>;
type LabName = keyof typeof LABS;

type Coding = { system: string; code: string; display: string };

/** Renders one plan: the patient's resources so far and how to add observations, administrations and procedures. */
interface Renderer {
  plan: PatientPlan;
  rng: Rng;
  pid: string;
  subject: { reference: string };
  /** The instant of a day (relative to infusion) at an hour, UTC. */
  at: (day: number, hour?: number) => string;
  /** A day as part of a resource id: `m7` for day −7. */
  dayId: (day: number) => string;
  resources: FhirResource[];
  /** A lab in the plan's units from its SI value (and SI lower limit of normal). */
  observation: (lab: LabName, day: number, siValue: number, hour?: number, low?: number) => void;
  /** A completed administration, if on or before the last day. */
  administration: (id: string, day: number, code: Coding, dose?: { value: number; unit: string }) => void;
  /** A completed procedure, if on or before the last day. */
  procedure: (id: string, day: number, code: Coding) => void;
}

/**
 * Renders a plan as FHIR resources, from day −7 to `lastDay` (no data after the reference date).
 * The order of `rng` draws is part of the output: same seed, same resources.
 */
export function patientResources(plan: PatientPlan, rng: Rng, today: string): FhirResource[] {
  const r = renderer(plan, rng, today);
  r.resources.push(patientResource(plan));
  renderBloodCounts(r);
  if (plan.infusionDate === undefined) return r.resources;
  renderInflammation(r);
  renderTreatments(r);
  renderImmuneReconstitution(r);
  return r.resources;
}

function renderer(plan: PatientPlan, rng: Rng, today: string): Renderer {
  const pid = plan.id;
  const subject = { reference: `Patient/${pid}` };
  const day0 = plan.infusionDate ?? today;
  const at = (day: number, hour = 6): string => `${addDays(day0, day)}T${String(hour).padStart(2, '0')}:00:00Z`;
  const dayId = (day: number): string => (day < 0 ? `m${-day}` : String(day));
  const resources: FhirResource[] = [];

  const observation = (lab: LabName, day: number, siValue: number, hour = 6, low?: number): void => {
    const def: Lab = LABS[lab];
    const [unit, factor] = def[plan.units];
    const category = lab === 'temperature' ? 'vital-signs' : 'laboratory';
    const obs: Observation = {
      resourceType: 'Observation',
      id: `${pid}-${lab}-${dayId(day)}${hour === 6 ? '' : `-${hour}`}`,
      status: 'final',
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] },
      ],
      code: { coding: [{ system: LOINC, code: def.code, display: def.display }], text: def.display },
      subject,
      effectiveDateTime: at(day, hour),
      valueQuantity: {
        value: roundTo(siValue * factor, unit === 'g/dL' || unit.startsWith('10*') ? 2 : 1),
        unit,
        system: UCUM,
        code: unit,
      },
      ...(low !== undefined
        ? { referenceRange: [{ low: { value: roundTo(low * factor, 2), unit, system: UCUM, code: unit } }] }
        : {}),
    };
    resources.push(obs);
  };
  const administration = (id: string, day: number, code: Coding, dose?: { value: number; unit: string }): void => {
    if (day > plan.lastDay) return;
    const ma: MedicationAdministration = {
      resourceType: 'MedicationAdministration',
      id: `${pid}-${id}`,
      status: 'completed',
      medicationCodeableConcept: { coding: [code], text: code.display },
      subject,
      effectiveDateTime: at(day, 10),
      ...(dose ? { dosage: { dose: { value: dose.value, unit: dose.unit, system: UCUM, code: dose.unit } } } : {}),
    };
    resources.push(ma);
  };
  const procedure = (id: string, day: number, code: Coding): void => {
    if (day > plan.lastDay) return;
    const p: Procedure = {
      resourceType: 'Procedure',
      id: `${pid}-${id}`,
      status: 'completed',
      code: { coding: [code], text: code.display },
      subject,
      performedDateTime: at(day, 11),
    };
    resources.push(p);
  };
  return { plan, rng, pid, subject, at, dayId, resources, observation, administration, procedure };
}

function patientResource(plan: PatientPlan): Patient {
  const pid = plan.id;
  return {
    resourceType: 'Patient',
    id: pid,
    meta: { tag: [{ system: LOCAL, code: 'synthetic', display: 'Synthetic demo patient' }] },
    identifier: [{ system: 'urn:cart-hematotox:demo-mrn', value: `DEMO-${pid.toUpperCase()}` }],
    name: [{ given: [plan.given], family: plan.family, text: `${plan.given} ${plan.family}` }],
    gender: plan.sex,
    birthDate: plan.birthDate,
  };
}

/** ANC, platelets, hemoglobin, lymphocytes and WBC on every lab day (flat at baseline without CAR-T). */
function renderBloodCounts({ plan, rng, observation }: Renderer): void {
  const infused = plan.infusionDate !== undefined;
  const { baseline, nadirAbove } = plan;
  for (const day of labDays(plan.lastDay)) {
    const anc = infused
      ? lineageValue(rng, plan.neutrophils, day, {
          baseline: baseline.anc,
          threshold: 0.5,
          nadirAbove: nadirAbove.anc,
          floor: 0.01,
          bump: 0,
        })
      : baseline.anc * rng.uniform(0.9, 1.1);
    const plt = infused
      ? lineageValue(rng, plan.platelets, day, {
          baseline: baseline.platelets,
          threshold: 20,
          nadirAbove: nadirAbove.platelets,
          floor: 3,
          bump: 25,
        })
      : baseline.platelets;
    const hb = infused
      ? lineageValue(rng, plan.hemoglobin, day, {
          baseline: baseline.hemoglobin,
          threshold: 60,
          nadirAbove: nadirAbove.hemoglobin,
          floor: 42,
          bump: 20,
        })
      : baseline.hemoglobin;
    const lymph =
      day < -5
        ? rng.uniform(0.8, 1.6)
        : day < 7
          ? rng.uniform(0.05, 0.3)
          : day < 14
            ? rng.uniform(0.6, 2.5)
            : rng.uniform(0.4, 1.4);
    observation('anc', day, anc, 6, 1.8);
    observation('platelets', day, plt, 6, 150);
    observation('hemoglobin', day, hb, 6, plan.sex === 'male' ? 130 : 120);
    observation('lymphocytes', day, lymph, 6, 1.0);
    observation('wbc', day, anc + lymph + rng.uniform(0.05, 0.4), 6, 4.0);
  }
}

/** Baseline inflammation (CAR-HEMATOTOX) and CRS kinetics (CRS thesis; Wang et al. 2021), and the CRS condition. */
function renderInflammation({ plan, rng, observation, pid, subject, at, resources }: Renderer): void {
  const crs = plan.crs;
  for (const day of [-6, 1, 2, 3, 4, 5, 7, 10, 14, 21, 28].filter((d) => d <= plan.lastDay)) {
    const inCrs = crs.grade > 0 && day >= crs.onset && day < crs.onset + crs.duration;
    const peak = inCrs ? 1 + crs.grade * rng.uniform(1.5, 3) : 1;
    observation(
      'crp',
      day,
      day < 0 ? plan.baseline.crp : Math.min(30, plan.baseline.crp * peak * rng.uniform(0.8, 1.2)),
    );
    observation(
      'ferritin',
      day,
      day < 0 ? plan.baseline.ferritin : plan.baseline.ferritin * peak * rng.uniform(0.9, 1.5),
    );
    if (day >= 0) observation('il6', day, inCrs ? rng.uniform(20, 60) * crs.grade * crs.grade : rng.uniform(2, 9));
    if (inCrs) observation('temperature', day, rng.uniform(38.2, 40.1), 14);
  }
  if (crs.grade > 0) {
    const resolved = plan.lastDay >= crs.onset + crs.duration;
    const condition: Condition = {
      resourceType: 'Condition',
      id: `${pid}-crs`,
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
            code: resolved ? 'resolved' : 'active',
          },
        ],
      },
      code: {
        coding: [
          { system: ICD10CM, code: `D89.83${crs.grade}`, display: `Cytokine release syndrome, grade ${crs.grade}` },
        ],
      },
      subject,
      onsetDateTime: at(crs.onset, 12),
      ...(resolved ? { abatementDateTime: at(crs.onset + crs.duration, 12) } : {}),
    };
    if (crs.onset <= plan.lastDay) resources.push(condition);
  }
}

/** Lymphodepletion, the infusion, CRS treatment, G-CSF, transfusions and IVIG. */
function renderTreatments({ plan, administration, procedure, dayId, observation }: Renderer): void {
  const crs = plan.crs;
  const drug = (code: string, display: string): Coding => ({ system: RXNORM, code, display });
  // Lymphodepletion (Wang et al. 2021: fludarabine day −4 to −2 with cyclophosphamide) and the infusion.
  for (const d of [-5, -4, -3])
    administration(`flu-${dayId(d)}`, d, drug('24698', 'fludarabine'), { value: 30, unit: 'mg/m2' });
  for (const d of [-4, -3])
    administration(`cy-${dayId(d)}`, d, drug('3002', 'cyclophosphamide'), { value: 500, unit: 'mg/m2' });
  if (plan.leukapheresisDay !== undefined) {
    procedure('leukapheresis', plan.leukapheresisDay, {
      system: CPT,
      code: '38225',
      display: 'CAR-T therapy; harvesting of blood-derived T lymphocytes, per day',
    });
  }
  if (plan.weightKg !== undefined) observation('weight', -5, plan.weightKg, 8);
  administration('car-t', 0, PRODUCTS[plan.product]);
  procedure('car-t-infusion', 0, { system: CPT, code: '38228', display: 'CAR-T cell administration, autologous' });

  if (plan.tocilizumab) {
    for (const d of [crs.onset, crs.onset + 1])
      administration(`toci-${d}`, d, drug('612865', 'tocilizumab'), { value: 8, unit: 'mg/kg' });
  }
  if (plan.steroids) {
    for (let d = crs.onset + 1; d <= crs.onset + 3; d++)
      administration(`dex-${d}`, d, drug('3264', 'dexamethasone'), { value: 10, unit: 'mg' });
  }
  for (const d of plan.gcsfDays)
    administration(`gcsf-${d}`, d, drug('68442', 'filgrastim'), { value: 5, unit: 'ug/kg' });
  for (const d of plan.platelets.transfusions) {
    procedure(`plt-tx-${d}`, d, { system: SNOMED, code: '12719002', display: 'Transfusion of platelets' });
  }
  for (const d of plan.hemoglobin.transfusions) {
    procedure(`rbc-tx-${d}`, d, { system: SNOMED, code: '116863004', display: 'Transfusion of red blood cells' });
  }
  const ivig: Coding = { system: LOCAL, code: 'ivig', display: 'Immune globulin, intravenous' };
  for (const d of plan.ivigDays) administration(`ivig-${d}`, d, ivig, { value: 0.4, unit: 'g/kg' });
}

/** Immune reconstitution (immune-reconstitution thesis): immunoglobulins, CD19 and CD4/CD8. */
function renderImmuneReconstitution({ plan, rng, observation }: Renderer): void {
  for (const day of immunologyDays(plan.lastDay)) {
    for (const name of ['igg', 'iga', 'igm'] as const) {
      const ig = plan.immunoglobulins[name];
      const progress = day <= 0 ? 0 : Math.min(1, day / 60);
      let value = ig.baseline * (1 + (ig.factor - 1) * progress);
      if (name === 'igg' && plan.ivigDays.some((d) => day > d && day <= d + 28)) value = Math.max(value, 650);
      observation(name, day, value * rng.uniform(0.97, 1.03));
    }
    const aplastic =
      day >= plan.bCells.aplasiaDay && !(plan.bCells.lossDay !== undefined && day >= plan.bCells.lossDay);
    observation('cd19pct', day, aplastic ? rng.uniform(0, 0.4) : rng.uniform(3, 12));
    const inverted = plan.cd4cd8InversionDay !== undefined && day >= plan.cd4cd8InversionDay;
    const cd8 = rng.uniform(0.2, 0.6);
    const cd4 = inverted ? cd8 * rng.uniform(0.3, 0.8) : cd8 * rng.uniform(1.3, 2.2);
    observation('cd4', day, cd4);
    observation('cd8', day, cd8);
    observation('ratio', day, cd4 / cd8);
  }
}

function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A transaction Bundle that PUTs every resource (ids are kept, loading twice is idempotent). */
export function transactionBundle(resources: readonly FhirResource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({
      resource,
      request: { method: 'PUT', url: `${resource.resourceType}/${resource.id ?? ''}` },
    })),
  };
}

export interface Cohort {
  plans: PatientPlan[];
  resources: FhirResource[][];
}

/** A cohort of `n` patients, each followed `followUpDays` after infusion, as of `today`. */
export function generateCohort(options: { n: number; seed: number; today: string; followUpDays: number }): Cohort {
  const rng = new Rng(options.seed);
  const plans: PatientPlan[] = [];
  const resources: FhirResource[][] = [];
  for (let i = 0; i < options.n; i++) {
    const plan = planPatient(rng, {
      id: `cohort-${String(i + 1).padStart(4, '0')}`,
      today: options.today,
      dayPostInfusion: options.followUpDays,
    });
    plans.push(plan);
    resources.push(patientResources(plan, rng, options.today));
  }
  return { plans, resources };
}
