/**
 * What the hematotoxicity services read: the prefetch patient-view publishes (order-sign and
 * order-select read the same keys but publish none, see order-service.ts), the searches the
 * services split the Observation key into when they read it themselves, and the SMART app's reads
 * derived from the prefetch, so the app sees what the cards see.
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

/**
 * The daily blood counts: most of a patient's lab volume, so each gets its own search when the
 * service reads Observations itself; immunoglobulins and lymphocyte subsets share one, the other
 * lab roles (inflammatory markers, temperature, CRS grade) another.
 */
const OWN_SEARCH_ROLES: readonly Role[] = ['anc', 'platelets', 'hemoglobin', 'wbc', 'lymphocytes'];
const IMMUNE_ROLES: readonly Role[] = ['igg', 'iga', 'igm', 'cd19', 'cd4', 'cd8', 'cd4-cd8-ratio'];

/**
 * The Observation key as several searches of disjoint code groups that together cover the same
 * codes as the published template. Run concurrently, no page waits for another page: the time of
 * the call is that of the largest group, not the sum of every page.
 */
export function observationSearches(clinical: ClinicalContext): string[] {
  const rest = LAB_ROLES.filter((role) => !OWN_SEARCH_ROLES.includes(role) && !IMMUNE_ROLES.includes(role));
  const immune = LAB_ROLES.filter((role) => IMMUNE_ROLES.includes(role));
  return [...OWN_SEARCH_ROLES.map((role) => [role]), immune, rest]
    .map((roles) => tokenList(clinical, roles))
    .filter((tokens) => tokens.length > 0)
    .map((tokens) => `Observation?patient={{context.patientId}}&code=${tokens}`);
}

/** The SMART app reads what the cards read (Conditions only when the granted scopes allow it). */
export function smartAppQueries(clinical: ClinicalContext): SmartAppConfig['queries'] {
  const { patient, observations, medicationAdministrations, procedures, conditions } = hematotoxPrefetch(clinical);
  return {
    patient: patient ?? '',
    observations: observations ?? '',
    medicationAdministrations: medicationAdministrations ?? '',
    procedures: procedures ?? '',
    conditions: conditions ?? '',
  };
}
