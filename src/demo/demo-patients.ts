/**
 * The demo's synthetic patients: named scenarios a clinician would recognise, plus a few drawn
 * from the seeds' probabilities. Infusion dates are relative to the reference date, so the demo
 * always shows patients at the same point of their course.
 */
import type { FhirResource, Practitioner } from 'fhir/r4.js';
import type { PatientPlan, PlanOverrides } from './generator.js';
import { patientResources, planPatient, transactionBundle } from './generator.js';
import { Rng } from './kinetics.js';
import type { DemoFhirServer } from './fhir-server.js';

export interface DemoScenario {
  id: string;
  label: string;
  /** Days since CAR-T infusion on the reference date; undefined: never received CAR-T. */
  dayPostInfusion: number | undefined;
  overrides: PlanOverrides;
  /** Its own random sequence (scenarios added later must not change the patients drawn before them). */
  seed?: number;
}

export const DEMO_SCENARIOS: readonly DemoScenario[] = [
  {
    id: 'cart-quick',
    label: 'Quick neutrophil recovery, no prolonged toxicity (day +45)',
    dayPostInfusion: 45,
    overrides: {
      phenotype: 'quick',
      noPht: true,
      severe: { platelets: false, hemoglobin: false },
      crsGrade: 1,
      highHematotox: false,
      units: 'us',
      name: ['Ada', 'Quick'],
      sex: 'female',
      product: 'tisagenlecleucel',
    },
  },
  {
    id: 'cart-biphasic',
    label: 'Intermittent (biphasic) neutrophil recovery (day +40)',
    dayPostInfusion: 40,
    overrides: {
      phenotype: 'intermittent',
      noPht: true,
      severe: { platelets: true, hemoglobin: false },
      crsGrade: 2,
      units: 'si',
      name: ['Ben', 'Biphasic'],
      sex: 'male',
      product: 'tisagenlecleucel',
    },
  },
  {
    id: 'cart-aplastic',
    label: 'Aplastic neutrophil recovery with PHT at day 28 (day +35)',
    dayPostInfusion: 35,
    overrides: {
      phenotype: 'aplastic',
      phtLineage: 'neutrophils',
      severe: { platelets: true, hemoglobin: true },
      crsGrade: 3,
      highHematotox: true,
      units: 'si',
      name: ['Chen', 'Aplastic'],
      sex: 'male',
      product: 'brexucabtagene autoleucel',
    },
  },
  {
    id: 'cart-day9',
    label: 'Day +9, severe neutropenia and thrombocytopenia ongoing',
    dayPostInfusion: 9,
    overrides: {
      phenotype: 'aplastic',
      severe: { platelets: true, hemoglobin: true },
      noTransfusions: true,
      crsGrade: 3,
      highHematotox: true,
      units: 'us',
      name: ['Dara', 'Daynine'],
      sex: 'female',
      product: 'obecabtagene autoleucel',
    },
  },
  {
    id: 'cart-day1-high-risk',
    label: 'Day +1, high CAR-HEMATOTOX (prophylactic G-CSF question)',
    dayPostInfusion: 1,
    overrides: {
      highHematotox: true,
      severe: { neutrophils: false },
      crsGrade: 1,
      units: 'si',
      name: ['Emil', 'Highrisk'],
      sex: 'male',
      product: 'tisagenlecleucel',
    },
  },
  {
    id: 'cart-day200-low-igg',
    label: 'Day +200, IgG below 400 mg/dL and B cells returning',
    dayPostInfusion: 200,
    overrides: {
      phenotype: 'quick',
      noPht: true,
      iggBelowIvig: true,
      bCellLossDay: 150,
      units: 'us',
      name: ['Fatima', 'Lowigg'],
      sex: 'female',
      product: 'tisagenlecleucel',
    },
  },
  {
    id: 'no-cart',
    label: 'Hematology patient without CAR-T',
    dayPostInfusion: undefined,
    overrides: { name: ['Goran', 'Nocart'], sex: 'male' },
  },
  {
    id: 'cart-day12-no-gcsf',
    label: 'Day +12, severe neutropenia without G-CSF; leukapheresis and weight recorded',
    dayPostInfusion: 12,
    overrides: {
      phenotype: 'aplastic',
      severe: { platelets: false, hemoglobin: false },
      noGcsf: true,
      noTransfusions: true,
      crsGrade: 1,
      highHematotox: false,
      leukapheresisDay: -28,
      weightKg: 64,
      units: 'si',
      name: ['Hana', 'Nogcsf'],
      sex: 'female',
      product: 'tisagenlecleucel',
    },
    seed: 20261123,
  },
];

export const DEMO_PRACTITIONER: Practitioner = {
  resourceType: 'Practitioner',
  id: 'demo-hematologist',
  name: [{ given: ['Demo'], family: 'Hematologist', text: 'Dr Demo Hematologist' }],
};

export interface DemoPatient {
  scenario: DemoScenario;
  plan: PatientPlan;
  resources: FhirResource[];
}

/** The demo patients as of `today` (YYYY-MM-DD): deterministic for a given date. */
export function demoPatients(today: string, extraRandom = 5): DemoPatient[] {
  const rng = new Rng(20261122);
  const scenarios: DemoScenario[] = [...DEMO_SCENARIOS];
  for (let i = 1; i <= extraRandom; i++) {
    scenarios.push({
      id: `cart-demo-${String(i).padStart(2, '0')}`,
      label: 'Course drawn from the seeds\u2019 incidences',
      dayPostInfusion: 20 + i * 23,
      overrides: {},
    });
  }
  return scenarios.map((scenario) => {
    const r = scenario.seed !== undefined ? new Rng(scenario.seed) : rng;
    const plan = planPatient(r, {
      id: scenario.id,
      today,
      dayPostInfusion: scenario.dayPostInfusion,
      overrides: scenario.overrides,
    });
    return { scenario, plan, resources: patientResources(plan, r, today) };
  });
}

/** Loads the demo patients into the embedded FHIR server; returns how many resources were loaded. */
export async function seedDemo(server: DemoFhirServer, today: string): Promise<number> {
  let count = 1;
  await server.load(transactionBundle([DEMO_PRACTITIONER]));
  for (const patient of demoPatients(today)) {
    await server.load(transactionBundle(patient.resources));
    count += patient.resources.length;
  }
  return count;
}
