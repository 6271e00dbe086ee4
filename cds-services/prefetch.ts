/**
 * The prefetch every hematotoxicity service publishes (patient-view, order-sign, order-select), and
 * the SMART app's reads derived from it, so the app sees what the cards see.
 */
import { LAB_ROLES } from '../src/clinical/observations.js';
import type { Role } from '../src/clinical/terminology.js';
import type { ClinicalContext } from '../src/profiles.js';
import type { SmartAppConfig } from '../src/smart-config.js';

/** `system|code,system|code…` for a token search over the codes of `roles`. */
export function tokenList(clinical: ClinicalContext, roles: readonly Role[]): string {
  const codes = roles.flatMap((role) => clinical.terminology.codesOf(role));
  return [...new Set(codes.map((c) => `${c.system ?? ''}|${c.code ?? ''}`))].map(encodeURIComponent).join(',');
}

/** The prefetch every hematotoxicity service uses: the patient and their CAR-T-relevant record. */
export function hematotoxPrefetch(clinical: ClinicalContext): Record<string, string> {
  return {
    patient: 'Patient/{{context.patientId}}',
    observations: `Observation?patient={{context.patientId}}&code=${tokenList(clinical, LAB_ROLES)}`,
    medicationAdministrations: 'MedicationAdministration?patient={{context.patientId}}',
    procedures: 'Procedure?patient={{context.patientId}}',
    conditions: 'Condition?patient={{context.patientId}}',
  };
}

/** The SMART app reads what the cards read, minus Conditions (not among the app's scopes). */
export function smartAppQueries(clinical: ClinicalContext): SmartAppConfig['queries'] {
  const { patient, observations, medicationAdministrations, procedures } = hematotoxPrefetch(clinical);
  return {
    patient: patient ?? '',
    observations: observations ?? '',
    medicationAdministrations: medicationAdministrations ?? '',
    procedures: procedures ?? '',
  };
}
