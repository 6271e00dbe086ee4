/**
 * patient-view: hematologic toxicity after CAR-T.
 */
import type { CdsServiceDefinition } from '../src/cds-hooks/service.js';
import type { Role } from '../src/clinical/terminology.js';
import type { ServiceDeps } from './deps.js';
import type { ClinicalContext } from '../src/profiles.js';
import type { SmartAppConfig } from '../src/smart-config.js';
import { patientViewCards } from '../src/cards/patient-view.js';
import { assessPrefetched, cardContext } from './assessment.js';

/** Lab roles the assessment reads, published as the Observation prefetch's code list. */
export const OBSERVATION_ROLES: readonly Role[] = [
  'anc', 'platelets', 'hemoglobin', 'wbc', 'lymphocytes', 'igg', 'iga', 'igm', 'cd19', 'cd4', 'cd8', 'cd4-cd8-ratio',
  'ferritin', 'crp', 'il6', 'il10', 'ifn-gamma', 'd-dimer', 'fibrinogen', 'ldh', 'body-temperature', 'crs-grade-observation',
];

/** `system|code,system|code…` for a token search over the codes of `roles`. */
export function tokenList(clinical: ClinicalContext, roles: readonly Role[]): string {
  const codes = roles.flatMap((role) => clinical.terminology.codesOf(role));
  return [...new Set(codes.map((c) => `${c.system ?? ''}|${c.code ?? ''}`))].map(encodeURIComponent).join(',');
}

/** The prefetch every hematotoxicity service uses: the patient and their CAR-T-relevant record. */
export function hematotoxPrefetch(clinical: ClinicalContext): Record<string, string> {
  return {
    patient: 'Patient/{{context.patientId}}',
    observations: `Observation?patient={{context.patientId}}&code=${tokenList(clinical, OBSERVATION_ROLES)}`,
    medicationAdministrations: 'MedicationAdministration?patient={{context.patientId}}',
    procedures: 'Procedure?patient={{context.patientId}}',
    conditions: 'Condition?patient={{context.patientId}}',
  };
}

/** The SMART app reads what the cards read, minus Conditions (not among the app's scopes). */
export function smartAppQueries(clinical: ClinicalContext): SmartAppConfig['queries'] {
  const { patient, observations, medicationAdministrations, procedures } = hematotoxPrefetch(clinical);
  return { patient: patient ?? '', observations: observations ?? '', medicationAdministrations: medicationAdministrations ?? '', procedures: procedures ?? '' };
}

export const PATIENT_VIEW_ID = 'cart-hematotox-patient-view';

export function patientViewService(clinical: ClinicalContext): CdsServiceDefinition<'patient-view', ServiceDeps> {
  return {
    id: PATIENT_VIEW_ID,
    hook: 'patient-view',
    title: 'CAR-T hematotoxicity',
    description:
      'For patients after CAR-T cell therapy: severe and prolonged cytopenia (CTCAE v5, EHA/EBMT ICAHT), recovery, immunoglobulins and CAR-HEMATOTOX, with G-CSF, transfusion, IVIG and work-up advice.',
    prefetch: hematotoxPrefetch(clinical),
    requiredPrefetch: ['observations', 'medicationAdministrations', 'procedures'],
    dateBoundedPrefetch: { observations: 'date' },
    handler: async ({ context, data }, deps) => {
      const assessment = assessPrefetched(data, context.patientId, deps, true);
      const cards = patientViewCards(assessment, deps.clinical.thresholds, cardContext(PATIENT_VIEW_ID, context.patientId, deps));
      deps.log.debug({ infused: assessment.infusionDate !== null, cards: cards.length }, 'patient-view assessed');
      return Promise.resolve({ cards });
    },
  };
}
