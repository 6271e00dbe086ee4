/**
 * The demo FHIR server's CapabilityStatement: the types and search parameters it answers.
 */
import type { CapabilityStatement } from 'fhir/r4.js';

/** The resource types the demo server answers searches for, with their search parameters. */
type ParamType = 'token' | 'reference' | 'date' | 'string';
export const SEARCHED_TYPES: Record<string, [string, ParamType][]> = {
  Patient: [
    ['_id', 'token'],
    ['identifier', 'token'],
    ['name', 'string'],
    ['birthdate', 'date'],
    ['gender', 'token'],
  ],
  Observation: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['date', 'date'],
    ['category', 'token'],
    ['status', 'token'],
  ],
  MedicationAdministration: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['effective-time', 'date'],
    ['status', 'token'],
  ],
  MedicationRequest: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['authoredon', 'date'],
    ['status', 'token'],
  ],
  Procedure: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['date', 'date'],
    ['status', 'token'],
  ],
  Condition: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['onset-date', 'date'],
    ['clinical-status', 'token'],
  ],
  ServiceRequest: [
    ['patient', 'reference'],
    ['subject', 'reference'],
    ['code', 'token'],
    ['authored', 'date'],
    ['status', 'token'],
  ],
  Practitioner: [
    ['_id', 'token'],
    ['name', 'string'],
    ['identifier', 'token'],
  ],
};

/** The CapabilityStatement served at `/metadata`, with `base` as the implementation URL. */
export function capabilityStatement(base: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    software: { name: 'cart-hematotox-cds demo FHIR server (Medplum in-memory repository)' },
    implementation: {
      description: 'Synthetic CAR-T patients for demonstration and tests. No real patient data.',
      url: base,
    },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: { description: 'Open demo server: no authentication, synthetic data only.' },
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: Object.entries(SEARCHED_TYPES).map(([type, params]) => ({
          type,
          interaction: [
            { code: 'read' },
            { code: 'search-type' },
            { code: 'create' },
            { code: 'update' },
            { code: 'delete' },
          ],
          searchParam: params.map(([name, type]) => ({ name, type })),
        })),
      },
    ],
  };
}
