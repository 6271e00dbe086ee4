/**
 * Draft orders in the shape of the CDS Hooks order-sign / order-select examples (hooks docs, R4):
 * a Bundle without `type`, entries that are not for us (a NutritionOrder), and MedicationRequests
 * with narrative, meta, medicationCodeableConcept, dosageInstruction and dispenseRequest. The
 * clinical content is ours: CAR-T follow-up orders.
 */
import type { Bundle, CodeableConcept, MedicationRequest, NutritionOrder, ServiceRequest } from 'fhir/r4.js';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const SNOMED = 'http://snomed.info/sct';

export function nutritionOrder(patientId: string): NutritionOrder {
  return {
    resourceType: 'NutritionOrder',
    id: 'low-bacteria-diet',
    identifier: [{ system: 'http://hospital.example.org/nutrition-requests', value: '123' }],
    status: 'draft',
    intent: 'order',
    patient: { reference: `Patient/${patientId}` },
    dateTime: '2026-11-22',
    orderer: { reference: 'Practitioner/demo-hematologist', display: 'Dr Demo Hematologist' },
    oralDiet: {
      type: [
        {
          coding: [
            {
              system: 'http://hospital.example.org/diet-type-codes',
              code: 'low-bacteria',
              display: 'Low-bacteria diet',
            },
          ],
          text: 'Low-bacteria diet',
        },
      ],
    },
  };
}

function medicationRequest(
  id: string,
  patientId: string,
  medication: CodeableConcept,
  doseText: string,
  dose: { value: number; unit: string; code: string },
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    meta: { lastUpdated: '2026-11-22T09:25:40.845+01:00' },
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${medication.text ?? ''}</div>` },
    status: 'draft',
    intent: 'order',
    medicationCodeableConcept: medication,
    subject: { reference: `Patient/${patientId}` },
    dosageInstruction: [
      {
        text: doseText,
        timing: { repeat: { boundsPeriod: { start: '2026-11-22' }, frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [
          {
            doseQuantity: { value: dose.value, unit: dose.unit, system: 'http://unitsofmeasure.org', code: dose.code },
          },
        ],
      },
    ],
    dispenseRequest: {
      numberOfRepeatsAllowed: 0,
      quantity: { value: 1, unit: 'vial', system: 'http://unitsofmeasure.org', code: '{vial}' },
    },
  };
}

export const tocilizumabOrder = (patientId: string): MedicationRequest =>
  medicationRequest(
    'tocilizumab-1',
    patientId,
    {
      coding: [{ system: RXNORM, code: '1657976', display: 'tocilizumab product (Actemra)' }],
      text: 'Tocilizumab (Actemra) IV',
    },
    '8 mg/kg IV once, may repeat after 8 hours',
    { value: 8, unit: 'mg/kg', code: 'mg/kg' },
  );

/** Dexamethasone ordered through a contained Medication (medicationReference "#…"). */
export function dexamethasoneOrder(patientId: string): MedicationRequest {
  const order = medicationRequest('dexamethasone-1', patientId, { text: 'unused' }, '10 mg IV every 6 hours', {
    value: 10,
    unit: 'mg',
    code: 'mg',
  });
  delete order.medicationCodeableConcept;
  return {
    ...order,
    contained: [
      {
        resourceType: 'Medication',
        id: 'dex',
        code: { coding: [{ system: RXNORM, code: '3264', display: 'dexamethasone' }], text: 'Dexamethasone' },
      },
    ],
    medicationReference: { reference: '#dex' },
  };
}

export const filgrastimOrder = (patientId: string): MedicationRequest =>
  medicationRequest(
    'filgrastim-1',
    patientId,
    { coding: [{ system: RXNORM, code: '68442', display: 'filgrastim' }], text: 'filgrastim' },
    '5 mcg/kg subcutaneously once daily',
    { value: 5, unit: 'ug/kg', code: 'ug/kg' },
  );

export const amoxicillinOrder = (patientId: string): MedicationRequest =>
  medicationRequest(
    'amoxicillin-1',
    patientId,
    { coding: [{ system: RXNORM, code: '723', display: 'amoxicillin' }], text: 'Amoxicillin' },
    '500 mg three times daily',
    {
      value: 500,
      unit: 'mg',
      code: 'mg',
    },
  );

export function transfusionOrder(
  id: string,
  patientId: string,
  product: 'red-cells' | 'platelets',
  extra: Partial<ServiceRequest> = {},
): ServiceRequest {
  const code =
    product === 'red-cells'
      ? {
          coding: [{ system: SNOMED, code: '116863004', display: 'Transfusion of red blood cells' }],
          text: 'Transfuse red blood cells, 1 unit',
        }
      : {
          coding: [{ system: SNOMED, code: '12719002', display: 'Transfusion of platelets' }],
          text: 'Transfuse platelets, 1 adult dose',
        };
  return {
    resourceType: 'ServiceRequest',
    id,
    status: 'draft',
    intent: 'order',
    code,
    subject: { reference: `Patient/${patientId}` },
    requester: { reference: 'Practitioner/demo-hematologist' },
    ...extra,
  };
}

/** The draftOrders Bundle as the hook examples send it (no Bundle.type). */
export function draftOrders(...resources: (MedicationRequest | ServiceRequest | NutritionOrder)[]): Bundle {
  return { resourceType: 'Bundle', entry: resources.map((resource) => ({ resource })) } as Bundle;
}
