/**
 * Draft orders the way EHRs send them: products, not ingredients. Shapes follow the CDS Hooks
 * order-sign examples (medicationCodeableConcept with an RxNorm clinical drug), Epic's FHIR R4
 * MedicationRequest (medicationReference to a Medication whose code carries Epic's own ERX code
 * beside RxNorm codings, with a display), Cerner/Oracle Health's (medicationCodeableConcept with
 * RxNorm plus the order's text), and hospital-local codes that only a name identifies.
 */
import type { Medication, MedicationRequest, ServiceRequest } from 'fhir/r4.js';

export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** Epic's ERX medication code system (an Epic customer OID; the shape, not a real customer's). */
export const EPIC_ERX = 'urn:oid:1.2.840.114350.1.13.0.1.7.2.698288';
const LOCAL = 'urn:oid:1.2.3.4.5.6.7.8.9'; // a hospital's own order catalogue

function base(id: string, patientId: string): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: 'draft',
    intent: 'order',
    subject: { reference: `Patient/${patientId}` },
    authoredOn: '2026-11-22',
    dosageInstruction: [{ text: 'as directed', route: { text: 'Oral' } }],
  };
}

/** CDS Hooks example shape: the RxNorm SCD "dexamethasone 4 MG Oral Tablet" (197582), no ingredient code. */
export const dexamethasoneTabletScd = (patientId: string): MedicationRequest => ({
  ...base('dex-scd', patientId),
  medicationCodeableConcept: {
    coding: [{ system: RXNORM, code: '197582', display: 'dexamethasone 4 MG Oral Tablet' }],
    text: 'dexamethasone 4 MG Oral Tablet',
  },
});

/** Epic shape: a Medication resource read from fhirServer (ERX code, then RxNorm codings). */
export const epicDexamethasoneMedication: Medication = {
  resourceType: 'Medication',
  id: 'eDexTab4mg',
  code: {
    coding: [
      { system: EPIC_ERX, code: '10170', display: 'DEXAMETHASONE 4 MG PO TABS' },
      { system: RXNORM, code: '197582', display: 'dexamethasone 4 MG Oral Tablet' },
    ],
    text: 'DEXAMETHASONE 4 MG PO TABS',
  },
};
export const epicDexamethasoneOrder = (patientId: string): MedicationRequest => ({
  ...base('dex-epic', patientId),
  medicationReference: {
    reference: `Medication/${epicDexamethasoneMedication.id ?? ''}`,
    display: 'DEXAMETHASONE 4 MG PO TABS',
  },
});

/** The Medication travels in the draftOrders Bundle beside the order. */
export const bundledMedication: Medication = {
  resourceType: 'Medication',
  id: 'peg-1',
  code: { coding: [{ system: RXNORM, code: '727539', display: '0.6 ML pegfilgrastim 10 MG/ML Prefilled Syringe' }] },
};
export const pegfilgrastimByReference = (patientId: string): MedicationRequest => ({
  ...base('peg-order', patientId),
  medicationReference: { reference: 'Medication/peg-1' },
});

/** Cerner/Oracle Health shape: RxNorm SBD plus the order sentence's text. */
export const methylprednisoloneTabletSbd = (patientId: string): MedicationRequest => ({
  ...base('mp-sbd', patientId),
  medicationCodeableConcept: {
    coding: [{ system: RXNORM, code: '260330', display: 'methylprednisolone 4 MG Oral Tablet [Medrol]' }],
    text: 'Medrol 4 mg oral tablet',
  },
});

/** Only a local catalogue code: recognised by the ingredient name in text/display. */
export const localCodeDexamethasone = (patientId: string): MedicationRequest => ({
  ...base('dex-local', patientId),
  medicationCodeableConcept: {
    coding: [{ system: LOCAL, code: 'RX-88121', display: 'Dexamethasone 8 mg IV push' }],
    text: 'Dexamethasone 8 mg IV push',
  },
});

/** A local dexamethasone eye drop: not systemic, no card. */
export const localCodeDexamethasoneEyeDrops = (patientId: string): MedicationRequest => ({
  ...base('dex-eye', patientId),
  medicationCodeableConcept: {
    coding: [{ system: LOCAL, code: 'RX-31002', display: 'Dexamethasone 0.1% ophthalmic suspension' }],
    text: 'Dexamethasone 0.1% eye drops',
  },
});

/** A blood bank order by HL7 v2 table 0426 product code (packed cells), not irradiated. */
export const packedCellsV2 = (patientId: string): ServiceRequest => ({
  resourceType: 'ServiceRequest',
  id: 'pc-v2',
  status: 'draft',
  intent: 'order',
  code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0426', code: 'PC', display: 'Packed Cells' }] },
  subject: { reference: `Patient/${patientId}` },
});

/** An ISBT 128 irradiated red cell product (E0398): already irradiated, no card. */
export const irradiatedRedCellsIsbt = (patientId: string): ServiceRequest => ({
  ...packedCellsV2(patientId),
  id: 'rbc-isbt',
  code: {
    coding: [
      {
        system: 'https://www.isbt128.org/uri/ProductDescriptionCode',
        code: 'E0398',
        display: 'RED BLOOD CELLS|CPD>AS5/450mL/refg|Irr|ResLeu',
      },
    ],
  },
});
