/**
 * Terse builders of real FHIR R4 resources for engine tests. Days are relative to DAY0.
 */
import type { Condition, FhirResource, MedicationAdministration, Observation, Patient, Procedure } from 'fhir/r4.js';
import { assess, type AssessOptions } from '../../src/clinical/assess.js';
import { buildTerminology, type LocalCodes, type Terminology } from '../../src/clinical/terminology.js';
import type { Assessment } from '../../src/clinical/types.js';
import { loadValueSets } from '../../src/profiles.js';
import { parseThresholds } from '../../src/clinical/thresholds.js';

export const DAY0 = '2026-03-01';
export const PATIENT_ID = 'p1';

export function dateOf(day: number): string {
  const d = new Date(`${DAY0}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + day);
  return d.toISOString().slice(0, 10);
}

let counter = 0;
const nextId = (prefix: string): string => `${prefix}-${++counter}`;

export interface ObsOptions {
  hour?: number;
  status?: Observation['status'];
  id?: string;
  low?: number;
  unitText?: string;
  system?: string;
  patient?: string;
  /** valueQuantity.comparator: the value was reported as a bound ("<0.1"). */
  comparator?: '<' | '<=' | '>' | '>=';
}

export function obs(
  code: string,
  value: number | undefined,
  unit: string | undefined,
  day: number,
  o: ObsOptions = {},
): Observation {
  const resource: Observation = {
    resourceType: 'Observation',
    id: o.id ?? nextId(`obs-${code}`),
    status: o.status ?? 'final',
    code: { coding: [{ system: o.system ?? 'http://loinc.org', code }] },
    subject: { reference: `Patient/${o.patient ?? PATIENT_ID}` },
    effectiveDateTime: `${dateOf(day)}T${String(o.hour ?? 6).padStart(2, '0')}:00:00Z`,
  };
  if (value !== undefined) {
    resource.valueQuantity = {
      value,
      ...(o.comparator ? { comparator: o.comparator } : {}),
      ...(unit !== undefined
        ? o.unitText
          ? { unit }
          : { unit, system: 'http://unitsofmeasure.org', code: unit }
        : {}),
    };
  }
  if (o.low !== undefined)
    resource.referenceRange = [
      { low: { value: o.low, ...(unit ? { unit, system: 'http://unitsofmeasure.org', code: unit } : {}) } },
    ];
  return resource;
}

export const anc = (day: number, v: number, o?: ObsOptions): Observation => obs('751-8', v, '10*9/L', day, o);
export const plt = (day: number, v: number, o?: ObsOptions): Observation => obs('777-3', v, '10*9/L', day, o);
export const hb = (day: number, v: number, o?: ObsOptions): Observation => obs('718-7', v, 'g/L', day, o);
export const wbc = (day: number, v: number, o?: ObsOptions): Observation => obs('6690-2', v, '10*9/L', day, o);
export const lymph = (day: number, v: number, o?: ObsOptions): Observation => obs('731-0', v, '10*9/L', day, o);
export const igg = (day: number, v: number, o?: ObsOptions): Observation => obs('2465-3', v, 'mg/dL', day, o);
export const crp = (day: number, v: number, o?: ObsOptions): Observation => obs('1988-5', v, 'mg/dL', day, o);
export const ferritin = (day: number, v: number, o?: ObsOptions): Observation => obs('2276-4', v, 'ng/mL', day, o);
export const cd19pct = (day: number, v: number): Observation => obs('8117-4', v, '%', day);
export const cd19abs = (day: number, v: number): Observation => obs('8116-6', v, '/uL', day);

/** A daily series: `values[i]` on day `from + i` (null: no measurement that day). */
export function series(
  make: (day: number, v: number) => Observation,
  from: number,
  values: (number | null)[],
): Observation[] {
  return values.flatMap((v, i) => (v === null ? [] : [make(from + i, v)]));
}

export function patient(gender: Patient['gender'] = 'female', birthDate = '1980-05-05'): Patient {
  return { resourceType: 'Patient', id: PATIENT_ID, gender, birthDate };
}

export function administration(
  system: string,
  code: string,
  day: number,
  o: { hour?: number; status?: MedicationAdministration['status'] } = {},
): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id: nextId('ma'),
    status: o.status ?? 'completed',
    medicationCodeableConcept: { coding: [{ system, code }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    effectiveDateTime: `${dateOf(day)}T${String(o.hour ?? 10).padStart(2, '0')}:00:00Z`,
  };
}

export const RX = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const infusion = (day = 0, hour = 10): MedicationAdministration =>
  administration('http://hl7.org/fhir/sid/ndc', '0078-0846-19', day, { hour });
export const fludarabine = (day: number): MedicationAdministration => administration(RX, '24698', day);
export const gcsf = (day: number): MedicationAdministration => administration(RX, '68442', day);
/** Pegfilgrastim 6 mg prefilled syringe (RxNorm SCD 727539): a long-acting G-CSF. */
export const pegfilgrastim = (day: number): MedicationAdministration => administration(RX, '727539', day);
export const tocilizumab = (day: number): MedicationAdministration => administration(RX, '612865', day);
export const dexamethasone = (day: number): MedicationAdministration => administration(RX, '3264', day);
export const ivig = (day: number): MedicationAdministration =>
  administration('https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox', 'ivig', day);

export function procedure(system: string, code: string, day: number, hour = 11): Procedure {
  return {
    resourceType: 'Procedure',
    id: nextId('proc'),
    status: 'completed',
    code: { coding: [{ system, code }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    performedDateTime: `${dateOf(day)}T${String(hour).padStart(2, '0')}:00:00Z`,
  };
}
export const plateletTransfusion = (day: number, hour = 11): Procedure =>
  procedure('http://snomed.info/sct', '12719002', day, hour);
export const redCellTransfusion = (day: number, hour = 11): Procedure =>
  procedure('http://snomed.info/sct', '116863004', day, hour);
export const unspecifiedTransfusion = (day: number): Procedure =>
  procedure('http://www.ama-assn.org/go/cpt', '36430', day);
export const infusionProcedure = (day: number): Procedure => procedure('http://www.ama-assn.org/go/cpt', '38228', day);

export function crsCondition(grade: number, onsetDay: number, endDay?: number): Condition {
  return {
    resourceType: 'Condition',
    id: nextId('crs'),
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: `D89.83${grade}` }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    onsetDateTime: `${dateOf(onsetDay)}T12:00:00Z`,
    ...(endDay !== undefined ? { abatementDateTime: `${dateOf(endDay)}T12:00:00Z` } : {}),
  };
}

let terminology: Terminology | undefined;
export function testTerminology(local?: LocalCodes): Terminology {
  if (local) return buildTerminology(loadValueSets(), local);
  terminology ??= buildTerminology(loadValueSets());
  return terminology;
}

/** Assesses `resources` on day `asOfDay` (with a patient and an infusion on day 0 unless given). */
export function assessOn(
  asOfDay: number,
  resources: FhirResource[],
  options: Partial<AssessOptions> & { thresholdsFile?: unknown } = {},
): Assessment {
  const all = [...resources];
  if (!all.some((r) => r.resourceType === 'Patient')) all.push(patient());
  const { thresholdsFile, ...rest } = options;
  return assess(all, {
    asOf: dateOf(asOfDay),
    terminology: testTerminology(),
    ...(thresholdsFile ? { thresholds: parseThresholds(thresholdsFile) } : {}),
    ...rest,
  });
}
