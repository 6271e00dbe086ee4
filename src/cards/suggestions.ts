/**
 * Draft FHIR resources offered as card suggestions. They are proposals (status draft, intent
 * proposal) the clinician accepts or not; nothing is ordered by the service.
 *
 * Every code is a standard code an EHR can order by, verified against a public source; where each
 * was verified is listed in docs/clinical-logic.md ("Orderable suggestion codes"). A hospital
 * replaces any of them with its own orderable codes through `resolveOrderables` (orderables.ts).
 */
import type { CodeableConcept, Dosage, MedicationRequest, Quantity, ServiceRequest } from 'fhir/r4.js';
import type { ActionResource, Suggestion } from '../cds-hooks/schemas.js';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
/** HL7 v2 table 0508 Blood Product Processing Requirements (the processing the placer of a blood order requires). */
const V2_0508 = 'http://terminology.hl7.org/CodeSystem/v2-0508';

/** The irradiation requirement of a blood product order, carried in `ServiceRequest.orderDetail`. */
export const IRRADIATED: CodeableConcept = {
  coding: [{ system: V2_0508, code: 'IR', display: 'Irradiated' }],
  text: 'Irradiated',
};

/** EHA/EBMT 2023 (Rejeski et al., Blood 2023;142:865): filgrastim 5 µg/kg/day for neutropenia after CAR-T. */
export const FILGRASTIM_UG_PER_KG = 5;

/** The latest body weight (LOINC 29463-7) the dose in µg is computed from. */
export interface BodyWeight {
  kg: number;
  /** When it was measured (FHIR date or dateTime); the dosage text states it. */
  date: string;
  /** The Observation it comes from, e.g. `Observation/123`. */
  reference: string;
}

const FILGRASTIM: CodeableConcept = {
  coding: [{ system: RXNORM, code: '68442', display: 'filgrastim' }],
  text: 'filgrastim',
};
const SUBCUTANEOUS: CodeableConcept = {
  coding: [{ system: SNOMED, code: '34206005', display: 'Subcutaneous route' }],
  text: 'subcutaneous',
};
const ONCE_DAILY = { frequency: 1, period: 1, periodUnit: 'd' as const };

const note = (text: string): { text: string }[] => [{ text: `Suggested by CAR-T hematotoxicity CDS: ${text}` }];
const reasons = (evidence: string[]): { reference: string }[] => evidence.map((reference) => ({ reference }));

/** A weight a dose can rest on: a finite, positive number of kilograms. */
function usableWeight(weight: BodyWeight | undefined): BodyWeight | undefined {
  return weight && Number.isFinite(weight.kg) && weight.kg > 0 && weight.kg < 500 ? weight : undefined;
}

/**
 * 5 µg/kg in µg: to the nearest 10 µg from 100 µg up, to the whole µg below (children), so the
 * rounding never moves the dose by more than 5 µg (5 %).
 */
export function filgrastimDoseUg(kg: number, perKg = FILGRASTIM_UG_PER_KG): number {
  const exact = perKg * kg;
  return exact >= 100 ? Math.round(exact / 10) * 10 : Math.max(1, Math.round(exact));
}

const ug = (value: number): Quantity => ({ value, unit: 'µg', system: UCUM, code: 'ug' });
const ugPerKg = (value: number): Quantity => ({ value, unit: 'µg/kg', system: UCUM, code: 'ug/kg' });

function filgrastimDosage(startDate: string | undefined, weight: BodyWeight | undefined, perKg: number): Dosage {
  const from = startDate ? ` from ${startDate}` : '';
  const text = weight
    ? `filgrastim ${filgrastimDoseUg(weight.kg, perKg)} µg subcutaneously once daily${from} until neutrophil recovery ` +
      `(${perKg} µg/kg × ${Number(weight.kg.toFixed(1))} kg, body weight of ${weight.date.slice(0, 10)})`
    : `filgrastim ${perKg} µg/kg subcutaneously once daily${from} until neutrophil recovery ` +
      '(no body weight recorded: set the dose in µg from the current weight)';
  return {
    text,
    timing: { repeat: { ...(startDate ? { boundsPeriod: { start: startDate } } : {}), ...ONCE_DAILY } },
    route: SUBCUTANEOUS,
    doseAndRate: [{ doseQuantity: weight ? ug(filgrastimDoseUg(weight.kg, perKg)) : ugPerKg(perKg) }],
  };
}

/**
 * A draft filgrastim order: 5 µg/kg once daily subcutaneously, from `startDate` when given. With a
 * body weight the dose is in µg (5 × kg, rounded) and the weight Observation is cited as
 * supporting information; without one the dose stays per kg.
 */
export function filgrastimRequest(
  patientId: string,
  why: string,
  evidence: string[],
  startDate?: string,
  weight?: BodyWeight,
  /** The dose per kg in force (`actions.filgrastimUgPerKg`, default 5). */
  perKg: number = FILGRASTIM_UG_PER_KG,
): MedicationRequest {
  const w = usableWeight(weight);
  return {
    resourceType: 'MedicationRequest',
    status: 'draft',
    intent: 'proposal',
    medicationCodeableConcept: FILGRASTIM,
    subject: { reference: `Patient/${patientId}` },
    ...(evidence.length > 0 ? { reasonReference: reasons(evidence) } : {}),
    ...(w ? { supportingInformation: [{ reference: w.reference }] } : {}),
    dosageInstruction: [filgrastimDosage(startDate, w, perKg)],
    note: note(why),
  };
}

/** A draft order for a test, procedure or blood product (`orderDetail`: e.g. {@link IRRADIATED}). */
export function serviceRequest(
  patientId: string,
  code: CodeableConcept,
  why: string,
  evidence: string[],
  orderDetail?: CodeableConcept[],
): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    status: 'draft',
    intent: 'proposal',
    code,
    ...(orderDetail ? { orderDetail } : {}),
    subject: { reference: `Patient/${patientId}` },
    ...(evidence.length > 0 ? { reasonReference: reasons(evidence) } : {}),
    note: note(why),
  };
}

// Quantitative viral load in serum or plasma (the specimen the EHA/EBMT work-up monitors), one order each.
const CMV_PCR: CodeableConcept = {
  coding: [
    {
      system: LOINC,
      code: '72493-0',
      display: 'Cytomegalovirus DNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection',
    },
  ],
  text: 'CMV DNA, quantitative PCR, plasma',
};
const EBV_PCR: CodeableConcept = {
  coding: [
    {
      system: LOINC,
      code: '43730-1',
      display: 'Epstein Barr virus DNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection',
    },
  ],
  text: 'EBV DNA, quantitative PCR, plasma',
};
// The LOINC long name of 74420-1 could not be read here; a reference laboratory maps its quantitative
// serum/plasma parvovirus B19 PCR (IU/mL) to it. No display rather than an unverified one.
const PARVOVIRUS_B19_PCR: CodeableConcept = {
  coding: [{ system: LOINC, code: '74420-1' }],
  text: 'Parvovirus B19 DNA, quantitative PCR (IU/mL), serum or plasma',
};
// No LOINC code for a quantitative HHV-6 PCR in serum or plasma could be verified: text only, until
// the hospital configures its own orderable code (orderables.ts, key hhv6Pcr).
const HHV6_PCR: CodeableConcept = { text: 'Human herpesvirus 6 (HHV-6) DNA, quantitative PCR, plasma' };

/** The viral studies of the work-up by key (the keys a hospital configures its own codes under). */
export const VIRAL_PCR = {
  cmvPcr: CMV_PCR,
  ebvPcr: EBV_PCR,
  parvovirusB19Pcr: PARVOVIRUS_B19_PCR,
  hhv6Pcr: HHV6_PCR,
} satisfies Record<string, CodeableConcept>;

export const CODES = {
  redCells: {
    coding: [{ system: SNOMED, code: '116863004', display: 'Transfusion of red blood cells' }],
    text: 'Red cell transfusion',
  },
  platelets: {
    coding: [{ system: SNOMED, code: '12719002', display: 'Platelet transfusion' }],
    text: 'Platelet transfusion',
  },
  igg: {
    coding: [{ system: LOINC, code: '2465-3', display: 'IgG [Mass/volume] in Serum or Plasma' }],
    text: 'Serum IgG',
  },
  ferritin: {
    coding: [{ system: LOINC, code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma' }],
    text: 'Ferritin',
  },
  // Bone marrow sampling covers the aspirate and the trephine biopsy taken together.
  marrow: {
    coding: [{ system: SNOMED, code: '234326005', display: 'Bone marrow sampling' }],
    text: 'Bone marrow aspirate and trephine biopsy',
  },
  /** One order per virus: CMV, EBV, parvovirus B19, HHV-6. */
  viralPcr: [VIRAL_PCR.cmvPcr, VIRAL_PCR.ebvPcr, VIRAL_PCR.parvovirusB19Pcr, VIRAL_PCR.hhv6Pcr],
  // With the automated differential: the ANC is what the cards act on, and the plain CBC panel
  // (58410-2) has no neutrophil count.
  cbc: {
    coding: [{ system: LOINC, code: '57021-8', display: 'CBC W Auto Differential panel - Blood' }],
    text: 'Complete blood count with differential',
  },
} satisfies Record<string, CodeableConcept | CodeableConcept[]>;

export function createSuggestion(
  uuid: string,
  label: string,
  description: string,
  resource: MedicationRequest | ServiceRequest,
): Suggestion {
  return { label, uuid, actions: [{ type: 'create', description, resource: asActionResource(resource) }] };
}

export function updateSuggestion(
  uuid: string,
  label: string,
  description: string,
  resource: MedicationRequest | ServiceRequest,
): Suggestion {
  return { label, uuid, actions: [{ type: 'update', description, resource: asActionResource(resource) }] };
}

/** FHIR resources go into the protocol's loosely typed `resource` field as they are. */
function asActionResource(resource: MedicationRequest | ServiceRequest): ActionResource {
  return resource as unknown as ActionResource;
}
