/**
 * patient-view: hematologic toxicity after CAR-T.
 */
import type { CdsServiceDefinition } from '../src/cds-hooks/service.js';
import type { ServiceDeps } from '../src/service-deps.js';
import type { ClinicalContext } from '../src/profiles.js';
import { patientViewCards } from '../src/cards/patient-view.js';
import { assessPrefetched, cardContext, withRecordMedications } from './assessment.js';
import { hematotoxPrefetch, observationSearches } from './prefetch.js';

export const PATIENT_VIEW_ID = 'cart-hematotox-patient-view';

export function patientViewService(clinical: ClinicalContext): CdsServiceDefinition<'patient-view', ServiceDeps> {
  return {
    id: PATIENT_VIEW_ID,
    hook: 'patient-view',
    title: 'CAR-T hematotoxicity',
    description:
      'For patients after CAR-T cell therapy: severe and prolonged cytopenia (CTCAE v5, EHA/EBMT ICAHT), recovery, immunoglobulins and CAR-HEMATOTOX, with G-CSF, transfusion, IVIG and work-up advice.',
    prefetch: hematotoxPrefetch(clinical),
    fetchAs: { observations: observationSearches(clinical) },
    requiredPrefetch: ['observations', 'medicationAdministrations', 'procedures'],
    dateBoundedPrefetch: { observations: 'date' },
    handler: async ({ context, data, fhir }, deps) => {
      const assessment = assessPrefetched(await withRecordMedications(data, fhir), context.patientId, deps, true);
      const cards = patientViewCards(
        assessment,
        deps.clinical.thresholds,
        cardContext(PATIENT_VIEW_ID, context.patientId, deps),
        deps.clinical.terminology,
      );
      deps.log.debug({ infused: assessment.infusionDate !== null, cards: cards.length }, 'patient-view assessed');
      return { cards };
    },
  };
}
