/**
 * Draft FHIR resources offered as card suggestions. They are proposals (status draft, intent
 * proposal) the clinician accepts or not; nothing is ordered by the service.
 */
import type { CodeableConcept, MedicationRequest, ServiceRequest } from 'fhir/r4.js';
import type { ActionResource, Suggestion } from '../cds-hooks/schemas.js';
import { LOCAL_SYSTEM } from '../clinical/terminology.js';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';

export const IRRADIATED: CodeableConcept = {
  coding: [{ system: LOCAL_SYSTEM, code: 'irradiated', display: 'Irradiated blood product' }],
  text: 'Irradiated',
};

const note = (text: string): { text: string }[] => [{ text: `Suggested by CAR-T hematotoxicity CDS: ${text}` }];
const reasons = (evidence: string[]): { reference: string }[] => evidence.map((reference) => ({ reference }));

export function filgrastimRequest(
  patientId: string,
  why: string,
  evidence: string[],
  startDate?: string,
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    status: 'draft',
    intent: 'proposal',
    medicationCodeableConcept: {
      coding: [{ system: RXNORM, code: '68442', display: 'filgrastim' }],
      text: 'filgrastim',
    },
    subject: { reference: `Patient/${patientId}` },
    ...(evidence.length > 0 ? { reasonReference: reasons(evidence) } : {}),
    dosageInstruction: [
      {
        text: `filgrastim 5 µg/kg subcutaneously once daily${startDate ? ` from ${startDate}` : ''} until neutrophil recovery`,
        ...(startDate
          ? {
              timing: {
                repeat: { boundsPeriod: { start: startDate }, frequency: 1, period: 1, periodUnit: 'd' as const },
              },
            }
          : {}),
      },
    ],
    note: note(why),
  };
}

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

export const CODES = {
  redCells: {
    coding: [{ system: SNOMED, code: '116863004', display: 'Transfusion of red blood cells' }],
    text: 'Red cell transfusion',
  },
  platelets: {
    coding: [{ system: SNOMED, code: '12719002', display: 'Transfusion of platelets' }],
    text: 'Platelet transfusion',
  },
  igg: { coding: [{ system: LOINC, code: '2465-3', display: 'IgG [Mass/volume] in Serum' }], text: 'Serum IgG' },
  ferritin: {
    coding: [{ system: LOINC, code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma' }],
    text: 'Ferritin',
  },
  marrow: {
    coding: [
      {
        system: LOCAL_SYSTEM,
        code: 'marrow-evaluation',
        display: 'Bone marrow aspirate and biopsy for cytopenia after CAR-T',
      },
    ],
    text: 'Bone marrow aspirate and biopsy',
  },
  viral: {
    coding: [{ system: LOCAL_SYSTEM, code: 'viral-studies', display: 'Viral PCR: CMV, EBV, parvovirus B19, HHV-6' }],
    text: 'Viral PCR: CMV, EBV, parvovirus B19, HHV-6',
  },
  cbc: {
    coding: [
      { system: LOCAL_SYSTEM, code: 'cbc-with-differential', display: 'Complete blood count with differential' },
    ],
    text: 'Complete blood count with differential',
  },
} satisfies Record<string, CodeableConcept>;

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
